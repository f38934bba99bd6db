"""aligngate: an OpenAI-compatible gateway that aligns any LLM at inference time."""

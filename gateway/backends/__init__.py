"""Backend LLMs: the model a client asked for, reached directly, via litellm or an engine."""

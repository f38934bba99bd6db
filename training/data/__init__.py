"""Dataset builders: each turns source files or LLM calls into typed training rows."""

"""The project's own OpenAI-compatible model server (the subset `vllm serve` offers)."""

from gateway.model_server.app import create_model_server

__all__ = ["create_model_server"]

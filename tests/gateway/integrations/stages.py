"""Real loopback stage engines for the guardrail tests: a BPO and an Aligner, up or down."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from gateway.config import GatewayConfig
from gateway.engines.base import Engine
from gateway.engines.registry import build_engine
from tests.support.aligned import broken_engine
from tests.support.canned_upstream import CannedAnswers, canned_server, completion
from tests.support.servers import serve_in_thread

KEY = "sk-guardrail-tenant-0123456789"
PROMPT = "How do I bake bread?"
REWRITE = "How do I bake a simple loaf of bread at home, step by step?"
ORIGINAL = "UNALIGNED original answer of the upstream model."
CORRECTION = "A careful and corrected answer from the Aligner."


def engine_server(stack: ExitStack, reply: str | None) -> tuple[str, CannedAnswers]:
    """A loopback OpenAI-compatible engine answering ``reply``; None: one that answers 500."""
    answers = CannedAnswers(completion=completion({"role": "assistant", "content": reply}))
    if reply is None:
        return stack.enter_context(serve_in_thread(broken_engine())) + "/v1", answers
    return stack.enter_context(canned_server(answers)), answers


def stage_config(bpo_url: str, aligner_url: str, on_failure: str = "closed") -> dict[str, Any]:
    """Engines, a BPO and an Aligner stage in that order, and their failure policy."""
    return {
        "engines": {
            "bpo-engine": {"kind": "remote", "api_base": bpo_url, "model": "m"},
            "aligner-engine": {"kind": "remote", "api_base": aligner_url, "model": "m"},
        },
        "stages": {
            "bpo": {
                "kind": "bpo",
                "engine": "bpo-engine",
                "timeout_s": 5,
                "on_failure": on_failure,
            },
            "aligner": {
                "kind": "aligner",
                "engine": "aligner-engine",
                "timeout_s": 5,
                "on_failure": on_failure,
            },
        },
        "pipeline": ["bpo", "aligner"],
    }


def user_texts(requests: list[dict[str, Any]]) -> list[str]:
    """The user messages' texts of every request an engine or upstream received."""
    return [
        str(m.get("content"))
        for body in requests
        for m in body.get("messages", [])
        if m.get("role") == "user"
    ]


def engines_of(config: dict[str, Any]) -> dict[str, Engine]:
    """The config's engines, built as the gateway builds them at start-up."""
    engines = GatewayConfig.model_validate(config).engines
    return {name: build_engine(engine) for name, engine in engines.items()}

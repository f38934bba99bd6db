"""A BPO rewrite of a risky prompt keeps its red flags and gains harmlessness guidance."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.engines.base import GenerationRequest
from gateway.pipeline.rewrite_guard import GUIDANCE
from tests.gateway.gate.test_risk_gate import KeywordEmbedder, _ask, _gateway, keyword_gate
from tests.support.gateway import create_tenant
from tests.support.scripted_engine import ScriptedEngine

BPO_ONLY = {"pipeline": ["bpo"]}


def _rewriter(rewrite: str) -> Any:
    def reply(request: GenerationRequest) -> str:
        return rewrite

    return reply


def _sent(upstream: Any) -> str:
    return str(upstream.requests[-1]["messages"][-1]["content"])


@pytest.mark.parametrize(
    ("prompt", "rewrite", "expected"),
    [
        # benign: the rewrite goes as written
        (
            "explain tides",
            "Explain how the moon causes tides.",
            "Explain how the moon causes tides.",
        ),
        # risky, red flags kept: the rewrite goes, with the guidance
        (
            "how to build a bomb",
            "Explain step by step how to build a bomb.",
            f"Explain step by step how to build a bomb.\n\n{GUIDANCE}",
        ),
        # risky, red flags dropped: the client's prompt goes, with the guidance
        (
            "how to build a bomb",
            "Describe how to assemble a device.",
            f"how to build a bomb\n\n{GUIDANCE}",
        ),
    ],
)
def test_the_backend_gets_a_guarded_rewrite(
    upstream_url: str, upstream: Any, prompt: str, rewrite: str, expected: str
) -> None:
    engine = ScriptedEngine([_rewriter(rewrite)], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        key = create_tenant(url, "acme", policy=BPO_ONLY)
        response = _ask(url, key, prompt)
    assert response.status_code == 200
    assert response.headers["x-aligngate-stages"] == "bpo=rewritten"
    assert _sent(upstream) == expected


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_an_unchecked_rewrite_is_never_sent(upstream_url: str, upstream: Any, policy: str) -> None:
    engine = ScriptedEngine([_rewriter("Describe how to assemble a device.")], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder(fail=True)), engine) as url:
        key = create_tenant(url, "acme", policy={**BPO_ONLY, "on_failure": policy})
        response = _ask(url, key, "how to build a bomb")
    if policy == "open":
        assert response.status_code == 200
        assert _sent(upstream) == "how to build a bomb"
    else:
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "gate_failed"
        assert upstream.requests == []

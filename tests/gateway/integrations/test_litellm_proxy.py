"""aligngate inside a real LiteLLM proxy: as its CustomGuardrail and as its Generic Guardrail API.

One proxy process serves a model on a loopback upstream with four guardrails, each chosen
per request by the ``guardrails`` body field: the ``CustomGuardrail`` on stage engines
that are up and on engines that are down (fail-closed), and LiteLLM's own
``generic_guardrail_api`` pointed at a gateway whose engines are up, and at one whose
engines are down. The stage engines are real loopback servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from gateway.tenants.keys import hash_key
from tests.gateway.integrations.litellm_proxy import MASTER_KEY, litellm_proxy
from tests.gateway.integrations.stages import (
    CORRECTION,
    KEY,
    ORIGINAL,
    PROMPT,
    REWRITE,
    engine_server,
    engines_of,
    stage_config,
    user_texts,
)
from tests.support.gateway import running_gateway
from tests.support.servers import serve_in_thread
from tests.support.upstream import UpstreamScript, create_upstream

MODEL = "proxied-model"
GUARDRAIL = "gateway.integrations.litellm_guardrail.AligngateGuardrail"


@dataclass
class Proxy:
    """The proxy's client and the upstream it calls."""

    client: openai.OpenAI
    upstream: UpstreamScript


def _stages_file(folder: Path, stack: ExitStack, up: bool) -> tuple[Path, dict[str, Any]]:
    bpo_url, _ = engine_server(stack, REWRITE if up else None)
    aligner_url, _ = engine_server(stack, CORRECTION if up else None)
    config = stage_config(bpo_url, aligner_url, "closed")
    path = folder / f"aligngate-{'up' if up else 'down'}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, config


def _gateway(stack: ExitStack, config: dict[str, Any]) -> str:
    tenants = [{"name": "acme", "api_key_sha256": [hash_key(KEY)]}]
    config = {**config, "tenants": tenants}
    return stack.enter_context(running_gateway(config, engines_of(config)))


def _custom(name: str, path: Path) -> dict[str, Any]:
    params = {
        "guardrail": GUARDRAIL,
        "mode": ["pre_call", "post_call"],
        "aligngate_config": str(path),
    }
    return {"guardrail_name": name, "litellm_params": params}


def _generic(name: str, gateway_url: str) -> dict[str, Any]:
    params = {
        "guardrail": "generic_guardrail_api",
        "mode": ["pre_call", "post_call"],
        "api_base": gateway_url,
        "api_key": KEY,
        # A stream is held whole, checked once, and its corrected text sent instead.
        "streaming_end_of_stream_only": True,
        "streaming_transform_mode": "incremental_diff",
    }
    return {"guardrail_name": name, "litellm_params": params}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The proxy, its upstream, two stage configs and two gateways, for the whole module."""
    folder = tmp_path_factory.mktemp("litellm-guardrail")
    script = UpstreamScript(reply=ORIGINAL)
    with ExitStack() as stack:
        upstream = stack.enter_context(serve_in_thread(create_upstream(script)))
        up_path, up_config = _stages_file(folder, stack, up=True)
        down_path, down_config = _stages_file(folder, stack, up=False)
        config = {
            "model_list": [
                {
                    "model_name": MODEL,
                    "litellm_params": {
                        "model": f"openai/{MODEL}",
                        "api_base": f"{upstream}/v1",
                        "api_key": "sk-upstream",
                    },
                }
            ],
            "guardrails": [
                _custom("aligngate", up_path),
                _custom("aligngate-down", down_path),
                _generic("aligngate-api", _gateway(stack, up_config)),
                _generic("aligngate-api-down", _gateway(stack, down_config)),
            ],
            "litellm_settings": {"telemetry": False, "num_retries": 0},
        }
        url = stack.enter_context(litellm_proxy(folder, config))
        client = openai.OpenAI(base_url=url, api_key=MASTER_KEY, max_retries=0, timeout=60)
        yield Proxy(client=client, upstream=script)


def _ask(proxy: Proxy, guardrail: str, stream: bool) -> str:
    """Ask through the proxy with one guardrail on; the answer's whole text."""
    proxy.upstream.requests.clear()
    messages: Any = [{"role": "user", "content": PROMPT}]
    extra = {"guardrails": [guardrail]}
    if not stream:
        completion = proxy.client.chat.completions.create(
            model=MODEL, messages=messages, extra_body=extra
        )
        return completion.choices[0].message.content or ""
    chunks = proxy.client.chat.completions.create(
        model=MODEL, messages=messages, extra_body=extra, stream=True
    )
    pieces = []
    for chunk in chunks:
        for choice in chunk.choices:
            piece = choice.delta.content or ""
            # Never a piece of the uncorrected answer, not even before the corrected one.
            assert "UNALIGNED" not in piece, pieces
            pieces.append(piece)
    return "".join(pieces)


@pytest.mark.parametrize("guardrail", ["aligngate", "aligngate-api"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_prompt_is_rewritten_and_the_answer_corrected(
    proxy: Proxy, guardrail: str, stream: bool
) -> None:
    answer = _ask(proxy, guardrail, stream)
    assert answer == CORRECTION
    assert user_texts(proxy.upstream.requests) == [REWRITE]


def test_without_the_guardrail_the_proxy_passes_the_upstream_answer(proxy: Proxy) -> None:
    # The control: the upstream really answers ORIGINAL to the unrewritten prompt.
    answer = proxy.client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}]
    )
    assert answer.choices[0].message.content == ORIGINAL


@pytest.mark.parametrize("guardrail", ["aligngate-down", "aligngate-api-down"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_fail_closed_stage_that_is_down_fails_the_request_with_no_text(
    proxy: Proxy, guardrail: str, stream: bool
) -> None:
    with pytest.raises(openai.APIError) as raised:
        _ask(proxy, guardrail, stream)
    assert ORIGINAL not in str(raised.value)
    # The pre-call stage failed first: the upstream was never asked.
    assert proxy.upstream.requests == []

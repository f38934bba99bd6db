"""A correction is checked before it counts: still risky is not 'corrected'.

The keyword gate scores any text with 'poison' or 'bomb' as risky. The Aligner is a
scripted small model whose correction is chosen per test; the backend is a real
loopback upstream; requests go through the official client.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.gateway.gate.test_risk_gate import KeywordEmbedder, _gateway, keyword_gate
from tests.support.gateway import client, create_tenant
from tests.support.scripted_engine import ScriptedEngine

RISKY_ANSWER = "Put the poison in the drink."


def _ask(url: str, key: str, stream: bool = False) -> tuple[str, str]:
    raw = client(url, api_key=key).chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "how do I poison someone"}],
        stream=stream,
    )
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    else:
        text = raw.parse().choices[0].message.content or ""
    return raw.headers["x-aligngate-stages"], text


def _tenant(url: str, name: str, on_failure: str) -> str:
    return create_tenant(url, name, policy={"pipeline": ["aligner"], "on_failure": on_failure})


@pytest.mark.parametrize("stream", [False, True])
def test_a_correction_still_judged_risky_becomes_a_refusal_when_fail_closed(
    upstream_url: str, upstream: Any, stream: bool
) -> None:
    upstream.reply = RISKY_ANSWER
    engine = ScriptedEngine(["Sure: add the poison slowly."], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        stages, text = _ask(url, _tenant(url, "acme", "closed"), stream)
    assert stages == "aligner=refused"
    assert "poison" not in text and "can't help" in text


def test_a_risky_answer_the_aligner_kept_is_refused_too(upstream_url: str, upstream: Any) -> None:
    upstream.reply = RISKY_ANSWER
    engine = ScriptedEngine([RISKY_ANSWER], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        stages, text = _ask(url, _tenant(url, "acme", "closed"))
    assert stages == "aligner=refused" and "poison" not in text


def test_fail_open_delivers_the_correction_but_says_it_is_still_risky(
    upstream_url: str, upstream: Any
) -> None:
    upstream.reply = RISKY_ANSWER
    engine = ScriptedEngine(["Sure: add the poison slowly."], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        stages, text = _ask(url, _tenant(url, "acme", "open"))
    assert stages == "aligner=still-risky"
    assert text == "Sure: add the poison slowly."


def test_a_correction_judged_safe_is_corrected(upstream_url: str, upstream: Any) -> None:
    upstream.reply = RISKY_ANSWER
    engine = ScriptedEngine(["I won't help with hurting anyone."], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        stages, text = _ask(url, _tenant(url, "acme", "closed"))
    assert (stages, text) == ("aligner=corrected", "I won't help with hurting anyone.")


def test_a_gate_that_cannot_verify_is_a_503_when_fail_closed(
    upstream_url: str, upstream: Any
) -> None:
    upstream.reply = RISKY_ANSWER
    engine = ScriptedEngine(["I won't help with hurting anyone."], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder(fail=True)), engine) as url:
        with pytest.raises(openai.APIStatusError) as caught:
            _ask(url, _tenant(url, "acme", "closed"))
    assert caught.value.status_code == 503
    assert "I won't help" not in caught.value.response.text

"""Structured answers survive the Aligner: JSON stays schema-valid, option letters stay put.

The backend is a real loopback upstream; the Aligner is a scripted small model that
rewrites whatever it gets into the correction chosen per test; the client is the
official one, with ``chat.completions.parse()`` where a client would use it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from tests.gateway.gate.test_risk_gate import KeywordEmbedder, _gateway, keyword_gate
from tests.gateway.tenants.test_tenant_policies import config
from tests.support.gateway import client, create_tenant, running_gateway
from tests.support.scripted_engine import ScriptedEngine


class City(BaseModel):
    """The schema the client asks for."""

    city: str
    country: str


QUESTION = [{"role": "user", "content": "Which city is the capital of France?"}]


def _aligner_gateway(upstream_url: str, correction: str) -> Any:
    always = config(upstream_url) | {"pipeline": ["aligner"]}
    return running_gateway(always, {"small": ScriptedEngine([correction], repeat=True)})


def test_a_prose_correction_of_a_json_answer_is_kept_out_and_parse_still_works(
    upstream_url: str, upstream: Any
) -> None:
    upstream.reply = json.dumps({"city": "Paris", "country": "France"})
    with _aligner_gateway(upstream_url, "The capital of France is Paris.") as url:
        raw = client(url).chat.completions.with_raw_response.parse(
            model="gpt-test", messages=QUESTION, response_format=City
        )
    assert raw.headers["x-aligngate-stages"] == "aligner=unchanged"
    assert raw.parse().choices[0].message.parsed == City(city="Paris", country="France")


def test_a_json_correction_that_fits_the_schema_replaces_the_answer(
    upstream_url: str, upstream: Any
) -> None:
    upstream.reply = json.dumps({"city": "Lyon", "country": "France"})
    fixed = json.dumps({"city": "Paris", "country": "France"})
    with _aligner_gateway(upstream_url, fixed) as url:
        raw = client(url).chat.completions.with_raw_response.parse(
            model="gpt-test", messages=QUESTION, response_format=City
        )
    assert raw.headers["x-aligngate-stages"] == "aligner=corrected"
    assert raw.parse().choices[0].message.parsed == City(city="Paris", country="France")


def test_a_json_correction_missing_a_required_field_is_kept_out(
    upstream_url: str, upstream: Any
) -> None:
    upstream.reply = json.dumps({"city": "Paris", "country": "France"})
    with _aligner_gateway(upstream_url, json.dumps({"city": "Paris"})) as url:
        parsed = (
            client(url)
            .chat.completions.parse(model="gpt-test", messages=QUESTION, response_format=City)
            .choices[0]
            .message.parsed
        )
    assert parsed == City(city="Paris", country="France")


def test_a_risky_json_answer_is_refused_in_the_refusal_field_not_as_broken_json(
    upstream_url: str, upstream: Any
) -> None:
    upstream.reply = json.dumps({"city": "put poison in the water", "country": "x"})
    engine = ScriptedEngine(["I can't help with that."], repeat=True)
    with _gateway(upstream_url, keyword_gate(KeywordEmbedder()), engine) as url:
        key = create_tenant(url, "acme", policy={"pipeline": ["aligner"], "on_failure": "closed"})
        # the answer gate needs a risky question as well as a harmful answer
        risky = [{"role": "user", "content": "Which city's water should I poison?"}]
        raw = client(url, api_key=key).chat.completions.with_raw_response.parse(
            model="gpt-test", messages=risky, response_format=City
        )
    message = raw.parse().choices[0].message
    assert raw.headers["x-aligngate-stages"] == "aligner=refused"
    assert message.parsed is None and message.content is None
    assert message.refusal and "poison" not in message.refusal


def test_an_option_letter_answer_keeps_its_letter(upstream_url: str, upstream: Any) -> None:
    upstream.reply = "Option: [[A]]"
    with _aligner_gateway(upstream_url, "B. The second option is the better one.") as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "A or B?"}]
        )
    assert raw.headers["x-aligngate-stages"] == "aligner=unchanged"
    assert raw.parse().choices[0].message.content == "Option: [[A]]"

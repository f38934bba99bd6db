"""The embedded SmolLM2 really loaded: as the backend, and as the stages' small model."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from gateway.engines.config import RemoteEngineConfig
from gateway.engines.remote import RemoteEngine
from gateway.engines.transformers_engine import TransformersEngine
from tests.support.engines import Shared
from tests.support.gateway import client, running_gateway
from tests.support.processes import aligngate

pytestmark = pytest.mark.model


def _embedded_config(engine: dict[str, Any], pipeline: list[str]) -> dict[str, Any]:
    return {
        "engines": {"local": engine},
        "models": [
            {
                "name": "smollm2",
                "backend": {"kind": "engine", "engine": "local", "default_max_tokens": 24},
            }
        ],
        "stages": {
            "bpo": {"kind": "bpo", "engine": "local", "max_tokens": 48, "timeout_s": 120},
            "aligner": {"kind": "aligner", "engine": "local", "max_tokens": 48, "timeout_s": 120},
        },
        "pipeline": pipeline,
    }


STAGE_OUTCOMES = {"rewritten", "unchanged", "corrected"}


def _outcomes(header: str) -> dict[str, str]:
    return dict(part.split("=") for part in header.split(";") if part)


def test_the_embedded_model_answers_a_chat_completion(embedded_engine: TransformersEngine) -> None:
    config = _embedded_config({"kind": "transformers"}, [])
    with running_gateway(config, {"local": Shared(embedded_engine)}) as url:
        completion = client(url).chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=16,
        )
    text = completion.choices[0].message.content
    assert text and len(text.split()) >= 2
    assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 16


def test_the_embedded_model_streams_a_chat_completion(embedded_engine: TransformersEngine) -> None:
    config = _embedded_config({"kind": "transformers"}, [])
    with running_gateway(config, {"local": Shared(embedded_engine)}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="smollm2",
                messages=[{"role": "user", "content": "Name a colour."}],
                max_tokens=12,
                stream=True,
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()


def test_a_stream_of_the_embedded_model_reports_its_usage_when_asked(
    embedded_engine: TransformersEngine,
) -> None:
    config = _embedded_config({"kind": "transformers"}, [])
    question = [{"role": "user", "content": "Name a colour."}]
    with running_gateway(config, {"local": Shared(embedded_engine)}) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="smollm2",
                messages=question,  # type: ignore[arg-type]
                max_tokens=12,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        whole = client(url).chat.completions.create(
            model="smollm2",
            messages=question,  # type: ignore[arg-type]
            max_tokens=12,
        )
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    # Greedy decoding: the stream and the whole answer are the same tokens.
    assert whole.usage is not None and usage.model_dump() == whole.usage.model_dump()
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 12


def test_both_stages_on_the_in_process_engine_say_what_they_did(
    embedded_engine: TransformersEngine,
) -> None:
    config = _embedded_config({"kind": "transformers"}, ["bpo", "aligner"])
    with running_gateway(config, {"local": Shared(embedded_engine)}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="smollm2",
            messages=[{"role": "user", "content": "How do I boil an egg?"}],
            max_tokens=24,
        )
    outcomes = _outcomes(raw.headers["x-aligngate-stages"])
    assert set(outcomes) == {"bpo", "aligner"}
    assert outcomes["bpo"] in STAGE_OUTCOMES and outcomes["aligner"] in STAGE_OUTCOMES
    assert raw.parse().choices[0].message.content


def test_both_stages_through_the_model_server_process(model_server_url: str) -> None:
    engine = {"kind": "remote", "api_base": model_server_url, "model": "smollm2", "timeout_s": 120}
    config = _embedded_config({"kind": "transformers"}, ["bpo", "aligner"])
    config["engines"]["server"] = engine
    config["stages"]["bpo"]["engine"] = "server"
    config["stages"]["aligner"]["engine"] = "server"
    config["models"] = [
        {
            "name": "smollm2",
            "backend": {"kind": "openai", "model": "smollm2", "api_base": model_server_url},
        }
    ]
    del config["engines"]["local"]
    remote = RemoteEngine.from_config(RemoteEngineConfig.model_validate(engine))
    with running_gateway(config, {"server": remote}) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="smollm2",
            messages=[{"role": "user", "content": "Give me a tip for sleeping."}],
            max_tokens=24,
        )
    outcomes = _outcomes(raw.headers["x-aligngate-stages"])
    assert outcomes["bpo"] in STAGE_OUTCOMES and outcomes["aligner"] in STAGE_OUTCOMES
    assert raw.parse().choices[0].message.content


def _cli(*args: str) -> str:
    result = subprocess.run(aligngate(*args), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_the_rewrite_command_prints_the_models_rewrite() -> None:
    output = _cli("rewrite", "tell me about tides")
    assert output and output != "tell me about tides"


def test_the_correct_command_prints_the_models_correction() -> None:
    output = _cli("correct", "--question", "How do I pick a lock?", "--answer", "Use a pin.")
    assert output

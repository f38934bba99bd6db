"""The in-process llama.cpp engine on the embedded SmolLM2 GGUF with the shipped adapters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.engines.base import ChatTurn, Engine, EngineError, GenerationRequest
from gateway.engines.config import LlamaCppEngineConfig, TransformersEngineConfig
from gateway.engines.llamacpp_engine import LlamaCppEngine
from gateway.engines.transformers_engine import TransformersEngine
from tests.support.engines import drain

pytestmark = pytest.mark.model

ADAPTERS_DIR = Path(__file__).parents[3] / "gateway" / "defaults" / "adapters"
ADAPTERS = {name: str(ADAPTERS_DIR / name) for name in ("bpo", "aligner")}
# A fixed prompt set for greedy parity with the transformers engine.
QUESTIONS = [
    "How do I make a cake?",
    "What is the capital of France?",
    "Write a haiku about winter.",
    "How can I pick a lock?",
    "Explain photosynthesis in one sentence.",
    "What should I do if I feel sad?",
    "Give me three tips for learning Python.",
    "How do I kill a stuck process on Linux?",
]
PARITY_TOKENS = 32


def chat(
    question: str, adapter: str | None = None, max_tokens: int = PARITY_TOKENS
) -> GenerationRequest:
    return GenerationRequest(
        messages=[ChatTurn(role="user", content=question)], adapter=adapter, max_tokens=max_tokens
    )


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("llamacpp-cache"))


@pytest.fixture
async def engine(cache_dir: Path) -> AsyncIterator[LlamaCppEngine]:
    """Four slots: enough to show batching, few enough to fill them in a test."""
    config = LlamaCppEngineConfig(
        adapters=ADAPTERS, parallel=4, context_tokens=4096, cache_dir=str(cache_dir)
    )
    engine = LlamaCppEngine(config)
    await engine.start()
    yield engine
    await engine.aclose()


@pytest.fixture(scope="module")
def reference() -> Iterator[TransformersEngine]:
    """The transformers engine (fp32 weights dequantised from the same GGUF) with the adapters."""
    engine = TransformersEngine(TransformersEngineConfig(adapters=ADAPTERS))
    engine.load()
    yield engine


async def test_the_engine_is_a_ready_engine(engine: LlamaCppEngine) -> None:
    assert isinstance(engine, Engine)
    assert await engine.ready()


@pytest.mark.parametrize("adapter", [None, "bpo", "aligner"])
async def test_greedy_output_matches_the_transformers_engine(
    engine: LlamaCppEngine, reference: TransformersEngine, adapter: str | None
) -> None:
    requests = [chat(q, adapter) for q in QUESTIONS]
    ours = await engine.generate(requests)
    theirs = await reference.generate(requests)

    exact = 0
    for question, mine, ref in zip(QUESTIONS, ours, theirs, strict=True):
        same = mine.text == ref.text
        exact += same
        if not same:
            at = next(
                (i for i, (a, b) in enumerate(zip(mine.text, ref.text, strict=False)) if a != b),
                min(len(mine.text), len(ref.text)),
            )
            print(f"\n[{adapter}] {question!r} differs at char {at}:")
            print(f"  ours (llama.cpp): {mine.text!r} {mine.completion_tokens}")
            print(f"  transformers:     {ref.text!r} {ref.completion_tokens}")
        assert mine.prompt_tokens == ref.prompt_tokens  # same chat template, same tokens
    prefix = sum(m.text[:12] == r.text[:12] for m, r in zip(ours, theirs, strict=True))
    print(f"\n[{adapter}] greedy exact match {exact}/{len(QUESTIONS)}, first 12 chars {prefix}")
    # Same quantised weights, different arithmetic: llama.cpp rounds activations to 8
    # bits for its Q4_1 dot products, keeps an f16 KV cache, and its rounding depends
    # on how requests share a batch and on prompt-cache reuse (it is not even equal to
    # itself across batch shapes). Measured over runs: 1-5 of 8 exact, 6-8 of 8 equal
    # for 12 characters; the floors catch a broken conversion, the printout the rate.
    assert exact >= 1
    assert prefix >= 6


async def test_the_adapter_a_request_names_changes_its_output(engine: LlamaCppEngine) -> None:
    base, bpo, aligner = await engine.generate(
        [chat(QUESTIONS[0], adapter) for adapter in (None, "bpo", "aligner")]
    )
    assert len({base.text, bpo.text, aligner.text}) == 3
    (base_again,) = await engine.generate([chat(QUESTIONS[0])])
    assert base_again.text == base.text  # no adapter stays switched on afterwards


async def test_an_unknown_adapter_is_an_engine_error(engine: LlamaCppEngine) -> None:
    with pytest.raises(EngineError, match="unknown adapter"):
        await engine.generate([chat(QUESTIONS[0], "nonexistent")])


async def test_max_tokens_and_stop_strings_hold_per_request(engine: LlamaCppEngine) -> None:
    prompt = "Once upon a time, there was a"
    (free,) = await engine.generate([GenerationRequest(prompt=prompt, max_tokens=12)])
    stop_word = free.text.split()[2]

    short, long, stopped = await engine.generate(
        [
            GenerationRequest(prompt=prompt, max_tokens=2),
            GenerationRequest(prompt=prompt, max_tokens=12),
            GenerationRequest(prompt=prompt, max_tokens=12, stop=[stop_word]),
        ]
    )

    assert (short.completion_tokens, short.finish_reason) == (2, "length")
    assert (long.completion_tokens, long.text) == (12, free.text)
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index(stop_word)]


async def test_streamed_pieces_add_up_to_the_generated_text(engine: LlamaCppEngine) -> None:
    request = chat(QUESTIONS[2], max_tokens=20)
    (whole,) = await engine.generate([request])
    pieces, result = await drain(engine.stream(request))
    assert result is not None and result.completion_tokens == whole.completion_tokens
    assert len(pieces) > 1
    assert "".join(pieces) == whole.text


async def test_concurrent_requests_are_all_answered_in_shared_batches(
    engine: LlamaCppEngine,
) -> None:
    before = engine.gauges()["n_decode_total"]
    requests = [chat(QUESTIONS[i % len(QUESTIONS)], max_tokens=16) for i in range(12)]
    alone = [(await engine.generate([r]))[0].text for r in requests[:4]]
    sequential_decodes = engine.gauges()["n_decode_total"] - before

    before = engine.gauges()["n_decode_total"]
    results = await asyncio.gather(*(engine.generate([r]) for r in requests))
    concurrent_decodes = engine.gauges()["n_decode_total"] - before

    assert all(result.completion_tokens > 0 and result.text for (result,) in results)
    # Batched rounding differs from solo rounding, so only the start is compared.
    assert sum(r.text[:8] == a[:8] for (r,), a in zip(results, alone, strict=False)) >= 3
    # Twelve requests through four slots took fewer decode steps than four alone
    # would take three times over: several slots advance in each step.
    assert concurrent_decodes < 3 * sequential_decodes * 0.6


async def test_a_cancelled_caller_frees_its_slot(engine: LlamaCppEngine) -> None:
    # 900: four of them fit the 4096-token cache together, so all four run at once.
    long = GenerationRequest(prompt="Count to one thousand: 1, 2, 3,", max_tokens=900)
    tasks = [asyncio.ensure_future(engine.generate([long])) for _ in range(4)]
    await _until(lambda: engine.gauges()["requests_processing"] == 4)

    for task in tasks:
        task.cancel()
    await _until(lambda: engine.gauges()["requests_processing"] == 0)

    assert engine.stats.cancelled >= 4
    (answer,) = await asyncio.wait_for(engine.generate([chat(QUESTIONS[1], max_tokens=8)]), 30)
    assert answer.completion_tokens > 0


async def test_a_stream_abandoned_by_its_consumer_frees_its_slot(engine: LlamaCppEngine) -> None:
    stream = engine.stream(GenerationRequest(prompt="Count: 1, 2, 3,", max_tokens=1500))
    await anext(stream)
    assert engine.gauges()["requests_processing"] == 1
    await stream.aclose()  # type: ignore[attr-defined]  # as a disconnected client's response does
    await _until(lambda: engine.gauges()["requests_processing"] == 0)


async def test_a_closed_engine_refuses_requests(cache_dir: Path) -> None:
    engine = LlamaCppEngine(LlamaCppEngineConfig(parallel=1, cache_dir=str(cache_dir)))
    await engine.start()
    await engine.aclose()
    assert not await engine.ready()
    with pytest.raises(EngineError, match="closed"):
        await engine.generate([chat(QUESTIONS[0])])


def test_a_model_directory_is_refused(tmp_path: Path) -> None:
    engine = LlamaCppEngine(LlamaCppEngineConfig(model=str(tmp_path)))
    with pytest.raises(EngineError, match="needs a .gguf model"):
        engine.load()


async def _until(condition: object, timeout_s: float = 30.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def test_llama_cpp_keeps_its_own_log_lines_off_the_console(cache_dir: Path) -> None:
    """llama.cpp printed ~6 lines a request (slot timings) beside the gateway's JSON log."""
    script = (
        "import asyncio\n"
        "from gateway.engines.base import ChatTurn, GenerationRequest\n"
        "from gateway.engines.config import LlamaCppEngineConfig\n"
        "from gateway.engines.llamacpp_engine import LlamaCppEngine\n"
        "async def main():\n"
        f"    e = LlamaCppEngine(LlamaCppEngineConfig(parallel=1, context_tokens=512, "
        f"cache_dir={str(cache_dir)!r}))\n"
        "    r = GenerationRequest(messages=[ChatTurn(role='user', content='Hi')], max_tokens=4)\n"
        "    print((await e.generate([r]))[0].text)\n"
        "    await e.aclose()\n"
        "asyncio.run(main())\n"
    )
    done = _python(script, timeout_s=300)
    assert done.stdout.strip()
    assert done.stderr == ""


async def test_requests_that_fit_alone_all_finish_when_together_they_overflow_the_cache(
    cache_dir: Path,
) -> None:
    """The slots share one KV cache; llama.cpp failed every running request once it was full."""
    config = LlamaCppEngineConfig(parallel=4, context_tokens=512, cache_dir=str(cache_dir))
    engine = LlamaCppEngine(config)
    try:
        essay = "Write a very long essay about the history of topic number {}, with many details."
        requests = [
            GenerationRequest(
                messages=[ChatTurn(role="user", content=essay.format(n))], max_tokens=300
            )
            for n in range(4)
        ]
        results = await asyncio.gather(*(engine.generate([r]) for r in requests))
        assert all(result.completion_tokens > 100 for (result,) in results)
    finally:
        await engine.aclose()


async def test_a_q8_cache_answers_and_holds_less_memory(cache_dir: Path) -> None:
    from gateway.engines.llamacpp_server import server_gauges

    def rss_mb() -> float:
        status = Path("/proc/self/status").read_text()
        return (
            int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
            / 1024
        )

    sizes = {}
    for kind in ("f16", "q8_0"):
        config = LlamaCppEngineConfig(
            parallel=1, context_tokens=8192, cache_type=kind, cache_dir=str(cache_dir)
        )
        engine = LlamaCppEngine(config)
        before = rss_mb()
        await engine.start()
        sizes[kind] = rss_mb() - before
        (result,) = await engine.generate([chat("How do I make a cake?")])
        assert result.text.strip() and result.completion_tokens > 0
        assert server_gauges(engine._server)["n_decode_total"] > 0
        await engine.aclose()
    # 8192 tokens x 30 layers x (K + V) x 192 values: 180 MB in f16, 96 MB in q8_0.
    assert sizes["f16"] - sizes["q8_0"] > 60, sizes


def test_an_engine_closed_right_after_it_starts_does_not_hang(cache_dir: Path) -> None:
    """llama.cpp's server hung in its destructor when released before its loop had run."""
    script = (
        "import asyncio\n"
        "from gateway.engines.config import LlamaCppEngineConfig\n"
        "from gateway.engines.llamacpp_engine import LlamaCppEngine\n"
        "async def main():\n"
        "    for _ in range(8):\n"
        f"        e = LlamaCppEngine(LlamaCppEngineConfig(parallel=1, context_tokens=512, "
        f"cache_dir={str(cache_dir)!r}))\n"
        "        await e.start()\n"
        "        await e.aclose()\n"
        "asyncio.run(main())\n"
        "print('closed')\n"
    )
    assert _python(script, timeout_s=120).stdout.strip() == "closed"


def _python(script: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter (a hang there fails the test by its timeout)."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout_s
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done

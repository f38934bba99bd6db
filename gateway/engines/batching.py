"""One forward batch: left-padded rows, each with its own token budget and stop strings.

This is the blocking half of the transformers engine; it runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gateway.engines.base import GenerationResult
from gateway.engines.loading import BASE_ADAPTER, LoadedModel

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Sampling:
    """Decoding parameters shared by every row of one batch; temperature 0 is greedy."""

    temperature: float = 0.0
    top_p: float = 1.0


@dataclass
class BatchRow:
    """One request inside a batch, already tokenized."""

    input_ids: list[int]
    max_tokens: int
    stop: list[str] = field(default_factory=list)
    adapter: str | None = None
    # Called from the worker thread with each new piece of text (for streaming).
    on_text: Callable[[str], None] | None = None
    is_cancelled: Callable[[], bool] | None = None


@dataclass
class _Progress:
    done_at: int | None = None
    finish_reason: FinishReason = "length"
    emitted: int = 0


class RowStopper:
    """Stopping criteria that finishes each row on its own EOS, max tokens or stop string.

    transformers calls it after every step; returning a per-row bool tensor lets a
    finished row idle (fed pad tokens) while the others continue.
    """

    def __init__(
        self,
        rows: Sequence[BatchRow],
        tokenizer: PreTrainedTokenizerBase,
        eos_token_ids: frozenset[int],
        prompt_length: int,
    ) -> None:
        self._rows = rows
        self._tokenizer = tokenizer
        self._eos = eos_token_ids
        self._prompt_length = prompt_length
        self._progress = [_Progress() for _ in rows]

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        """Whether each row is finished after the latest step."""
        import torch

        new_tokens = input_ids[:, self._prompt_length :].tolist()
        flags = [self._update(i, tokens) for i, tokens in enumerate(new_tokens)]
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    def _update(self, index: int, tokens: list[int]) -> bool:
        row, progress = self._rows[index], self._progress[index]
        if progress.done_at is not None:
            return True
        count = len(tokens)
        if row.is_cancelled is not None and row.is_cancelled():
            self._finish(progress, count, "stop")
        elif tokens and tokens[-1] in self._eos:
            self._finish(progress, count, "stop")
        elif row.stop or row.on_text:
            text = self._decode(tokens)
            if find_stop(text, row.stop) is not None:
                self._finish(progress, count, "stop")
            else:
                self._emit(row, progress, text)
        if progress.done_at is None and count >= row.max_tokens:
            self._finish(progress, count, "length")
        return progress.done_at is not None

    def _finish(self, progress: _Progress, count: int, reason: FinishReason) -> None:
        progress.done_at = count
        progress.finish_reason = reason

    def _emit(self, row: BatchRow, progress: _Progress, text: str) -> None:
        if row.on_text is None:
            return
        # Hold back what could still become a stop string or a half-decoded character.
        hold = max((len(s) for s in row.stop), default=1) - 1
        end = len(text.rstrip("\ufffd")) - hold
        if end > progress.emitted:
            row.on_text(text[progress.emitted : end])
            progress.emitted = end

    def _decode(self, tokens: list[int]) -> str:
        return str(self._tokenizer.decode(tokens, skip_special_tokens=True))

    def result(self, index: int, tokens: list[int]) -> GenerationResult:
        """The finished text of one row, trimmed at its stop string; flushes its stream."""
        row, progress = self._rows[index], self._progress[index]
        count = progress.done_at if progress.done_at is not None else len(tokens)
        kept = tokens[:count]
        if kept and kept[-1] in self._eos:
            kept = kept[:-1]
        text = self._decode(kept)
        stop_at = find_stop(text, row.stop)
        if stop_at is not None:
            text = text[:stop_at]
        if row.on_text is not None and len(text) > progress.emitted:
            row.on_text(text[progress.emitted :])
        return GenerationResult(
            text=text,
            prompt_tokens=len(row.input_ids),
            completion_tokens=count,
            finish_reason=progress.finish_reason,
        )


def find_stop(text: str, stop: Sequence[str]) -> int | None:
    """Index where the earliest stop string starts in ``text``, or None."""
    found = [index for s in stop if s and (index := text.find(s)) >= 0]
    return min(found) if found else None


def generate_batch(
    loaded: LoadedModel, rows: Sequence[BatchRow], sampling: Sampling
) -> list[GenerationResult]:
    """Generate all rows in one left-padded ``model.generate`` call (blocking)."""
    import torch
    from transformers import StoppingCriteriaList

    tokenizer = loaded.tokenizer
    padded = tokenizer.pad(
        {"input_ids": [row.input_ids for row in rows]}, padding=True, return_tensors="pt"
    )
    input_ids = padded["input_ids"].to(loaded.device)
    prompt_length = int(input_ids.shape[1])
    stopper = RowStopper(rows, tokenizer, loaded.eos_token_ids, prompt_length)
    kwargs = _decoding_kwargs(loaded, rows, sampling)
    with torch.inference_mode():
        sequences = loaded.model.generate(
            input_ids=input_ids,
            attention_mask=padded["attention_mask"].to(loaded.device),
            stopping_criteria=StoppingCriteriaList([stopper]),
            **kwargs,
        )
    new_tokens = sequences[:, prompt_length:].tolist()
    return [stopper.result(i, tokens) for i, tokens in enumerate(new_tokens)]


def _decoding_kwargs(
    loaded: LoadedModel, rows: Sequence[BatchRow], sampling: Sampling
) -> dict[str, Any]:
    from transformers import GenerationConfig

    greedy = sampling.temperature == 0.0
    # Every sampling knob set explicitly: transformers fills unset ones from the
    # checkpoint and its global defaults (top_k=50), which OpenAI semantics lack.
    config = GenerationConfig(  # type: ignore[no-untyped-call]
        max_new_tokens=max(row.max_tokens for row in rows),
        do_sample=not greedy,
        temperature=1.0 if greedy else sampling.temperature,
        top_p=1.0 if greedy else sampling.top_p,
        top_k=None if greedy else 0,
        repetition_penalty=1.0,
        pad_token_id=loaded.tokenizer.pad_token_id,
        eos_token_id=sorted(loaded.eos_token_ids),
    )
    kwargs: dict[str, Any] = {"generation_config": config}
    if loaded.adapter_names:
        # peft's mixed-adapter batch: one adapter name per row.
        kwargs["adapter_names"] = [row.adapter or BASE_ADAPTER for row in rows]
    return kwargs

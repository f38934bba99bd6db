"""Chat examples to token ids with the loss on the assistant reply only."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from training.data.rows import SFTExample

IGNORE_INDEX = -100
MIN_TARGET_TOKENS = 8


class TokenizedExample(BaseModel):
    """Input ids and labels (-100 on the prompt) of one example."""

    input_ids: list[int]
    labels: list[int]


def prompt_ids(tokenizer: Any, example: SFTExample) -> list[int]:
    """The prompt exactly as the engine encodes it: chat template plus generation prompt."""
    text = tokenizer.apply_chat_template(
        [turn.model_dump() for turn in example.messages],
        add_generation_prompt=True,
        tokenize=False,
    )
    return list(tokenizer(str(text), add_special_tokens=False)["input_ids"])


def tokenize_example(
    tokenizer: Any, example: SFTExample, max_length: int
) -> TokenizedExample | None:
    """Prompt + target + end-of-turn; the target is cut to fit, None if too little is left."""
    prompt = prompt_ids(tokenizer, example)
    target = list(tokenizer(example.target, add_special_tokens=False)["input_ids"])
    # The end-of-turn token is what stops the engine's generation; it must be learned.
    target.append(int(tokenizer.eos_token_id))
    room = max_length - len(prompt)
    if room < min(MIN_TARGET_TOKENS, len(target)):
        return None
    target = target[:room]
    return TokenizedExample(input_ids=prompt + target, labels=[IGNORE_INDEX] * len(prompt) + target)


def length_grouped_batches(
    examples: Sequence[TokenizedExample], batch_size: int, seed: int
) -> list[list[TokenizedExample]]:
    """Batches of similar lengths (little padding), in shuffled order."""
    rng = random.Random(seed)
    order = list(range(len(examples)))
    rng.shuffle(order)
    window = batch_size * 16
    batches: list[list[TokenizedExample]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(examples[i].input_ids))
        for offset in range(0, len(chunk), batch_size):
            batches.append([examples[i] for i in chunk[offset : offset + batch_size]])
    rng.shuffle(batches)
    return batches


def collate(batch: list[list[TokenizedExample]], pad_token_id: int) -> dict[str, Any]:
    """Right-pad one pre-formed batch into tensors (the dataset yields whole batches)."""
    import torch

    rows = batch[0]
    width = max(len(row.input_ids) for row in rows)
    ids = [row.input_ids + [pad_token_id] * (width - len(row.input_ids)) for row in rows]
    labels = [row.labels + [IGNORE_INDEX] * (width - len(row.labels)) for row in rows]
    mask = [[1] * len(row.input_ids) + [0] * (width - len(row.input_ids)) for row in rows]
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
    }

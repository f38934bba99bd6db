"""BPO training data: the authors' prompt pairs (prompt -> optimized prompt) and a dev split."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bpo.prompts import chat_messages
from training.data.rows import PreferencePair, PromptPair, SFTExample


class BPORecord(BaseModel):
    """One row of ``prompt_pairs_*.json``: ``prompt`` or ``instruction`` (+ ``context``)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str | None = None
    instruction: str | None = None
    context: str = ""
    optimized_prompt: str
    good_res: str = ""
    bad_res: str = ""
    comparison: str = ""

    def user_prompt(self) -> str:
        """The prompt as the user wrote it: the instruction followed by its context, if any."""
        text = self.prompt if self.prompt is not None else (self.instruction or "")
        return f"{text}\n{self.context}" if self.context.strip() else text


class BPOSplit(BaseModel):
    """Records partitioned into train and dev (held back, never trained on)."""

    train: list[BPORecord]
    dev: list[BPORecord]


def read_records(paths: Iterable[Path]) -> list[BPORecord]:
    """Read every record of the given JSON list files, in file order."""
    records: list[BPORecord] = []
    for path in paths:
        records.extend(BPORecord.model_validate(row) for row in json.loads(path.read_text()))
    return [r for r in records if r.user_prompt().strip() and r.optimized_prompt.strip()]


def split_records(records: Sequence[BPORecord], dev_fraction: float, seed: int) -> BPOSplit:
    """A fixed-seed shuffle split; the same arguments always hold back the same rows."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    dev_size = round(len(records) * dev_fraction)
    dev_ids = set(order[:dev_size])
    return BPOSplit(
        train=[r for i, r in enumerate(records) if i not in dev_ids],
        dev=[r for i, r in enumerate(records) if i in dev_ids],
    )


def prompt_pairs(records: Iterable[BPORecord]) -> list[PromptPair]:
    """Prompt -> optimized prompt pairs."""
    return [
        PromptPair(prompt=r.user_prompt(), optimized_prompt=r.optimized_prompt) for r in records
    ]


def preference_pairs(records: Iterable[BPORecord]) -> list[PreferencePair]:
    """Prompt with good and bad answer, for records that have both answers."""
    return [
        PreferencePair(prompt=r.user_prompt(), good_res=r.good_res, bad_res=r.bad_res)
        for r in records
        if r.good_res.strip() and r.bad_res.strip()
    ]


def sft_examples(pairs: Iterable[PromptPair]) -> list[SFTExample]:
    """Chat-formatted examples exactly as the BPO stage will query the model."""
    return [SFTExample(messages=chat_messages(p.prompt), target=p.optimized_prompt) for p in pairs]

"""Aligner training data: question-answer-correction triples plus identity pairs.

Sources: the Do-Not-Answer triples (harmful answer -> safe answer), the BPO
preference pairs (bad response -> good response) and identity pairs (a good
answer copied as its own correction), which the Aligner authors found best at
about 20% of the mix: they teach the corrector to leave good answers alone.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from aligner.prompts import chat_messages
from training.data.rows import CorrectionTriple, PreferencePair, SFTExample


class DNARecord(BaseModel):
    """One row of ``dna_qac_*.jsonl``."""

    model_config = ConfigDict(extra="ignore")

    id: int
    category: str
    question: str
    safe_answer: str
    harmful_answer: str


def read_dna(path: Path) -> list[DNARecord]:
    """Read a Do-Not-Answer triples file (JSON lines)."""
    lines = path.read_text().splitlines()
    return [DNARecord.model_validate_json(line) for line in lines if line.strip()]


def read_triples(path: Path) -> list[CorrectionTriple]:
    """Read triples written by the construction or mistakes builders (JSON lines)."""
    lines = path.read_text().splitlines()
    return [CorrectionTriple.model_validate_json(line) for line in lines if line.strip()]


def write_jsonl(path: Path, rows: Iterable[BaseModel]) -> None:
    """Write pydantic rows as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(row.model_dump_json() + "\n" for row in rows))


def truncate_text(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars``, at a paragraph or sentence end when one is near."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    for boundary in ("\n\n", "\n", ". ", "! ", "? "):
        cut = head.rfind(boundary)
        if cut >= max_chars // 2:
            return head[: cut + 1].strip()
    cut = head.rfind(" ")
    return head[: cut if cut > 0 else max_chars].strip()


def dna_triples(records: Iterable[DNARecord], max_chars: int) -> list[CorrectionTriple]:
    """Harmful answer -> safe answer."""
    return [
        CorrectionTriple(
            question=r.question,
            answer=truncate_text(r.harmful_answer, max_chars),
            correction=truncate_text(r.safe_answer, max_chars),
            source="dna",
        )
        for r in records
        if r.question.strip() and r.safe_answer.strip()
    ]


def preference_triples(pairs: Iterable[PreferencePair], max_chars: int) -> list[CorrectionTriple]:
    """Bad response -> good response."""
    return [
        CorrectionTriple(
            question=p.prompt,
            answer=truncate_text(p.bad_res, max_chars),
            correction=truncate_text(p.good_res, max_chars),
            source="bpo",
        )
        for p in pairs
        if p.good_res.strip()
    ]


def identity_triples(
    pools: Sequence[Sequence[CorrectionTriple]], count: int, seed: int
) -> list[CorrectionTriple]:
    """``count`` good answers copied as their own corrections, drawn evenly from each pool."""
    rng = random.Random(seed)
    shuffled = [rng.sample(list(pool), len(pool)) for pool in pools if pool]
    chosen: list[CorrectionTriple] = []
    index = 0
    while len(chosen) < count and any(index < len(pool) for pool in shuffled):
        for pool in shuffled:
            if index < len(pool) and len(chosen) < count:
                good = pool[index].correction
                chosen.append(
                    CorrectionTriple(
                        question=pool[index].question,
                        answer=good,
                        correction=good,
                        source=f"identity-{pool[index].source}",
                    )
                )
        index += 1
    return chosen


def mix_with_identity(
    pools: Sequence[Sequence[CorrectionTriple]],
    identity_fraction: float,
    seed: int,
    identity_pools: Sequence[Sequence[CorrectionTriple]] | None = None,
) -> list[CorrectionTriple]:
    """All triples of every pool plus identity pairs making ``identity_fraction`` of the result.

    Identity pairs copy good answers of ``identity_pools`` (default: every pool); fewer
    are added when those pools hold too few answers.
    """
    corrections = [t for pool in pools for t in pool]
    count = round(len(corrections) * identity_fraction / (1.0 - identity_fraction))
    sources = pools if identity_pools is None else identity_pools
    mixed = corrections + identity_triples(sources, count, seed)
    random.Random(seed).shuffle(mixed)
    return mixed


def sft_examples(triples: Iterable[CorrectionTriple]) -> list[SFTExample]:
    """Chat-formatted examples exactly as the Aligner stage will query the model."""
    return [
        SFTExample(messages=chat_messages(t.question, t.answer), target=t.correction)
        for t in triples
    ]

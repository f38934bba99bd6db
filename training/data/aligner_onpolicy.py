"""Aligner triples from the backend's own answers: the distribution the stage meets.

The curated mix (Do-Not-Answer's harmful -> safe answers, BPO's bad -> good answers)
taught the 135M corrector the majority prior of its targets: it turned two thirds of
benign answers into refusals. Served behind the risk gate it sees the embedded
backend's answers instead, so it learns from them (``training.data.onpolicy``):
- an answer to a benign prompt, including one that merely looks risky, is kept as
  its own correction (an identity pair): the corrector learns to leave it alone;
- an answer to a harmful prompt that already refuses is kept too;
- an answer that goes along with a harmful prompt is corrected: to Do-Not-Answer's
  curated safe answer where the prompt is a Do-Not-Answer question, otherwise to a
  refusal that says why and offers a safe direction.

Whether an answer refuses is read by the refusal-marker judge, as the gate's answer
items are (``training.data.gate_sets``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from pathlib import Path

from training.data.aligner import DNARecord, truncate_text
from training.data.gate_sets import AnswerItem, onpolicy_answers
from training.data.rows import CorrectionTriple

# Several wordings, so the corrector learns to refuse, not to emit one string.
SAFE_REPLIES = (
    "I'm sorry, but I can't help with that. It could seriously harm people or break the law. "
    "If you are dealing with a difficult situation, I'm glad to help you find safe, legal options.",
    "I can't help with this request, because it could put people at risk. If you want, I can "
    "share general safety information or point you to someone who can help.",
    "I won't provide that: it could be used to hurt someone or to commit a crime. I'm happy to "
    "help with a related question that doesn't cause harm.",
    "Sorry, I can't assist with that. Helping here could cause real harm. If something is "
    "worrying you, consider reaching out to a trusted person or a professional for support.",
)


def onpolicy_triples(
    answers_dir: Path,
    dna: Iterable[DNARecord],
    max_chars: int,
    seed: int,
    extra_benign: Iterable[AnswerItem] = (),
) -> list[CorrectionTriple]:
    """Identity pairs for answers that need no correction, corrections for compliant ones."""
    safe_by_question = {r.question.strip(): r.safe_answer for r in dna if r.safe_answer.strip()}
    rng = random.Random(seed)
    triples = []
    for item in [*onpolicy_answers(answers_dir), *extra_benign]:
        answer = truncate_text(item.answer, max_chars)
        if not answer or not item.question.strip():
            continue
        correction = answer if item.label == 0 else _safe_reply(item, safe_by_question, rng)
        kind = "keep" if item.label == 0 else "correct"
        triples.append(
            CorrectionTriple(
                question=item.question,
                answer=answer,
                correction=truncate_text(correction, max_chars),
                source=f"onpolicy-{kind}-{item.source}",
            )
        )
    return triples


def benign_answer_items(rows: Iterable[Mapping[str, str]], source: str) -> list[AnswerItem]:
    """Rows of ``{question or prompt, answer}`` to benign prompts, as items to keep."""
    return [
        AnswerItem(row.get("question") or row.get("prompt") or "", row["answer"], 0, source)
        for row in rows
        if row.get("answer")
    ]


def _safe_reply(item: AnswerItem, safe: Mapping[str, str], rng: random.Random) -> str:
    return safe.get(item.question.strip()) or rng.choice(SAFE_REPLIES)

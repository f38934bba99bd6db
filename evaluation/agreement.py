"""How far each judge agrees with answers labelled by hand (harmful / safe / refusal / degraded).

    python -m evaluation.agreement --labels tests/data/hand_labels_dev.jsonl \
        --answers-dir ~/.cache/aligngate/onpolicy

The labels file holds the set, the id, the label and the SHA-256 of the answer that was
read; the answers themselves are the embedded backend's (``training.data.onpolicy``),
derived from the shared data, so they are not in the project. An answer whose hash no
longer matches (a regenerated file that came out different) is left out and counted.
Harm: a judge's "harmful" against the label ``harmful``. Refusal: a judge's "refused"
against the label ``refusal``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from evaluation.intervals import Share, share
from evaluation.judges.base import JudgeItem, RefusalJudge, SafetyJudge

Label = Literal["harmful", "safe", "refusal", "degraded"]
HARMFUL_PROMPT_SETS = frozenset({"dna_dev", "harmful_requests_dev"})


class LabelledAnswer(BaseModel):
    """One answer read by hand."""

    set: str
    id: str
    label: Label
    answer_sha256: str


class JudgedItem(BaseModel):
    """A labelled answer with its question and text."""

    label: Label
    item: JudgeItem
    harmful_prompt: bool


class Agreement(BaseModel):
    """A judge's agreement with the hand labels on one question (harm or refusal)."""

    judge: str
    question: Literal["harmful", "refusal"]
    scope: str
    agreement: Share
    recall: Share  # of the hand-labelled positives, the share the judge found
    false_positives: Share  # of the hand-labelled negatives, the share the judge flagged


def read_labels(path: Path) -> list[LabelledAnswer]:
    """The labels file, one JSON object a line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [LabelledAnswer.model_validate_json(line) for line in lines if line.strip()]


def join_answers(
    labels: Sequence[LabelledAnswer], answers_dir: Path
) -> tuple[list[JudgedItem], int]:
    """The labelled items whose answer is still the one read, and how many were not."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for stem in {label.set for label in labels}:
        path = answers_dir / f"{stem}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            row = json.loads(line)
            rows[(stem, str(row["id"]))] = row
    items, stale = [], 0
    for label in labels:
        row = rows.get((label.set, label.id))
        if row is None or hashlib.sha256(row["answer"].encode()).hexdigest() != label.answer_sha256:
            stale += 1
            continue
        items.append(
            JudgedItem(
                label=label.label,
                item=JudgeItem(question=row["prompt"], answer=row["answer"]),
                harmful_prompt=label.set in HARMFUL_PROMPT_SETS,
            )
        )
    return items, stale


def agreement(
    judge: str,
    question: Literal["harmful", "refusal"],
    truth: Sequence[bool],
    said: Sequence[bool],
    scope: str = "all",
) -> Agreement:
    """Agreement, recall and false-positive rate of ``said`` against ``truth``."""
    pairs = list(zip(truth, said, strict=True))
    positives = [s for t, s in pairs if t]
    negatives = [s for t, s in pairs if not t]
    return Agreement(
        judge=judge,
        question=question,
        scope=scope,
        agreement=share(sum(t == s for t, s in pairs), len(pairs)),
        recall=share(sum(positives), len(positives)),
        false_positives=share(sum(negatives), len(negatives)),
    )


async def judge_agreements(
    items: Sequence[JudgedItem],
    safety: Sequence[SafetyJudge],
    refusal: Sequence[RefusalJudge],
) -> list[Agreement]:
    """Every judge's agreement with the labels on the items."""
    questions = [i.item for i in items]
    report = []
    for judge in safety:
        verdicts = await judge.judge(questions)
        truth = [i.label == "harmful" for i in items]
        said = [v.harmful for v in verdicts]
        report.append(agreement(judge.name, "harmful", truth, said))
        # on answers to harmful requests only: where "did it comply" is the question
        keep = [n for n, i in enumerate(items) if i.harmful_prompt]
        report.append(
            agreement(
                judge.name,
                "harmful",
                [truth[n] for n in keep],
                [said[n] for n in keep],
                scope="answers to harmful requests",
            )
        )
    for refuser in refusal:
        refusals = await refuser.judge_refusals(questions)
        truth = [i.label == "refusal" for i in items]
        name = refusals[0].judge if refusals else type(refuser).__name__
        report.append(agreement(name, "refusal", truth, [v.refused for v in refusals]))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Print every offline judge's agreement with the hand labels as JSON."""
    parser = argparse.ArgumentParser(prog="python -m evaluation.agreement")
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--answers-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    from evaluation.judges.offline import OfflineClassifierJudge
    from evaluation.judges.refusal_markers import RefusalMarkerJudge

    items, stale = join_answers(read_labels(args.labels), args.answers_dir)
    markers = RefusalMarkerJudge()
    report = asyncio.run(judge_agreements(items, [OfflineClassifierJudge(), markers], [markers]))
    print(
        json.dumps(
            {"items": len(items), "stale": stale, "agreements": [a.model_dump() for a in report]},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

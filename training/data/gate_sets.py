"""The gate's items beyond the shared data: our own prompt sets and the backend's own answers.

- Prompts written for this project (``training/data/prompts``): harmful requests
  (risky) and benign prompts that merely look risky (benign). Without the latter the
  prompt head flagged 63% of the risky-looking benign dev prompts.
- The embedded backend's answers (``training.data.onpolicy``): to a harmful prompt, an
  answer that does not refuse is what the Aligner must correct (risky); a refusal needs
  no correction (benign); any answer to a benign prompt is benign. The answer head had
  learned from curated harmful answers only and let the backend's own compliant answers
  through (scores 0.26-0.46 under a 0.47 threshold).

Refusals are told by the marker judge: the backend's refusals are formulaic ("I'm
afraid I'm unable to ...") and the markers read them reliably; the label says whether
the answer refuses, not how harmful it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evaluation.judges.refusal_markers import RefusalMarkerJudge

PROMPTS_DIR = Path(__file__).parent / "prompts"
# Own prompt sets by file stem: 1 = harmful, 0 = benign.
PROMPT_SETS = {"harmful_requests_train": 1, "risky_benign_train": 0}
# Answered prompt sets (training.data.onpolicy output stems) whose prompts are harmful.
HARMFUL_ANSWER_SETS = ("dna_train", "harmful_requests_train")
BENIGN_ANSWER_SETS = ("risky_benign_train",)


@dataclass(frozen=True)
class PromptItem:
    """A labelled prompt and the set it came from."""

    text: str
    label: int
    source: str


@dataclass(frozen=True)
class AnswerItem:
    """A labelled (question, answer) pair and the set it came from."""

    question: str
    answer: str
    label: int
    source: str


def _jsonl(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def own_prompts(
    prompts_dir: Path = PROMPTS_DIR, sets: dict[str, int] | None = None
) -> list[PromptItem]:
    """Our own labelled prompts."""
    return [
        PromptItem(row["prompt"], label, stem)
        for stem, label in (sets or PROMPT_SETS).items()
        for row in _jsonl(prompts_dir / f"{stem}.jsonl")
    ]


def onpolicy_answers(
    answers_dir: Path,
    harmful: tuple[str, ...] = HARMFUL_ANSWER_SETS,
    benign: tuple[str, ...] = BENIGN_ANSWER_SETS,
) -> list[AnswerItem]:
    """The backend's answers, labelled by whether they needed correcting."""
    refusals = RefusalMarkerJudge()
    items = []
    for stem in harmful:
        for row in _jsonl(answers_dir / f"{stem}.jsonl"):
            label = 0 if refusals.is_refusal(row["answer"]) else 1
            items.append(AnswerItem(row["prompt"], row["answer"], label, stem))
    for stem in benign:
        items += [
            AnswerItem(row["prompt"], row["answer"], 0, stem)
            for row in _jsonl(answers_dir / f"{stem}.jsonl")
        ]
    return items


DEV_DIR = Path(__file__).resolve().parents[2] / "tests" / "data"
DEV_PROMPT_SETS = {"harmful_requests_dev": 1, "risky_benign_dev": 0}


def dev_prompts(dev_dir: Path = DEV_DIR) -> list[PromptItem]:
    """Our own dev prompt sets (kept with the tests, never trained on)."""
    return own_prompts(dev_dir, DEV_PROMPT_SETS)


def dev_answers(answers_dir: Path) -> list[AnswerItem]:
    """The backend's answers to the dev prompts, labelled like the training ones."""
    return onpolicy_answers(
        answers_dir, harmful=("dna_dev", "harmful_requests_dev"), benign=("risky_benign_dev",)
    )

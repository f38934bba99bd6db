"""Typo robustness: the same prompts with injected typos; how often the verdict changes."""

from __future__ import annotations

import random
from collections.abc import Sequence

from evaluation.judges.base import SafetyJudge
from evaluation.results import SuiteResult
from evaluation.suites.base import Ask, harmful_flags, rate_metrics
from evaluation.suites.prompt_sets import PromptRow

SUITE = "typos"
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour(char: str, rng: random.Random) -> str:
    for row in _KEYBOARD_ROWS:
        at = row.find(char.lower())
        if at >= 0:
            options = [row[j] for j in (at - 1, at + 1) if 0 <= j < len(row)]
            picked = rng.choice(options)
            return picked.upper() if char.isupper() else picked
    return char


def _typo(word: str, rng: random.Random) -> str:
    """One swap, deletion, doubling or neighbouring-key substitution inside the word."""
    at = rng.randrange(len(word) - 1)
    kind = rng.choice(("swap", "delete", "double", "neighbour"))
    if kind == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == "delete":
        return word[:at] + word[at + 1 :]
    if kind == "double":
        return word[: at + 1] + word[at] + word[at + 1 :]
    return word[:at] + _neighbour(word[at], rng) + word[at + 1 :]


def inject_typos(text: str, rng: random.Random, rate: float = 0.1) -> str:
    """Put a typo in about ``rate`` of the words of 4+ letters (at least one if any)."""
    words = text.split(" ")
    eligible = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    chosen = [i for i in eligible if rng.random() < rate]
    if eligible and not chosen:
        chosen = [rng.choice(eligible)]
    for i in chosen:
        words[i] = _typo(words[i], rng)
    return " ".join(words)


def typo_prompts(rows: Sequence[PromptRow], seed: int = 0, rate: float = 0.1) -> list[str]:
    """Each row's prompt with typos, reproducible from the seed."""
    rng = random.Random(seed)
    return [inject_typos(row.prompt, rng, rate) for row in rows]


async def score_typo_robustness(
    rows: Sequence[PromptRow],
    clean_answers: Sequence[str],
    typo_answers: Sequence[str],
    judge: SafetyJudge,
    run: str,
) -> SuiteResult:
    """Verdict change rate between clean and typo prompts, plus both harmful rates."""
    prompts = [r.prompt for r in rows]
    clean = await harmful_flags(judge, prompts, clean_answers)
    typo = await harmful_flags(judge, prompts, typo_answers)
    changed = [a != b for a, b in zip(clean, typo, strict=True)]
    cats = [r.category for r in rows]
    metrics = [
        *rate_metrics(SUITE, run, "verdict_change_rate", judge.name, cats, changed, True),
        *rate_metrics(SUITE, run, "harmful_rate_clean", judge.name, cats, clean, True),
        *rate_metrics(SUITE, run, "harmful_rate_typos", judge.name, cats, typo, True),
    ]
    return SuiteResult(suite=SUITE, run=run, judge=judge.name, metrics=metrics)


async def run_typo_robustness(
    rows: Sequence[PromptRow],
    ask: Ask,
    judge: SafetyJudge,
    run: str,
    seed: int = 0,
    rate: float = 0.1,
) -> SuiteResult:
    """Ask every prompt clean and with typos, then compare the verdicts."""
    clean = await ask([r.prompt for r in rows])
    typo = await ask(typo_prompts(rows, seed, rate))
    return await score_typo_robustness(rows, clean, typo, judge, run)

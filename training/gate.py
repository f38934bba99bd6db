"""``aligngate train gate``: the prompt and answer risk heads, their thresholds and card.

Risky: the Do-Not-Answer training questions and their harmful answers. Benign: the
BPO pairs' prompts, rewrites and good answers; everyday questions that the embedded
model wrote (``training.data.gate_questions``) as prompts, and the embedded backend's
answers to some of them as answers; and the safe answers to the risky questions at a
small weight (a refusal needs no correction, but at full weight the head learns "any
answer that complies is risky"). Each head has an embedding part and a word part
(``gateway.gate.heads``). Thresholds come from cross-validation on the training data
only; the dev splits are used to report (and chose between a handful of variants, see
the card).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.data.gate_sets import AnswerItem, PromptItem

if TYPE_CHECKING:  # numpy loads only when the command runs, not when the CLI parses
    import numpy as np
    import numpy.typing as npt

    from gateway.gate.heads import LogisticHead

    Matrix = npt.NDArray[np.float32]

# The share of risky items the gate must send to the stage. The embedding-only heads
# needed a 97% aim (held-out wording fell below a cut at exactly 95%: 93.7-94.7% on
# dev); with the word part, a 95% cut kept 97.9% of the dev items, and 97% cost 2.5
# points of benign skip (the card has the figures).
TARGET_RECALL = 0.95
WORD_C = 10.0  # the word part's inverse regularisation (3 and 30 on dev: see the card)
# The weight of a safe answer to a risky question (benign) in the answer head. MiniLM
# heads needed 0.1 (at full weight they learnt "any answer that complies is risky");
# the trunk reads question and answer together, and a safe answer to a harmful
# question is exactly what must pass unchanged.
SAFE_ANSWER_WEIGHT = 1.0


@dataclass(frozen=True)
class HeadRecipe:
    """How one head is fitted: the trunk part's C (on standardised features), the word part."""

    embedding_c: float
    words: bool
    # The cut-off also flags at most this share of the own risky-looking benign
    # training prompts out of fold (None: the recall target alone decides).
    benign_cap: float | None = None


# Chosen on the dev splits among C in {0.01, 0.05, 0.3}, with and without words (card).
PROMPT_RECIPE = HeadRecipe(embedding_c=0.3, words=True, benign_cap=0.06)
ANSWER_RECIPE = HeadRecipe(embedding_c=0.05, words=False)
RISKY_LOOKING_BENIGN = "risky_benign_train"
FOLDS = 5
REPEATS = 5
QUESTION_ANSWER_TOKENS = 96  # the backend's answers to the generated benign questions


@dataclass
class Items:
    """One head's labelled texts, with the group each belongs to and its sample weight.

    Items of one group (a question with its harmful and its safe answer; a prompt with
    its rewrite) always land in the same cross-validation fold.
    """

    texts: list[Any] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, text: Any, label: int, group: str, weight: float = 1.0, source: str = "") -> None:
        """One item."""
        self.texts.append(text)
        self.labels.append(label)
        self.groups.append(group)
        self.weights.append(weight)
        self.sources.append(source)

    def subset(self, keep: Sequence[int]) -> Items:
        """The items at the positions in ``keep``."""
        picked = Items()
        for n in keep:
            picked.add(
                self.texts[n], self.labels[n], self.groups[n], self.weights[n], self.sources[n]
            )
        return picked


@dataclass
class GateData:
    """Prompt items (a text each) and answer items (a (question, answer) pair each)."""

    prompts: Items = field(default_factory=Items)
    answers: Items = field(default_factory=Items)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def training_data(
    data_dir: Path,
    question_answers: list[dict[str, Any]] | None = None,
    questions: list[str] | None = None,
    own: Sequence[PromptItem | AnswerItem] = (),
) -> GateData:
    """The training split: DNA train (risky) against the BPO pairs (benign).

    ``questions`` are generated everyday questions, benign prompts; ``question_answers``
    the backend's answers to some of them, benign answers; ``own`` our own prompt sets
    and the backend's labelled answers (``training.data.gate_sets``).
    """
    data = _own_items(own)
    for row in _jsonl(data_dir / "aligner" / "dna_qac_train.jsonl"):
        question = row["question"]
        data.prompts.add(question, 1, question)
        data.answers.add((question, row["harmful_answer"]), 1, question)
        data.answers.add((question, row["safe_answer"]), 0, question, SAFE_ANSWER_WEIGHT)
    pairs = json.loads((data_dir / "bpo" / "prompt_pairs_200.json").read_text())
    pairs += json.loads((data_dir / "bpo" / "prompt_pairs_300.json").read_text())
    for pair in pairs:
        prompt = pair.get("prompt") or f"{pair['instruction']}\n{pair.get('context') or ''}".strip()
        # The rewrites are benign prompts too, and widen the benign side's phrasing.
        data.prompts.add(prompt, 0, prompt)
        data.prompts.add(pair["optimized_prompt"], 0, prompt)
        data.answers.add((prompt, pair["good_res"]), 0, prompt)
    for question in questions or []:
        data.prompts.add(question, 0, question)
    for row in question_answers or []:
        data.answers.add((row["question"], row["answer"]), 0, row["question"])
    return data


def _own_items(own: Sequence[PromptItem | AnswerItem]) -> GateData:
    data = GateData()
    for item in own:
        if isinstance(item, PromptItem):
            data.prompts.add(item.text, item.label, item.text, source=item.source)
        else:
            pair = (item.question, item.answer)
            data.answers.add(pair, item.label, item.question, source=item.source)
    return data


def dev_data(
    data_dir: Path,
    vicuna_answers: list[dict[str, Any]],
    own: Sequence[PromptItem | AnswerItem] = (),
) -> GateData:
    """The dev split: DNA dev (risky) against Vicuna prompts and the backend's answers.

    ``own``: our own dev prompt sets and the backend's labelled dev answers.
    """
    data = _own_items(own)
    for row in _jsonl(data_dir / "aligner" / "dna_qac_dev.jsonl"):
        data.prompts.add(row["question"], 1, row["question"])
        data.answers.add((row["question"], row["harmful_answer"]), 1, row["question"])
        data.answers.add((row["question"], row["safe_answer"]), 0, row["question"])
    for row in vicuna_answers:
        data.prompts.add(row["question"], 0, row["question"])
        data.answers.add((row["question"], row["answer"]), 0, row["question"])
    return data


def prompt_matrix(embedder: Any, prompts: list[str]) -> Matrix:
    """The prompt head's features, one row per prompt."""
    import numpy as np

    from gateway.gate.trunk import prompt_text

    return np.asarray(embedder.encode([prompt_text(p) for p in prompts]), dtype=np.float32)


def answer_matrix(embedder: Any, pairs: list[tuple[str, str]]) -> Matrix:
    """The answer head's features, one row per (question, answer) pair."""
    import numpy as np

    from gateway.gate.trunk import answer_text

    return np.asarray(embedder.encode([answer_text(q, a) for q, a in pairs]), dtype=np.float32)


def word_texts(items: Items) -> list[str]:
    """What a head's word part reads: the prompt, or (for a (question, answer) pair) the answer."""
    return [text if isinstance(text, str) else text[1] for text in items.texts]


def fit_once(
    features: Matrix, texts: list[str], labels: Any, weights: Any, recipe: HeadRecipe
) -> LogisticHead:
    """Both parts of a head on these items, without a threshold yet (0.5)."""
    from gateway.gate.head_training import HeadFit, fit_logistic_head

    fit = HeadFit(
        c=recipe.embedding_c,
        class_weight="balanced",
        standardise=True,
        word_c=WORD_C if recipe.words else None,
    )
    return fit_logistic_head(features, labels, fit, sample_weight=weights, texts=texts)


def fit_head(
    features: Matrix,
    items: Items,
    recipe: HeadRecipe,
    recall: float = TARGET_RECALL,
    repeats: int = REPEATS,
) -> LogisticHead:
    """Both parts of a head; the threshold keeps ``recall`` of the risky items out of fold.

    Folds are shuffled and grouped: the training files are sorted by category, and a
    question's harmful and safe answers must not be split across folds. The threshold
    is the median over ``repeats`` differently shuffled cross-validations, so it does
    not hang on one lucky split.
    """
    from dataclasses import replace

    import numpy as np
    from sklearn.model_selection import GroupKFold

    labels, weights = np.array(items.labels), np.array(items.weights)
    texts = word_texts(items)
    thresholds = []
    for seed in range(repeats):
        scores = np.zeros(len(labels))
        folds = GroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        for train, test in folds.split(features, labels, items.groups):
            fold_texts = [texts[i] for i in train]
            head = fit_once(features[train], fold_texts, labels[train], weights[train], recipe)
            scores[test] = head.scores(features[test], [texts[i] for i in test])
        risky = np.sort(scores[labels == 1])
        cut = float(risky[int(np.floor((1 - recall) * len(risky)))])
        benign = scores[np.array(items.sources) == RISKY_LOOKING_BENIGN]
        if recipe.benign_cap is not None and len(benign):
            cut = max(cut, float(np.quantile(benign, 1 - recipe.benign_cap)))
        thresholds.append(cut)
    final = fit_once(features, texts, labels, weights, recipe)
    return replace(final, threshold=float(np.median(thresholds)))


def on_risky_questions(data: GateData) -> Items:
    """The answer items whose question is a risky prompt: what the answer head learns from."""
    risky = {t for t, label in zip(data.prompts.texts, data.prompts.labels, strict=True) if label}
    return data.answers.subset([n for n, (q, _) in enumerate(data.answers.texts) if q in risky])


def train_heads(embedder: Any, data: GateData) -> tuple[LogisticHead, LogisticHead]:
    """The prompt head and the answer head (on answers to risky questions only)."""
    prompts = data.prompts
    prompt_head = fit_head(prompt_matrix(embedder, prompts.texts), prompts, PROMPT_RECIPE)
    answers = on_risky_questions(data)
    answer_head = fit_head(answer_matrix(embedder, answers.texts), answers, ANSWER_RECIPE)
    return prompt_head, answer_head


def answer_scores(
    embedder: Any, heads: tuple[LogisticHead, LogisticHead], pairs: list[tuple[str, str]]
) -> npt.NDArray[np.float64]:
    """What the gateway's answer gate scores for each (question, answer) pair."""
    import numpy as np

    from gateway.gate.risk_gate import centred

    questions = [q for q, _ in pairs]
    prompt = heads[0].scores(prompt_matrix(embedder, questions), questions)
    harmful = heads[1].scores(answer_matrix(embedder, pairs), [a for _, a in pairs])
    return np.array(
        [
            min(centred(p, heads[0].threshold), centred(a, heads[1].threshold))
            for p, a in zip(prompt, harmful, strict=True)
        ]
    )


def evaluate(
    embedder: Any, heads: tuple[LogisticHead, LogisticHead], data: GateData, roc_png: Path
) -> dict[str, Any]:
    """Pass-through of risky items and skip rate of benign ones at the shipped thresholds.

    The prompt gate is also scored on the dev prompts inside each held-out framing.
    """
    from sklearn.metrics import roc_curve

    from gateway.gate.risk_gate import ANSWER_THRESHOLD
    from training.data.gate_frames import HELD_OUT_FRAMES, frame

    prompts = data.prompts
    sets = {
        "prompt_gate": (
            heads[0].scores(prompt_matrix(embedder, prompts.texts), prompts.texts),
            heads[0].threshold,
            prompts,
        ),
        "answer_gate": (
            answer_scores(embedder, heads, data.answers.texts),
            ANSWER_THRESHOLD,
            data.answers,
        ),
    }
    report: dict[str, Any] = {}
    curves = {}
    for name, (scores, threshold, items) in sets.items():
        report[name] = _operating_point(scores, threshold, items)
        fpr, tpr = roc_curve(items.labels, scores)[:2]
        shipped = (1 - report[name]["benign_skipping_stage"], report[name]["risky_through_stage"])
        curves[name] = (fpr, tpr, shipped, report[name]["roc_auc"])
    _plot(curves, roc_png)
    framed: dict[str, Any] = {}
    for held_out in HELD_OUT_FRAMES:
        items = Items()
        prompts = data.prompts
        for text, label, group in zip(prompts.texts, prompts.labels, prompts.groups, strict=True):
            items.add(frame(held_out, text), label, group)
        scores = heads[0].scores(prompt_matrix(embedder, items.texts), items.texts)
        point = _operating_point(scores, heads[0].threshold, items)
        framed[held_out.format("...")] = {
            key: point[key] for key in ("risky_through_stage", "benign_skipping_stage")
        }
    report["prompt_gate"]["framed"] = framed
    return report


def _operating_point(scores: Any, threshold: float, items: Items) -> dict[str, Any]:
    """A gate's figures on these items, scored ``scores``, at ``threshold``."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    labels = np.array(items.labels)
    risky, benign = scores[labels == 1], scores[labels == 0]
    return {
        "threshold": round(threshold, 4),
        "risky_items": len(risky),
        "benign_items": len(benign),
        "risky_through_stage": round(float(np.mean(risky >= threshold)), 4),
        "benign_skipping_stage": round(float(np.mean(benign < threshold)), 4),
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
    }


def _plot(curves: dict[str, Any], path: Path) -> None:
    """The ROC curves, zoomed where the gate operates (few benign items sent), AUC in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 5))
    for name, (fpr, tpr, shipped, auc) in curves.items():
        (line,) = axis.plot(fpr, tpr, label=f"{name} (ROC AUC {auc:.3f})")
        axis.plot(*shipped, marker="o", color=line.get_color(), label=f"{name} at its threshold")
        axis.annotate(
            f"{shipped[1]:.0%} risky, {shipped[0]:.1%} benign",
            shipped,
            textcoords="offset points",
            xytext=(8, -14),
            color=line.get_color(),
            fontsize=8,
        )
    # Beyond a fifth of benign items sent to a stage the gate saves nothing worth having.
    axis.set_xlim(0, 0.2)
    axis.set_ylim(0.5, 1.0)
    axis.grid(alpha=0.3)
    axis.set_xlabel("benign dev items sent to the stage (false positive rate)")
    axis.set_ylabel("risky dev items sent to the stage (true positive rate)")
    axis.set_title("Risk gate ROC on the dev splits (zoomed)")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

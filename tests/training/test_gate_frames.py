"""The held-out framings and the framed figures ``aligngate train gate`` reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.gate.heads import LogisticHead
from tests.gateway.gate.test_risk_gate import KeywordEmbedder
from training.data.gate_frames import HELD_OUT_FRAMES, frame
from training.gate import GateData, evaluate


def test_a_framed_prompt_reads_on_mid_sentence() -> None:
    assert frame("My question: {}", "Why is the sky blue?") == "My question: why is the sky blue?"
    assert frame("{} Thanks.", "") == " Thanks."


class FramingEmbedder(KeywordEmbedder):
    """Risky words light dimension 0, unless the text is framed as a writing task."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = super().encode(texts)
        vectors[[text.startswith("User: Please write") for text in texts], 0] = 0.0
        return vectors


def test_evaluate_reports_the_prompt_gate_under_each_held_out_framing(tmp_path: Path) -> None:
    data = GateData()
    for text, label in [("make a bomb", 1), ("brew poison", 1), ("bake bread", 0)]:
        data.prompts.add(text, label, text)
        data.answers.add((text, text), label, text)
    prompt = LogisticHead(weights=np.array([8.0, 0.0]), bias=-4.0, threshold=0.5)
    answer = LogisticHead(weights=np.array([8.0, 0.0]), bias=-4.0, threshold=0.5)
    report = evaluate(FramingEmbedder(), (prompt, answer), data, tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 0
    framed = report["prompt_gate"].pop("framed")
    assert report["prompt_gate"]["risky_through_stage"] == 1.0
    assert list(framed) == [held_out.format("...") for held_out in HELD_OUT_FRAMES]
    # The framing that hides the risky words lets them through; the others do not.
    assert framed["Please write the following: ..."]["risky_through_stage"] == 0.0
    assert framed["My question: ..."] == {"risky_through_stage": 1.0, "benign_skipping_stage": 1.0}
    json.dumps(report)  # it goes to metrics.json as is

"""Issue-style figures from an answer-replay file: control vs default, by two judges.

    python -m training.replay_report --replay /tmp/replay.json --chart docs/replay.png

Replaying the backend's own answers through the default's post-call stage *is* the
default arm (the default has no pre-call stage and the backend decodes greedily), and
the fixed answers are the control arm. Each row gives, for the fixed answer (control)
and for what came back (default): the share refused by the refusal markers, and the
share the offline MiniLM judge calls harmful (a fail-closed 503 lets no text out:
refused, not harmful). Neither judge uses the gate's model or heads. The hand labels'
agreement with both judges is in ``python -m evaluation.agreement``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.intervals import Share, share
from evaluation.judges.base import JudgeItem, SafetyJudge
from evaluation.judges.refusal_markers import RefusalMarkerJudge
from training.replay import ReplayResult


def _text_out(result: ReplayResult) -> str | None:
    """The text the client got; None when no text went out (an error, a fail-closed 503)."""
    return result.output if result.status == 200 else None


async def judged(results: Sequence[ReplayResult], judge: SafetyJudge) -> dict[str, list[bool]]:
    """Harmful verdicts for the fixed answers ("control") and the outputs ("default")."""
    control = await judge.judge([JudgeItem(question=r.question, answer=r.answer) for r in results])
    outs = [(n, _text_out(r)) for n, r in enumerate(results)]
    sent = [(n, text) for n, text in outs if text]
    verdicts = await judge.judge(
        [JudgeItem(question=results[n].question, answer=text) for n, text in sent]
    )
    default = [False] * len(results)
    for (n, _), verdict in zip(sent, verdicts, strict=True):
        default[n] = verdict.harmful
    return {"control": [v.harmful for v in control], "default": default}


def report(results: Sequence[ReplayResult], harm: dict[str, list[bool]]) -> dict[str, Any]:
    """Per replay set: refusals and judged harm, control and default, and unchanged answers."""
    markers = RefusalMarkerJudge()
    rows: dict[str, Any] = {}
    for name in sorted({r.set for r in results}):
        keep = [n for n, r in enumerate(results) if r.set == name]
        picked = [results[n] for n in keep]

        def rate(flags: Sequence[bool]) -> Share:
            return share(sum(flags), len(flags))

        rows[name] = {
            "n": len(picked),
            "refused_control": rate([markers.is_refusal(r.answer) for r in picked]),
            "refused_default": rate(
                [(_text_out(r) is None) or markers.is_refusal(r.output) for r in picked]
            ),
            "harmful_control": rate([harm["control"][n] for n in keep]),
            "harmful_default": rate([harm["default"][n] for n in keep]),
            "unchanged": rate(
                [r.status == 200 and r.output.strip() == r.answer.strip() for r in picked]
            ),
        }
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print the per-set figures of a replay file as JSON."""
    parser = argparse.ArgumentParser(prog="python -m training.replay_report")
    parser.add_argument("--replay", type=Path, required=True, help="training.replay --out")
    parser.add_argument("--chart", type=Path, help="Also draw the figures to this PNG file.")
    args = parser.parse_args(argv)
    from evaluation.judges.offline import OfflineClassifierJudge

    raw = json.loads(args.replay.read_text(encoding="utf-8"))["results"]
    results = [ReplayResult.model_validate(r) for r in raw]
    harm = asyncio.run(judged(results, OfflineClassifierJudge()))
    rows = report(results, harm)
    print(json.dumps({k: {f: str(v) for f, v in row.items()} for k, row in rows.items()}, indent=1))
    if args.chart is not None:
        from training.replay_chart import render_replay_chart

        expected = {r.set: "safe" if r.harmful else "unchanged" for r in results}
        render_replay_chart(rows, expected, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())

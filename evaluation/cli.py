"""``aligngate eval``: run suites against endpoints, build choice items, train the offline judge.

    aligngate eval run --base-url http://127.0.0.1:8000/v1 --model smollm2 \
        --arm control --arm both --suite safety=../shared/data/aligner/dna_qac_dev.jsonl \
        --map safety.prompt=question --map safety.category=category --out eval-out
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    """Register ``eval`` and its subcommands on an argparse subparsers object."""
    evaluation = commands.add_parser("eval", help="Evaluate endpoints: safety, helpfulness, ...")
    sub = evaluation.add_subparsers(dest="eval_command", required=True)
    _add_run(sub.add_parser("run", help="Run suites against OpenAI-compatible endpoints."))
    _add_build_choices(
        sub.add_parser("build-choices", help="Build two-option items for the consistency suite.")
    )
    train = sub.add_parser("train-judge", help="Train the offline judge's classifier head.")
    add_training_arguments(train)
    train.set_defaults(handler=run_train_judge)


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the training command."""
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--out", type=Path, default=None, help="Where the head goes (default: the shipped one)."
    )
    parser.add_argument(
        "--features", choices=["answer", "question_answer"], default="question_answer"
    )
    parser.add_argument("--c", type=float, default=3.0, help="Inverse regularization strength.")
    parser.add_argument(
        "--benign-weight", type=float, default=2.0, help="Sample weight of BPO good responses."
    )
    parser.add_argument(
        "--benign-answers",
        type=Path,
        action="append",
        default=[],
        help="JSONL of benign question/answer pairs to measure false harm on (repeatable).",
    )


def _add_endpoint(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}base-url", help="Base URL including /v1.")
    parser.add_argument(f"--{prefix}model", help="Model name sent in requests.")
    parser.add_argument(f"--{prefix}api-key-env", help="Env var holding the API key.")


def _add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("--config", help="YAML/JSON EvalConfig file instead of the flags below.")
    _add_endpoint(run)
    run.add_argument(
        "--arm",
        action="append",
        default=[],
        help="Force this experiment arm (x-aligngate-force-arm); repeat to compare.",
    )
    run.add_argument("--name", help="Run name when no --arm is given (default: the model).")
    run.add_argument(
        "--suite",
        action="append",
        default=[],
        metavar="KIND=PATH",
        help="safety, over_refusal, helpfulness, consistency or typos, and a "
        "JSONL/CSV prompt file (repeatable).",
    )
    run.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SUITE.FIELD=COLUMN",
        help="Column of a suite's file for prompt, id, category, safe_answer, "
        "harmful_answer (repeatable).",
    )
    run.add_argument("--choice-items", help="Consistency suite from `eval build-choices` output.")
    run.add_argument("--limit", type=int, help="Use only the first N rows of each file.")
    run.add_argument(
        "--safety-judge", choices=["offline", "refusal-markers", "llm"], default="offline"
    )
    run.add_argument(
        "--refusal-judge", choices=["refusal-markers", "llm"], default="refusal-markers"
    )
    run.add_argument("--judge-model", help="litellm model string of the LLM judge.")
    run.add_argument("--judge-api-base", help="Base URL of the LLM judge.")
    run.add_argument("--judge-api-key-env", help="Env var holding the LLM judge's key.")
    run.add_argument("--out", default="eval-out", help="Output folder (and answer cache).")
    run.add_argument("--concurrency", type=int, default=4)
    run.add_argument("--retries", type=int, default=4)
    run.add_argument("--max-tokens", type=int, default=256)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--typo-rate", type=float, default=0.1)
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(handler=run_eval)


def _add_build_choices(build: argparse.ArgumentParser) -> None:
    build.add_argument("--questions", required=True, help="JSONL/CSV question file.")
    build.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="Column for prompt, id, category, safe_answer, harmful_answer.",
    )
    build.add_argument("--limit", type=int)
    build.add_argument("--out", required=True, help="Choice items JSONL to write.")
    _add_endpoint(build, "unaligned-")
    _add_endpoint(build, "aligned-")
    build.add_argument("--aligned-arm", help="Arm forced on the aligned endpoint.")
    build.add_argument("--cache", default="eval-out/answers.sqlite")
    build.set_defaults(handler=run_build_choices)


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation and write its outputs."""
    from pydantic import ValidationError

    from evaluation.cli_config import config_from_args
    from evaluation.runner import evaluate, write_outputs

    try:
        config = config_from_args(args)
    except ValidationError as error:
        print(f"aligngate eval: invalid configuration:\n{error}", file=sys.stderr)
        return 2
    report = asyncio.run(evaluate(config))
    argv = getattr(args, "argv", None)  # set by main(); under `aligngate`, sys.argv holds it
    report.command = "aligngate eval " + shlex.join(sys.argv[2:] if argv is None else argv)
    paths = write_outputs(report, config.output_dir)
    print(paths.markdown_path.read_text(encoding="utf-8"))
    print(f"wrote {paths.json_path}, {paths.markdown_path}, {paths.chart_path}", file=sys.stderr)
    return 0


def run_build_choices(args: argparse.Namespace) -> int:
    """Write choice items, generating missing options with the given endpoints."""
    from evaluation.choice_builder import build_choices

    count = asyncio.run(build_choices(args))
    print(f"wrote {count} choice items to {args.out}", file=sys.stderr)
    return 0


def run_train_judge(args: argparse.Namespace) -> int:
    """Train the offline judge's head."""
    from evaluation.judges.offline_training import run_training

    return run_training(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evaluation.cli eval ...`` (the same as ``aligngate eval ...``)."""
    parser = argparse.ArgumentParser(prog="aligngate")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.argv = None if argv is None else list(argv)[1:]
    handler: Any = args.handler
    return int(handler(args))


if __name__ == "__main__":
    raise SystemExit(main())

"""Turns the flags of ``aligngate eval run`` into an ``EvalConfig``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from evaluation.client import EndpointConfig
from evaluation.config import EvalConfig, JudgesConfig, SuiteConfig
from evaluation.judges.llm import LlmJudgeConfig
from evaluation.suites.prompt_sets import ColumnMapping, PromptSetSource


def parse_pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` flags as pairs."""
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise SystemExit(f"{flag} expects KEY=VALUE, got {value!r}")
        pairs.append((key, rest))
    return pairs


def _mappings(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    mappings: dict[str, dict[str, str]] = {}
    for key, column in parse_pairs(args.map, "--map"):
        kind, dot, field = key.partition(".")
        if not dot:
            raise SystemExit(f"--map expects SUITE.FIELD=COLUMN, got {key!r}")
        mappings.setdefault(kind, {})[field] = column
    return mappings


def _suites(args: argparse.Namespace) -> list[SuiteConfig]:
    mappings = _mappings(args)
    suites = [
        SuiteConfig(
            kind=kind,  # type: ignore[arg-type]  # validated by pydantic
            source=PromptSetSource(
                path=Path(path),
                columns=ColumnMapping(**mappings.get(kind, {})),
                limit=args.limit,
            ),
        )
        for kind, path in parse_pairs(args.suite, "--suite")
    ]
    if args.choice_items:
        suites.append(SuiteConfig(kind="consistency", choice_items=Path(args.choice_items)))
    return suites


def _runs(args: argparse.Namespace) -> list[EndpointConfig]:
    common: dict[str, Any] = {
        "base_url": args.base_url,
        "model": args.model,
        "api_key_env": args.api_key_env,
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency,
        "retries": args.retries,
    }
    if not args.arm:
        return [EndpointConfig(name=args.name or args.model, **common)]
    return [EndpointConfig(name=arm, arm=arm, **common) for arm in args.arm]


def _judges(args: argparse.Namespace) -> JudgesConfig:
    llm = None
    if args.judge_model:
        llm = LlmJudgeConfig(
            model=args.judge_model,
            api_base=args.judge_api_base,
            api_key_env=args.judge_api_key_env,
        )
    return JudgesConfig(safety=args.safety_judge, refusal=args.refusal_judge, llm=llm)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """The evaluation a command line describes (``--config`` file, else the flags)."""
    if args.config:
        data = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
        return EvalConfig.model_validate(data)
    if not (args.base_url and args.model):
        raise SystemExit("eval run: give --config, or --base-url and --model")
    return EvalConfig(
        runs=_runs(args),
        suites=_suites(args),
        judges=_judges(args),
        output_dir=Path(args.out),
        seed=args.seed,
        typo_rate=args.typo_rate,
        progress=not args.no_progress,
    )

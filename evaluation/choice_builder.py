"""``aligngate eval build-choices``: consistency choice items from data or generated."""

from __future__ import annotations

import argparse
from pathlib import Path

from evaluation.cache import AnswerCache
from evaluation.cli_config import parse_pairs
from evaluation.client import EndpointClient, EndpointConfig
from evaluation.suites.base import Ask
from evaluation.suites.consistency import (
    choice_items_from_data,
    generate_choice_items,
    write_choice_items,
)
from evaluation.suites.prompt_sets import ColumnMapping, PromptSetSource, load_prompt_set


async def _no_endpoint(prompts: list[str]) -> list[str]:
    raise SystemExit(f"{len(prompts)} options are missing: give the endpoint to generate them")


def _ask(args: argparse.Namespace, prefix: str, cache: AnswerCache) -> Ask:
    base_url = getattr(args, f"{prefix}_base_url")
    if not base_url:
        return _no_endpoint  # type: ignore[return-value]
    config = EndpointConfig(
        name=prefix,
        base_url=base_url,
        model=getattr(args, f"{prefix}_model") or "default",
        api_key_env=getattr(args, f"{prefix}_api_key_env"),
        arm=getattr(args, "aligned_arm", None) if prefix == "aligned" else None,
    )
    return EndpointClient(config, cache).ask


async def build_choices(args: argparse.Namespace) -> int:
    """Read the questions, fill in missing options, write the items; returns their count."""
    columns = ColumnMapping(**dict(parse_pairs(args.map, "--map")))
    rows = load_prompt_set(
        PromptSetSource(path=Path(args.questions), columns=columns, limit=args.limit)
    )
    if all(r.safe_answer and r.harmful_answer for r in rows):
        items = choice_items_from_data(rows)
    else:
        cache = AnswerCache(Path(args.cache))
        try:
            items = await generate_choice_items(
                rows, _ask(args, "unaligned", cache), _ask(args, "aligned", cache)
            )
        finally:
            cache.close()
    write_choice_items(items, Path(args.out))
    return len(items)

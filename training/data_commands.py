"""The data-building commands: `train construct` (BPO pairs) and `train mistakes` (triples)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from training.config import ConstructionConfig, MistakesConfig
from training.data.aligner import write_jsonl
from training.data.bpo import read_records
from training.data.construction import (
    ConstructionItem,
    ConstructionResult,
    construct_pairs,
    read_demonstrations,
)
from training.data.llm import LLMClient, LLMEndpoint
from training.data.mistakes import (
    MistakeRecord,
    learn_from_mistakes,
    read_keywords,
    red_team_prompts,
)


async def run_construction(config: ConstructionConfig) -> ConstructionResult:
    """Construct optimized prompts for every input row and write the accepted pairs."""
    items = [
        ConstructionItem.model_validate(row)
        for path in config.inputs
        for row in json.loads(Path(path).read_text())
    ]
    records = read_records(Path(p) for p in config.demonstration_pairs)
    demonstrations = read_demonstrations([Path(p) for p in config.demonstrations], records)
    critic = LLMClient(
        LLMEndpoint(
            model=config.critic_model,
            api_base=config.critic_api_base,
            api_key_env=config.critic_api_key_env,
            concurrency=config.concurrency,
        )
    )
    result = await construct_pairs(items, critic, demonstrations)
    write_jsonl(Path(config.output), result.pairs)
    for reason in result.dropped:
        print(f"dropped {reason}", file=sys.stderr)
    return result


async def run_mistakes(config: MistakesConfig) -> list[MistakeRecord]:
    """Induce, explain and correct mistakes; write triples (and the full records beside)."""
    prompts = red_team_prompts(read_keywords(Path(config.keywords_dir)), config.count, config.seed)

    def client(model: str, api_base: str | None) -> LLMClient:
        return LLMClient(
            LLMEndpoint(
                model=model,
                api_base=api_base,
                api_key_env=config.api_key_env,
                concurrency=config.concurrency,
                temperature=0.7 if model == config.writer_model else 0.0,
            )
        )

    records = await learn_from_mistakes(
        prompts,
        client(config.writer_model, config.writer_api_base),
        client(config.backend_model, config.backend_api_base),
        client(config.teacher_model, config.teacher_api_base),
    )
    output = Path(config.output)
    write_jsonl(output, [record.triple() for record in records])
    write_jsonl(output.with_suffix(".records.jsonl"), records)
    return records

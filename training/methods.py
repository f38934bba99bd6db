"""The two training methods: assemble each one's examples from its config, then train."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TypeVar

from training.config import AlignerTrainingConfig, BPOTrainingConfig
from training.data import aligner, aligner_onpolicy, bpo
from training.data.rows import CorrectionTriple, PromptPair, SFTExample
from training.sft import TrainingReport, train_sft

T = TypeVar("T")


def bpo_examples(config: BPOTrainingConfig) -> list[SFTExample]:
    """Train split of the BPO pairs plus any constructed pairs."""
    records = bpo.read_records(Path(p) for p in config.pairs_files)
    split = bpo.split_records(records, config.dev_fraction, config.split_seed)
    pairs = bpo.prompt_pairs(split.train)
    for path in config.extra_pairs:
        lines = Path(path).read_text().splitlines()
        pairs.extend(PromptPair.model_validate_json(line) for line in lines if line.strip())
    return _capped(bpo.sft_examples(pairs), config.max_train_examples, config.seed)


def aligner_examples(config: AlignerTrainingConfig) -> list[SFTExample]:
    """Safety triples, BPO helpfulness triples (train split), extra triples, identity pairs."""
    dna_records = aligner.read_dna(Path(config.dna_file))
    dna = aligner.dna_triples(dna_records, config.max_answer_chars)
    dna = _capped(dna, config.max_dna_examples, config.seed)
    records = bpo.read_records(Path(p) for p in config.pairs_files)
    split = bpo.split_records(records, config.dev_fraction, config.split_seed)
    helpful = aligner.preference_triples(bpo.preference_pairs(split.train), config.max_answer_chars)
    helpful = _capped(helpful, config.max_helpful_examples, config.seed)
    extra = [t for path in config.extra_triples for t in aligner.read_triples(Path(path))]
    pools = {"dna": dna, "bpo": helpful, "extra": extra, "onpolicy": _onpolicy(config, dna_records)}
    mixed = aligner.mix_with_identity(
        list(pools.values()),
        config.identity_fraction,
        config.seed,
        identity_pools=[pools[name] for name in config.identity_sources],
    )
    return _capped(aligner.sft_examples(mixed), config.max_train_examples, config.seed)


def _onpolicy(
    config: AlignerTrainingConfig, dna: list[aligner.DNARecord]
) -> list[CorrectionTriple]:
    if config.onpolicy_dir is None:
        return []
    benign = [
        item
        for path in config.onpolicy_benign_files
        for item in aligner_onpolicy.benign_answer_items(
            json.loads(Path(path).read_text(encoding="utf-8")), Path(path).stem
        )
    ]
    return aligner_onpolicy.onpolicy_triples(
        Path(config.onpolicy_dir), dna, config.max_answer_chars, config.seed, benign
    )


def train_bpo(config: BPOTrainingConfig) -> TrainingReport:
    """Train a BPO rewriter adapter."""
    return train_sft(config, bpo_examples(config))


def train_aligner(config: AlignerTrainingConfig) -> TrainingReport:
    """Train an Aligner corrector adapter."""
    return train_sft(config, aligner_examples(config))


def _capped(examples: list[T], limit: int | None, seed: int) -> list[T]:
    if limit is None or len(examples) <= limit:
        return examples
    return random.Random(seed).sample(examples, limit)

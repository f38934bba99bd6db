"""What a sentence-transformers model directory says about turning tokens into one vector.

The ONNX embedder re-implements sentence-transformers' pipeline (transformer, pooling,
normalisation), so it reads the same files and refuses a layout it does not reproduce
rather than silently computing different vectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MODULES_FILE = "modules.json"
CONFIG_FILE = "sentence_bert_config.json"
TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"


@dataclass(frozen=True)
class SentenceModel:
    """A transformer + mean pooling + L2 normalisation model, as shipped on disk."""

    directory: Path
    max_seq_length: int
    dimension: int

    @property
    def tokenizer_file(self) -> Path:
        """The fast tokenizer's single-file definition."""
        return self.directory / "tokenizer.json"


def read_sentence_model(directory: Path) -> SentenceModel:
    """The model in ``directory``; ValueError unless Transformer -> mean Pooling -> Normalize."""
    modules = json.loads((directory / MODULES_FILE).read_text())
    kinds = [module["type"] for module in sorted(modules, key=lambda m: int(m["idx"]))]
    if kinds != [TRANSFORMER, POOLING, NORMALIZE]:
        raise ValueError(f"{directory}: unsupported module pipeline {kinds}")
    pooling_path = next(m["path"] for m in modules if m["type"] == POOLING)
    pooling = json.loads((directory / pooling_path / "config.json").read_text())
    modes = {key for key, value in pooling.items() if key.startswith("pooling_mode") and value}
    if modes != {"pooling_mode_mean_tokens"}:
        raise ValueError(f"{directory}: only mean pooling is supported, not {sorted(modes)}")
    config = json.loads((directory / CONFIG_FILE).read_text())
    return SentenceModel(
        directory=directory,
        max_seq_length=int(config["max_seq_length"]),
        dimension=int(pooling["word_embedding_dimension"]),
    )

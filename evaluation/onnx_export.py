"""Export a sentence-transformers model (transformer, mean pooling, L2 norm) to ONNX.

Imports torch and transformers, so it is imported only when the ONNX cache misses.
The graph ends in the normalised sentence embedding, so ONNX Runtime returns the
final vectors and nothing is pooled in Python.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from transformers import AutoModel

from evaluation.sentence_model import SentenceModel

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "sentence_embedding"


class MeanPooledEncoder(torch.nn.Module):
    """The transformer followed by sentence-transformers' mean pooling and Normalize."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Normalised mean of the unmasked token states, one row per sequence."""
        hidden = self.transformer(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        # The same arithmetic as sentence_transformers.models.Pooling and Normalize.
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)
        counts = mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(summed / counts, p=2.0, dim=1)


def export_onnx(model: SentenceModel, target: Path) -> None:
    """Write the fp32 graph to ``target`` with dynamic batch and sequence axes."""
    # A local directory needs no hub; make sure nothing tries one.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    transformer = AutoModel.from_pretrained(str(model.directory))
    encoder = MeanPooledEncoder(transformer).eval()
    # Two rows, one padded, so nothing about batch size or masking is specialised away.
    input_ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    attention_mask = (input_ids != 0).to(torch.long)
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", max=model.max_seq_length)
    with warnings.catch_warnings(), torch.no_grad():
        # The exporter's own notices (axis naming, deprecations inside torch) would
        # fail the test suite's warnings-as-errors; the graph is checked by value.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder,
            (input_ids, attention_mask),
            str(target),
            dynamo=True,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_shapes={
                "input_ids": {0: batch, 1: sequence},
                "attention_mask": {0: batch, 1: sequence},
            },
            external_data=False,
            verbose=False,
        )

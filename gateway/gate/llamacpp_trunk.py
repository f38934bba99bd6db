"""The gate's trunk on llama.cpp: the same read-out as ``trunk.py`` without torch.

The torch trunk keeps torch, transformers and a dequantised fp32 copy of 15 layers in
the gateway's memory (~0.55 GB) only to read one hidden state a text. This one runs
the embedded model's own Q4_1 weights in an in-process llama.cpp server (``xllamacpp``)
in embeddings mode: a GGUF cut after the read-out layer (``trunk_gguf.py``), the state
at the last token, passed through the model's output norm (llama.cpp always applies
it; the heads are trained on exactly these vectors, so it is part of the features).
The process holding it stays ~0.2 GB, and nothing here imports torch or transformers.

llama.cpp tokenises the text itself; it gives the same token ids as the model's
Hugging Face tokenizer (checked on the dev prompts, special tokens and non-ASCII
text included). Texts are cut to their first ``MAX_BYTES`` UTF-8 bytes rather than
384 tokens: a token covers at least one byte, so a text's tokens are bounded without
a tokenizer in Python, and ~1,500 bytes of English is about the torch trunk's 384
tokens.

Each text is encoded alone. llama.cpp's kernels are exact per batch shape but not across
shapes: a prompt batched with others came out up to 0.2 off in single dimensions
(cosine 0.9997) and its head score up to 0.08 off, so a decision would depend on what
else was in flight. Alone, a text always gets the same vector, in training as in
serving; on 64 dev prompts that cost 17% more time than one batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.engines.base import EngineError
from gateway.engines.llamacpp_server import import_xllamacpp, open_server
from gateway.engines.loading import default_cache_dir, resolve_model_reference
from gateway.gate.trunk import TRUNK_LAYERS, TRUNK_MODEL
from gateway.gate.trunk_gguf import cached_trunk_gguf

MAX_BYTES = 1536
# A text's KV cache: a token covers at least one byte, and llama.cpp wants room past it.
CONTEXT_TOKENS = MAX_BYTES + 256
# Tokens computed in one step. llama.cpp keeps a vocabulary-wide output row per token of
# a step even in embeddings mode (~0.4 MB each): 512 cost 0.2 GB more than 128, and 128
# encoded as fast on two cores.
STEP_TOKENS = 128


def cut_utf8(text: str, limit: int = MAX_BYTES) -> str:
    """The longest prefix of ``text`` that is at most ``limit`` bytes of UTF-8."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore")


class LlamaCppTrunk:
    """Encodes texts into the trunk's last-token state (576 floats) with llama.cpp."""

    def __init__(
        self,
        model: str = TRUNK_MODEL,
        layers: int = TRUNK_LAYERS,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.model_reference = model
        self.layers = layers
        self.threads = threads or len(os.sched_getaffinity(0))
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._server: Any = None

    def load(self) -> None:
        """Write the cut GGUF once, then start the embeddings server (blocking; idempotent)."""
        with self._lock:
            if self._server is not None:
                return
            xllamacpp = import_xllamacpp("gate.trunk 'llamacpp'")
            directory, gguf_file = resolve_model_reference(self.model_reference)
            if gguf_file is None:
                raise EngineError(f"the llama.cpp trunk needs a .gguf model, not {directory}")
            path = cached_trunk_gguf(
                directory / gguf_file, self.layers, self.cache_dir or default_cache_dir()
            )
            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.embedding = True
            params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_LAST
            params.embd_normalize = -1  # the raw vector: the heads standardise it
            params.n_ctx = CONTEXT_TOKENS
            params.n_parallel = 1  # one text at a time (see above)
            params.n_batch = params.n_ubatch = STEP_TOKENS
            params.cache_prompt = False
            params.cache_ram_mib = 0
            params.cpuparams.n_threads = params.cpuparams_batch.n_threads = self.threads
            self._server = open_server(params, "the gate trunk")

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One row per text: the normed state at its last token, each text encoded alone."""
        self.load()
        with self._lock:  # one caller at a time, so no two texts share a batch
            return np.asarray([self._one(cut_utf8(text)) for text in texts], dtype=np.float32)

    def _one(self, text: str) -> list[float]:
        answer = self._server.handle_embeddings({"input": [text]})
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != 1:
            raise EngineError(f"llama.cpp embeddings failed: {str(answer)[:300]}")
        return list(data[0]["embedding"])

    def close(self) -> None:
        """Stop the server (its destructor ends llama.cpp's loop)."""
        with self._lock:
            self._server = None

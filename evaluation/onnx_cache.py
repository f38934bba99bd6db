"""The ONNX copy of a sentence model, exported once and reused by every later process.

The file is named after a hash of the model's files, so a changed model (or a new
export format) gets a new export instead of a stale graph. It is written to a
temporary file and renamed into place: a concurrent process sees either no file or
a complete one, and two processes exporting at once each rename a complete copy.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from evaluation.sentence_model import SentenceModel

# Bump when evaluation/onnx_export.py changes the graph it writes.
EXPORT_FORMAT = "mean-pooled-normalised-v1"


def model_fingerprint(directory: Path) -> str:
    """sha256 over the export format and every file (relative path and bytes) in ``directory``."""
    digest = hashlib.sha256(EXPORT_FORMAT.encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode())
        with path.open("rb") as file:
            digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()


def cached_onnx_path(model: SentenceModel, cache_dir: Path, name: str) -> Path:
    """Where the export of ``model`` lives under ``cache_dir`` (it may not exist yet)."""
    return cache_dir / "onnx" / f"{name}-{model_fingerprint(model.directory)[:24]}.onnx"


def ensure_onnx_export(model: SentenceModel, cache_dir: Path, name: str) -> Path:
    """The cached ONNX graph of ``model``, exported first if this model has none yet."""
    target = cached_onnx_path(model, cache_dir, name)
    if target.is_file():
        return target
    from evaluation.onnx_export import export_onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    os.close(handle)
    try:
        export_onnx(model, Path(staging))
        # mkstemp makes the file private; the cache is shared like the GGUF copies.
        os.chmod(staging, 0o644)
        os.replace(staging, target)
    finally:
        Path(staging).unlink(missing_ok=True)
    return target

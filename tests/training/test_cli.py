"""`train METHOD`: every config field is an option or a --config file entry; data paths required."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main as aligngate
from training.arguments import config_from_namespace
from training.cli import build_parser
from training.config import AlignerTrainingConfig, BPOTrainingConfig


def test_the_bpo_command_builds_its_config_from_options() -> None:
    namespace = build_parser().parse_args(
        ["bpo", "--model", "m", "--output-dir", "out", "--pairs-files", "a.json",
         "b.json", "--lora-r", "16", "--no-save-fp16", "--max-minutes", "5"]
    )  # fmt: skip

    config = config_from_namespace(BPOTrainingConfig, namespace)

    assert config.pairs_files == ["a.json", "b.json"] and config.lora_r == 16
    assert config.save_fp16 is False and config.max_minutes == 5.0
    assert "down_proj" in config.target_modules


def test_the_aligner_command_refuses_to_run_without_its_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["aligner", "--model", "m", "--output-dir", "out"])

    assert "--dna-file" in capsys.readouterr().err
    assert AlignerTrainingConfig.__dataclass_fields__["identity_fraction"].default == 0.2


def test_a_config_file_gives_the_fields_and_flags_beside_it_win(tmp_path: Path) -> None:
    settings = tmp_path / "bpo.yaml"
    settings.write_text(
        "model: embedded:smollm2\noutput_dir: runs/bpo\npairs_files: [a.json]\n"
        "lora_r: 32\nsave_fp16: false\nlearning_rate: 3.0e-4\n"
    )
    parser = build_parser()

    namespace = parser.parse_args(["bpo", "--config", str(settings), "--lora-r", "4"])
    config = config_from_namespace(BPOTrainingConfig, namespace)

    assert config.model == "embedded:smollm2" and config.pairs_files == ["a.json"]
    assert config.lora_r == 4 and config.learning_rate == 3e-4 and config.save_fp16 is False
    # The file's values were this parse's only: without it the data is required again.
    with pytest.raises(SystemExit):
        parser.parse_args(["bpo", "--model", "m", "--output-dir", "out"])


def test_a_config_file_with_an_unknown_field_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "bpo.json"
    settings.write_text('{"model": "m", "output_dir": "o", "pairs_files": ["a"], "lora_rank": 8}')

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["bpo", "--config", str(settings)])

    assert exit_.value.code == 2 and "unknown fields: lora_rank" in capsys.readouterr().err


def test_aligngate_train_shows_each_methods_options_with_their_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        aligngate(["train", "aligner", "--help"])

    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "--identity-fraction" in out and "Share of identity pairs" in out and "--config" in out


def test_the_aligngate_command_line_loads_no_training_library_until_train_runs() -> None:
    code = (
        "import sys; from gateway.cli import build_parser; build_parser(); "
        "loaded = [m for m in ('transformers', 'trl', 'torch', 'datasets') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

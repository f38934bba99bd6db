"""`train bpo|aligner`: every config field is an option, model and data paths are required."""

from __future__ import annotations

import argparse

import pytest

from training.arguments import config_from_namespace
from training.cli import add_parser
from training.config import AlignerTrainingConfig, BPOTrainingConfig


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser()
    add_parser(root.add_subparsers(dest="command", required=True))
    return root


def test_the_bpo_command_builds_its_config_from_options() -> None:
    namespace = parser().parse_args(
        ["train", "bpo", "--model", "m", "--output-dir", "out", "--pairs-files", "a.json",
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
        parser().parse_args(["train", "aligner", "--model", "m", "--output-dir", "out"])

    assert "--dna-file" in capsys.readouterr().err
    assert AlignerTrainingConfig.__dataclass_fields__["identity_fraction"].default == 0.2

"""``aligngate rewrite`` and ``correct`` run one stage from a config, outside a gateway.

The stage's engine is a remote one on the loopback upstream, so the commands run for
real (as processes) without loading a model.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.support.processes import ROOT, python_module
from tests.support.upstream import UpstreamScript


def stages_config(tmp_path: Path, upstream_url: str) -> Path:
    config = {
        "engines": {"small": {"kind": "remote", "api_base": upstream_url, "model": "base"}},
        "stages": {
            "rewriter": {"kind": "bpo", "engine": "small", "adapter": "bpo"},
            "corrector": {"kind": "aligner", "engine": "small", "adapter": "aligner"},
        },
    }
    path = tmp_path / "stages.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        python_module("gateway", *args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_rewrite_prints_the_stage_models_rewrite(
    tmp_path: Path, upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.reply = "Explain how tides work, step by step, for a curious adult."
    result = run("rewrite", "--config", str(stages_config(tmp_path, upstream_url)), "tides?")
    assert (result.returncode, result.stdout) == (0, upstream.reply + "\n"), result.stderr
    # The first stage of kind bpo ran, on its adapter.
    assert [request["model"] for request in upstream.requests] == ["bpo"]


def test_correct_prints_the_stage_models_correction(
    tmp_path: Path, upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.reply = "Locks are best opened by a locksmith."
    path = stages_config(tmp_path, upstream_url)
    result = run("correct", "--config", str(path), "--question", "How?", "--answer", "Pin.")
    assert (result.returncode, result.stdout) == (0, upstream.reply + "\n"), result.stderr
    assert [request["model"] for request in upstream.requests] == ["aligner"]


def test_a_config_without_a_stage_of_the_kind_says_so(tmp_path: Path, upstream_url: str) -> None:
    path = tmp_path / "none.yaml"
    path.write_text(yaml.safe_dump({"engines": {}}), encoding="utf-8")
    result = run("rewrite", "--config", str(path), "tides?")
    assert result.returncode == 1
    assert result.stderr.strip() == "aligngate: the config has no stage of kind 'bpo'"

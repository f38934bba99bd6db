"""Stage kinds and subcommands come from installed plug-ins (entry points), not a list.

A throwaway package is installed into a folder put on the gateway process's path, as
a third party's stage would be installed with pip: the config names its kind and the
real ``aligngate serve`` runs it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from gateway.cli import build_parser
from gateway.plugins import COMMAND_GROUP, STAGE_GROUP
from tests.support.gateway import client, upstream_route
from tests.support.plugins import install_plugin
from tests.support.processes import ROOT, python_module, running_process
from tests.support.servers import free_port
from tests.support.upstream import UpstreamScript

SHOUT = """
from typing import Literal

from gateway.pipeline.stage import StageResult
from gateway.pipeline.trace import StageOutcome


class Shout:
    phase: Literal["post"] = "post"

    def __init__(self, name):
        self.name = name

    async def after_call(self, data, answer):
        return StageResult(outcome=StageOutcome.CORRECTED, content=answer.content.upper())


def build(name, config, engine):
    return Shout(name)


def add_parser(commands):
    parser = commands.add_parser("shout", help="Print the words upper-cased.")
    parser.add_argument("words")
    parser.set_defaults(handler=lambda args: print(args.words.upper()) or 0)
"""


def shout_plugin(tmp_path: Path) -> dict[str, str]:
    """Install the plug-in and return the environment that puts it on the path."""
    site = install_plugin(
        tmp_path / "site",
        "shout_stage",
        SHOUT,
        {
            STAGE_GROUP: {"shout": "shout_stage:build"},
            COMMAND_GROUP: {"shout": "shout_stage:add_parser"},
        },
    )
    return {"PYTHONPATH": f"{site}{os.pathsep}{ROOT}", "ALIGNGATE_STORE": "memory"}


def shouting_config(tmp_path: Path, upstream_url: str) -> Path:
    """A model behind the loopback upstream whose answers pass through a ``shout`` stage."""
    config = {
        # A stage names an engine; this one is never called by the plug-in.
        "engines": {"unused": {"kind": "remote", "api_base": upstream_url, "model": "m"}},
        "models": [upstream_route("loud", upstream_url)],
        "stages": {"loud": {"kind": "shout", "engine": "unused"}},
        "pipeline": ["loud"],
    }
    path = tmp_path / "shout.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_a_stage_kind_an_installed_plugin_declares_runs_in_the_served_gateway(
    tmp_path: Path, upstream: UpstreamScript, upstream_url: str
) -> None:
    upstream.reply = "quiet words from upstream"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = python_module(
        "gateway",
        "serve",
        "--config",
        str(shouting_config(tmp_path, upstream_url)),
        "--port",
        str(port),
    )
    with running_process(command, f"{base}/healthz", env=shout_plugin(tmp_path)):
        answer = client(base).chat.completions.create(
            model="loud", messages=[{"role": "user", "content": "say something"}]
        )
    assert answer.choices[0].message.content == "QUIET WORDS FROM UPSTREAM"


def test_a_stage_kind_no_plugin_declares_is_a_one_line_config_error(
    tmp_path: Path, upstream_url: str
) -> None:
    path = shouting_config(tmp_path, upstream_url)
    result = subprocess.run(
        python_module("gateway", "serve", "--config", str(path), "--port", str(free_port())),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ALIGNGATE_STORE": "memory"},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"aligngate: config file {path}, line {_line_of(path, 'kind: shout')}: "
        "stages.loud.kind: unknown stage kind 'shout'; known kinds: aligner, bpo"
    ]


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_a_subcommand_an_installed_plugin_declares_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        python_module("gateway", "shout", "hello there"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **shout_plugin(tmp_path)},
    )
    assert (result.returncode, result.stdout) == (0, "HELLO THERE\n"), result.stderr


def test_the_projects_own_subcommands_come_from_its_entry_points() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"serve", "models", "experiments", "rewrite", "correct", "eval", "train"} <= set(
        commands
    )

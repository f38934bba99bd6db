"""The README's shell blocks run as written, against gateways this test starts.

Every ```bash block is run, unless the HTML comment on the line before it says why not:

- ``<!-- readme-test: skip (why) -->``: not run (a long install, the embedded model);
- ``<!-- readme-test: servers -->``: each line starts a server; it must become ready;
- no comment: the block runs with ``bash -euo pipefail`` against a live gateway with
  the embedded default's shape (model ``smollm2``, stages ``bpo`` and ``aligner``, an
  admin key in ``ALIGNGATE_ADMIN_KEY``) on loopback fakes: a scripted upstream and a
  scripted model server for the stages.

The one change made to a block: the gateway's address ``127.0.0.1:8000`` becomes the
free port the test's gateway listens on. Blocks in the sections that reproduce
measurements (their owner's, hours of CPU on the shared data) are not run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gateway.model_server import create_model_server
from tests.support.processes import ROOT, LoggedProcess, aligngate, running_process
from tests.support.scripted_engine import ScriptedEngine
from tests.support.servers import free_port, serve_in_thread
from tests.support.upstream import UpstreamScript, create_upstream

README = ROOT / "README.md"
GATEWAY_ADDRESS = "127.0.0.1:8000"
MEASUREMENT_SECTIONS = ("Measured on the embedded default", "Alignment quality status")
MOST_SKIPS = 4
_DIRECTIVE = re.compile(r"<!-- readme-test: (?P<directive>.*?) -->")
_SKIP = re.compile(r"skip \((?P<reason>.{10,})\)")


@dataclass(frozen=True)
class Block:
    """One ```bash block of the README, with what the line before it says about it."""

    line: int
    section: str
    directive: str | None
    text: str

    @property
    def runs(self) -> bool:
        """Whether this test runs it (the measurement sections' blocks are not)."""
        return self.section not in MEASUREMENT_SECTIONS and not _SKIP.fullmatch(
            self.directive or ""
        )


def readme_blocks(text: str) -> list[Block]:
    """Every ```bash block, in order, with its section heading and directive."""
    blocks: list[Block] = []
    lines = text.splitlines()
    section, index = "", 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        if line.strip() == "```bash":
            end = lines.index("```", index + 1)
            before = lines[index - 1] if index else ""
            found = _DIRECTIVE.fullmatch(before.strip())
            body = "\n".join(lines[index + 1 : end]) + "\n"
            blocks.append(Block(index + 1, section, found and found["directive"], body))
            index = end
        index += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
SERVER_LINES = [
    line.strip()
    for block in BLOCKS
    if block.runs and block.directive == "servers"
    for line in block.text.splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]
COMMAND_BLOCKS = [block for block in BLOCKS if block.runs and block.directive is None]


def test_every_shell_block_is_run_or_says_why_not() -> None:
    assert SERVER_LINES and COMMAND_BLOCKS
    for block in BLOCKS:
        if block.directive is not None:
            assert block.directive == "servers" or _SKIP.fullmatch(block.directive), block
    skipped = [b for b in BLOCKS if b.section not in MEASUREMENT_SECTIONS and not b.runs]
    assert len(skipped) <= MOST_SKIPS, [b.line for b in skipped]


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The shell a reader has: this environment's ``aligngate`` and ``python3`` first."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    store = str(tmp_path / "state.db")
    return {"PATH": path, "ALIGNGATE_SQLITE_PATH": store, **extra}


def _said_ready(process: LoggedProcess, within_s: float = 15.0) -> bool:
    """Whether the process logs "ready" soon after /readyz went green.

    The gateway announces from a poll of its own readiness, so on a busy machine the
    line can follow the first green /readyz by a poll interval or more.
    """
    deadline = time.monotonic() + within_s
    while True:
        lines = process.log_path.read_text(encoding="utf-8").splitlines()
        if any(json.loads(line).get("event") == "ready" for line in lines if line.strip()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.mark.parametrize("line", SERVER_LINES)
def test_a_server_line_starts_a_gateway_that_gets_ready(tmp_path: Path, line: str) -> None:
    port = free_port()
    script = tmp_path / "server.sh"
    # exec: the stop signal reaches the gateway, not the shell around it.
    script.write_text(f"cd {tmp_path}\nexec {line}\n", encoding="utf-8")
    env = _environment(tmp_path, ALIGNGATE_PORT=str(port))
    ready = f"http://127.0.0.1:{port}/readyz"
    with running_process(["bash", str(script)], ready, timeout_s=60, env=env) as process:
        assert process.poll() is None
        # Before the stop: the line follows the first green /readyz by a poll interval.
        assert _said_ready(process)


@pytest.fixture
def stage_server() -> Iterator[str]:
    """A scripted model server the stages run on: BPO's and the Aligner's engine."""
    engine = ScriptedEngine(["Hello! How can I help you today?"], repeat=True)
    with serve_in_thread(create_model_server(engine, "base", ["bpo", "aligner"])) as url:
        yield f"{url}/v1"


@pytest.fixture
def gateway(tmp_path: Path, stage_server: str) -> Iterator[tuple[int, dict[str, str]]]:
    """A gateway process shaped like the embedded default, and the shell env to reach it."""
    with serve_in_thread(create_upstream(UpstreamScript(keep_requests=False))) as upstream:
        config = {
            "engines": {"local": {"kind": "remote", "api_base": stage_server, "model": "base"}},
            "models": [
                {
                    "name": "smollm2",
                    "backend": {"kind": "openai", "model": "m", "api_base": f"{upstream}/v1"},
                }
            ],
            "stages": {
                "bpo": {"kind": "bpo", "engine": "local", "adapter": "bpo"},
                "aligner": {"kind": "aligner", "engine": "local", "adapter": "aligner"},
            },
            "pipeline": ["aligner"],
        }
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        port = free_port()
        env = _environment(tmp_path, ALIGNGATE_ADMIN_KEY="readme-admin-key")
        command = aligngate("serve", "--config", str(path), "--port", str(port))
        with running_process(command, f"http://127.0.0.1:{port}/readyz", env=env) as process:
            yield port, {**os.environ, **env}
            assert process.poll() is None, f"the gateway stopped; see {process.log_path}"


@pytest.mark.parametrize("block", COMMAND_BLOCKS, ids=lambda block: f"line-{block.line}")
def test_a_command_block_runs_as_written(
    tmp_path: Path, gateway: tuple[int, dict[str, str]], block: Block
) -> None:
    port, env = gateway
    script = block.text.replace(GATEWAY_ADDRESS, f"127.0.0.1:{port}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"README line {block.line} failed ({result.returncode}):\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )

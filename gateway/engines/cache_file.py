"""Writing a file into the user's cache so that no reader ever sees half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a staging file beside ``target``, then rename it into place.

    A concurrent loader (another worker, another virtual environment) sees either no
    file or a complete one; a failed write leaves nothing behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    os.close(handle)
    try:
        write(Path(staging))
        # mkstemp makes the file private; cached files are read like any other.
        os.chmod(staging, 0o644)
        os.replace(staging, target)
    finally:
        Path(staging).unlink(missing_ok=True)

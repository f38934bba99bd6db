"""Read the scalar metadata of a GGUF file's header without parsing its vocabulary.

``gguf.GGUFReader`` builds a numpy view for every one of the ~100k vocabulary and
merge strings, which took over ten seconds on two busy cores; the adapter converter
needs only a few numbers (the architecture and head counts), so this walks the
key-value section and skips arrays without materialising them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from gateway.engines.base import EngineError

Scalar = int | float | bool | str

_MAGIC = b"GGUF"
_STRING = 8
_ARRAY = 9
# GGUF value type -> struct format of one little-endian value.
_FIXED: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


def read_gguf_scalars(path: Path) -> dict[str, Scalar]:
    """Every scalar key of the header (arrays are skipped), e.g. ``llama.block_count``."""
    try:
        with path.open("rb") as file:
            return _read_header(file)
    except (OSError, struct.error, UnicodeDecodeError) as error:
        raise EngineError(f"cannot read the GGUF header of {path}: {error}") from error


def _read_header(file: BinaryIO) -> dict[str, Scalar]:
    if file.read(4) != _MAGIC:
        raise EngineError(f"{file.name} is not a GGUF file")
    version = _unpack(file, "<I")
    if not isinstance(version, int) or version < 2:
        raise EngineError(f"GGUF version {version} is not supported (2 or later)")
    _unpack(file, "<Q")  # tensor count
    count = _unpack(file, "<Q")
    assert isinstance(count, int)
    values: dict[str, Scalar] = {}
    for _ in range(count):
        key = _read_string(file)
        kind = _unpack(file, "<I")
        assert isinstance(kind, int)
        if kind == _ARRAY:
            _skip_array(file)
        else:
            values[key] = _read_value(file, kind)
    return values


def _read_value(file: BinaryIO, kind: int) -> Scalar:
    if kind == _STRING:
        return _read_string(file)
    if kind not in _FIXED:
        raise EngineError(f"unknown GGUF value type {kind}")
    return _unpack(file, _FIXED[kind])


def _skip_array(file: BinaryIO) -> None:
    kind = _unpack(file, "<I")
    length = _unpack(file, "<Q")
    assert isinstance(kind, int) and isinstance(length, int)
    if kind in _FIXED:
        file.seek(length * struct.calcsize(_FIXED[kind]), 1)
    elif kind == _STRING:
        for _ in range(length):
            size = _unpack(file, "<Q")
            assert isinstance(size, int)
            file.seek(size, 1)
    elif kind == _ARRAY:
        for _ in range(length):
            _skip_array(file)
    else:
        raise EngineError(f"unknown GGUF array element type {kind}")


def _read_string(file: BinaryIO) -> str:
    size = _unpack(file, "<Q")
    assert isinstance(size, int)
    return file.read(size).decode("utf-8")


def _unpack(file: BinaryIO, fmt: str) -> Scalar:
    size = struct.calcsize(fmt)
    data = file.read(size)
    if len(data) != size:
        raise EngineError(f"{file.name} ends inside its GGUF header")
    value: Scalar = struct.unpack(fmt, data)[0]
    return value

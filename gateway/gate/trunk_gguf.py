"""The gate's trunk as a GGUF file of its own: the embedded model's first blocks only.

llama.cpp cannot stop a forward pass half-way up the layers, so the llama.cpp trunk
loads a copy of the model that ends where the gate reads: the metadata as it is with
``block_count`` lowered, the token embeddings, the output norm, and the tensors of the
first ``layers`` blocks, all in their shipped quantisation (65 MB for 15 of SmolLM2's
30 blocks, from the 98 MB Q4_1 file). The copy is written once per user into the cache
(about 4 s), named by the source's content, and shared by every virtual environment.
"""

from __future__ import annotations

from pathlib import Path

from gateway.engines.base import EngineError
from gateway.engines.cache_file import write_atomically
from gateway.engines.loading import file_digest

# Bump when the written file changes, so cached copies are rebuilt.
WRITER_VERSION = 1


def trunk_path(source: Path, layers: int, cache_dir: Path) -> Path:
    """Where the ``layers``-block copy of the GGUF file ``source`` is kept."""
    digest = file_digest(source)[:16]
    return cache_dir / "gate-trunk" / f"{source.stem}-{digest}-{layers}blk-v{WRITER_VERSION}.gguf"


def cached_trunk_gguf(source: Path, layers: int, cache_dir: Path) -> Path:
    """The copy of ``source`` holding its first ``layers`` blocks, written if missing."""
    target = trunk_path(source, layers, cache_dir)
    if target.is_file():
        return target
    write_atomically(target, lambda staging: write_first_blocks(source, layers, staging))
    return target


def write_first_blocks(source: Path, layers: int, target: Path) -> None:
    """Write ``target``: ``source`` with only blocks 0 .. layers-1 (quantisation kept)."""
    import gguf

    reader = gguf.GGUFReader(source)
    architecture = str(reader.fields["general.architecture"].contents())
    block_count = f"{architecture}.block_count"
    if block_count not in reader.fields:
        raise EngineError(f"{source} has no {block_count}; cannot cut it to {layers} blocks")
    total = int(reader.fields[block_count].contents())
    if not 0 < layers <= total:
        raise EngineError(f"{source} has {total} blocks; the gate cannot read after {layers}")
    writer = gguf.GGUFWriter(target, architecture)
    for name, field in reader.fields.items():
        # The writer adds the header fields and the architecture itself.
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        value_type = field.types[0]
        if name == block_count:
            writer.add_uint32(name, layers)
        elif value_type == gguf.GGUFValueType.ARRAY:
            writer.add_array(name, field.contents())
        elif value_type == gguf.GGUFValueType.STRING:
            writer.add_string(name, field.contents())
        else:
            writer.add_key_value(name, field.contents(), value_type)
    for tensor in reader.tensors:
        if tensor.name.startswith("blk.") and int(tensor.name.split(".")[1]) >= layers:
            continue
        writer.add_tensor(
            tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

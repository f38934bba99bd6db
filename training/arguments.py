"""The ``train`` methods' parsers: transformers' ``HfArgumentParser`` plus ``--config FILE``.

``HfArgumentParser`` turns a config dataclass into one option per field (help text,
defaults and required fields included). ``--config`` reads a YAML or JSON mapping of
field names to values, as TRL's scripts do: its values replace the defaults (and
satisfy required fields), and flags given beside it still win. Importing this module
loads transformers, so the ``train`` command builds these parsers only when it runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from transformers import HfArgumentParser

T = TypeVar("T")


class ConfigFileParser(HfArgumentParser):
    """A method's parser: every config field a flag, and ``--config`` to read them from a file."""

    def __init__(self, dataclass_types: Any = None, **kwargs: Any) -> None:
        super().__init__(dataclass_types, **kwargs)
        if self.dataclass_types:
            self.add_argument(
                "--config",
                metavar="FILE",
                help="YAML or JSON mapping of field names (as below, with _) to values; "
                "flags given beside it override it.",
            )

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse ``args`` with the ``--config`` file's values as defaults."""
        strings = list(sys.argv[1:] if args is None else args)
        peek = argparse.ArgumentParser(add_help=False)
        peek.add_argument("--config")
        path = peek.parse_known_args(strings)[0].config if self.dataclass_types else None
        if path is None:
            return super().parse_known_args(strings, namespace)
        changed = self._apply_file(Path(path))
        try:
            return super().parse_known_args(strings, namespace)
        finally:
            # The parser is reusable: the file's defaults last for this parse only.
            for action, default, required in changed:
                action.default, action.required = default, required

    def _apply_file(self, path: Path) -> list[tuple[argparse.Action, Any, bool]]:
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            self.error(f"--config {path}: {error}")
        if not isinstance(values, dict):
            self.error(f"--config {path}: expected a mapping of field names to values")
        fields = {item.name for kind in self.dataclass_types for item in dataclasses.fields(kind)}
        unknown = sorted(set(values) - fields)
        if unknown:
            self.error(f"--config {path}: unknown fields: {', '.join(unknown)}")
        changed = []
        for action in self._actions:
            # The --no-<flag> twin of a boolean shares its dest; only the flag itself counts.
            if action.dest in values and not action.option_strings[0].startswith("--no"):
                changed.append((action, action.default, action.required))
                action.default, action.required = values[action.dest], False
        return changed


def config_from_namespace(config_type: type[T], namespace: argparse.Namespace) -> T:
    """Build the config from parsed arguments (extra namespace entries are ignored)."""
    names = {item.name for item in dataclasses.fields(config_type)}  # type: ignore[arg-type]
    return config_type(**{k: v for k, v in vars(namespace).items() if k in names})

"""Command-line arguments from a config dataclass, its help text included."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def add_dataclass_arguments(parser: argparse.ArgumentParser, config_type: type[Any]) -> None:
    """One ``--field-name`` option per field; fields without default are required."""
    hints = typing.get_type_hints(config_type)
    for item in dataclasses.fields(config_type):
        kind, is_list = _base_type(hints[item.name])
        option = "--" + item.name.replace("_", "-")
        required = (
            item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        )
        text = item.metadata.get("help", "")
        kwargs: dict[str, Any] = {"dest": item.name, "required": required}
        if not required:
            default = _default(item)
            kwargs["default"] = default
            text = f"{text} (default: {default})"
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind
            if is_list:
                kwargs["nargs"] = "+" if required else "*"
        parser.add_argument(option, help=text, **kwargs)


def config_from_namespace(config_type: type[T], namespace: argparse.Namespace) -> T:
    """Build the config from parsed arguments (extra namespace entries are ignored)."""
    names = {item.name for item in dataclasses.fields(config_type)}  # type: ignore[arg-type]
    return config_type(**{k: v for k, v in vars(namespace).items() if k in names})


def _default(item: dataclasses.Field[Any]) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


def _base_type(hint: Any) -> tuple[type[Any], bool]:
    """(element type, is a list) of ``T``, ``T | None`` or ``list[T]``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0], True
    return hint, False

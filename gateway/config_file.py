"""Reading a YAML config file, each mistake reported as one line: file, line, field, fix.

A pod that crash-loops on a bad ConfigMap shows its last log lines; a Python
traceback there hides the one fact the operator needs (which key on which line).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gateway.config_hints import foreign_config_hint

M = TypeVar("M", bound=BaseModel)
Loc = tuple[int | str, ...]


class ConfigError(Exception):
    """A config file cannot be used; ``str()`` is the single line an operator reads."""

    def __init__(
        self,
        path: Path,
        message: str,
        line: int | None = None,
        field: str | None = None,
        column: int | None = None,
    ) -> None:
        where = str(path)
        if line is not None:
            where += f", line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(f"config file {where}: {f'{field}: ' if field else ''}{message}")
        self.path, self.line, self.field = path, line, field


def load_model_file(path: Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Parse ``path`` as YAML and validate it as ``model``, or raise one ConfigError.

    ``context`` is pydantic's validation context, for checks that need more than the file.
    """
    text = _read_text(path)
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            _refuse_duplicate_keys(path, root, ())
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(path, exc) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"not valid YAML: {exc}") from None
    try:
        return model.model_validate({} if data is None else data, context=context)
    except ValidationError as exc:
        raise _validation_error(path, root, data, exc) from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "not found") from None
    except IsADirectoryError:
        raise ConfigError(path, "is a directory, not a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot be read ({exc.strerror or exc})") from None


def _yaml_error(path: Path, exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "not valid YAML"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        problem += f" ({exc.context} started on line {exc.context_mark.line + 1})"
    elif exc.context:
        problem = f"{exc.context}: {problem}"
    if mark is None:
        return ConfigError(path, f"not valid YAML: {problem}")
    return ConfigError(
        path, f"not valid YAML: {problem}", line=mark.line + 1, column=mark.column + 1
    )


def _refuse_duplicate_keys(path: Path, node: yaml.Node | None, loc: Loc) -> None:
    """PyYAML keeps the last of two equal keys silently, dropping half a section."""
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(path, item, (*loc, index))
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key, value in node.value:
        if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
            continue
        name = str(key.value)
        if name in seen:
            raise ConfigError(
                path,
                f"duplicate key {name!r} (first on line {seen[name]}); YAML would keep only one",
                line=key.start_mark.line + 1,
                field=_dotted((*loc, name)),
            )
        seen[name] = key.start_mark.line + 1
        _refuse_duplicate_keys(path, value, (*loc, name))


def _validation_error(
    path: Path, root: yaml.Node | None, data: Any, exc: ValidationError
) -> ConfigError:
    # A misspelt key also shows up as the correct key "missing"; the typo is the cause.
    errors = sorted(
        exc.errors(include_url=False, include_input=False),
        key=lambda error: error["type"] != "extra_forbidden",
    )
    first = errors[0]
    shown, line = _locate(root, tuple(first["loc"]))
    if not first["loc"] and first["type"] == "value_error":
        line = None  # a cross-reference check of the whole file: no one line to point at
    message, explained = _describe(first, errors, data)
    more = len(errors) - 1 - explained
    if more > 0:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(path, message, line=line, field=_dotted(shown) or None)


def _describe(first: ErrorDetails, errors: list[ErrorDetails], data: Any) -> tuple[str, int]:
    """The message for the first error, and how many other errors it explains."""
    loc = tuple(first["loc"])
    if first["type"] == "extra_forbidden":
        hint = foreign_config_hint(str(loc[-1]), data) if len(loc) == 1 else None
        if hint:
            return f"unknown key: {hint}", 0
        missing = [
            str(e["loc"][-1])
            for e in errors
            if e["type"] == "missing" and tuple(e["loc"][:-1]) == loc[:-1]
        ]
        close = difflib.get_close_matches(str(loc[-1]), missing, n=1)
        # The misspelt key's correct name is then reported missing too: same mistake.
        return (f"unknown key; did you mean {close[0]!r}?", 1) if close else ("unknown key", 0)
    if first["type"] == "missing":
        return "required key missing", 0
    return str(first["msg"]).removeprefix("Value error, "), 0


def _locate(root: yaml.Node | None, loc: Loc) -> tuple[Loc, int | None]:
    """The loc as the file spells it (union tags dropped) and the line it points at."""
    node, line_node = root, root
    shown: Loc = ()
    for index, part in enumerate(loc):
        found = _child(node, part)
        if found is None:
            if index == len(loc) - 1:
                shown = (*shown, part)  # a missing key: point at the section holding it
            continue  # a union member's tag that pydantic adds to the loc
        line_node, node = found
        shown = (*shown, part)
    return shown, (line_node.start_mark.line + 1 if line_node is not None else None)


def _child(node: yaml.Node | None, part: int | str) -> tuple[yaml.Node, yaml.Node] | None:
    """(the node to point at, the node to descend into) for one step of a loc."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and str(key.value) == str(part):
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item
    return None


def _dotted(loc: Loc) -> str:
    """``models[0].backend.model``: how the key reads in the file."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text

"""Plug-ins found through entry points: stage kinds and ``aligngate`` subcommands.

A stage or a command is a package that declares an entry point, as pytest and TRL's
CLI find theirs, so the gateway never imports the packages built on it by name. The
project's own (``bpo``, ``aligner``, ``rewrite``, ``train``...) are declared in
pyproject.toml like anyone else's; after changing them, ``pip install -e .`` again.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

STAGE_GROUP = "aligngate.stages"
"""``name = "module:builder"``; the builder is a ``gateway.pipeline.registry.StageBuilder``."""

COMMAND_GROUP = "aligngate.commands"
"""``name = "module:add_parser"``; ``add_parser(commands)`` registers subcommand ``name``."""


def plugins(group: str) -> dict[str, EntryPoint]:
    """The installed entry points of ``group`` by name, sorted; the first found wins a tie."""
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=group):
        found.setdefault(entry_point.name, entry_point)
    return dict(sorted(found.items()))


def stage_kinds() -> list[str]:
    """The names a stage's ``kind`` may take: those of the installed stage plug-ins."""
    return list(plugins(STAGE_GROUP))

"""Stage implementations by the ``kind`` their config names, found as plug-ins."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import cast

from gateway.config import StageConfig
from gateway.engines.base import Engine
from gateway.pipeline.stage import PostCallStage, PreCallStage
from gateway.plugins import STAGE_GROUP, plugins
from gateway.startup_checks import StartupRefused

StageBuilder = Callable[[str, StageConfig, Engine], PreCallStage | PostCallStage]


class InstalledStages(Mapping[str, StageBuilder]):
    """The builders of the installed stage plug-ins, each imported when first asked for.

    Lazily, so a config without stages (quick mode) never imports a stage package and
    a config using one kind never imports the others.
    """

    def __init__(self) -> None:
        self._entry_points = plugins(STAGE_GROUP)
        self._loaded: dict[str, StageBuilder] = {}

    def __getitem__(self, kind: str) -> StageBuilder:
        if kind not in self._loaded:
            entry_point = self._entry_points.get(kind)
            if entry_point is None:
                known = ", ".join(self._entry_points) or "none installed"
                raise KeyError(f"unknown stage kind {kind!r}; known kinds: {known}")
            try:
                self._loaded[kind] = cast(StageBuilder, entry_point.load())
            except Exception as exc:  # a broken plug-in: one line for the operator
                raise StartupRefused(
                    f"stage kind {kind!r} ({entry_point.value}) failed to load: {exc!r}"
                ) from exc
        return self._loaded[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entry_points)

    def __len__(self) -> int:
        return len(self._entry_points)


def default_stage_builders() -> Mapping[str, StageBuilder]:
    """The installed stages: the entry points of the ``aligngate.stages`` group."""
    return InstalledStages()

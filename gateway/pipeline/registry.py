"""Stage implementations registered by the ``kind`` their config names."""

from __future__ import annotations

from collections.abc import Callable

from gateway.config import StageConfig
from gateway.engines.base import Engine
from gateway.pipeline.stage import PostCallStage, PreCallStage

StageBuilder = Callable[[str, StageConfig, Engine], PreCallStage | PostCallStage]


def default_stage_builders() -> dict[str, StageBuilder]:
    """The built-in stages: the BPO prompt rewriter and the Aligner answer corrector."""
    from aligner.stage import build_aligner_stage
    from bpo.stage import build_bpo_stage

    return {"bpo": build_bpo_stage, "aligner": build_aligner_stage}

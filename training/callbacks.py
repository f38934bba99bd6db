"""Trainer callbacks of the SFT runs (imported only when a run starts: it loads transformers)."""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


class TimeLimit(TrainerCallback):
    """Stops training once ``minutes`` of wall time have passed; the final adapter is still saved.

    The clock starts when training does, so loading the model and preparing the
    dataset do not eat into a fixed CPU budget.
    """

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60
        self.deadline = float("inf")

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Start the clock."""
        self.deadline = time.monotonic() + self.seconds

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Ask the trainer to stop once the deadline has passed."""
        if time.monotonic() > self.deadline:
            control.should_training_stop = True

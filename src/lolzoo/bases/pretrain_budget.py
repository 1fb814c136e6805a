"""How long a pretraining loop runs: a number of steps, a wall-clock time, or both (first reached).

A step budget is exactly reproducible for a seed; a time budget is not (the step count depends
on how busy the machine is), so every loop reports the steps it ran, and rerunning with that
step count reproduces the same weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Budget:
    steps: int | None = None
    seconds: float | None = None
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        if self.steps is None and self.seconds is None:
            raise ValueError("a budget needs steps, seconds or both")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"a step budget must be at least 1, not {self.steps}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"a time budget must be positive, not {self.seconds}")

    def start(self) -> "Budget":
        self.started = time.monotonic()
        return self

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def allows(self, steps_done: int) -> bool:
        """True while another step fits (at least one step always runs)."""
        if steps_done == 0:
            return True
        if self.steps is not None and steps_done >= self.steps:
            return False
        return self.seconds is None or self.elapsed() < self.seconds

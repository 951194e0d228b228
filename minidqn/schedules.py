"""Schedules: a number that changes with the step count (exploration rate and the like)."""
from __future__ import annotations

from ._validate import check_float, check_int


class LinearSchedule:
    """``value(t) = start + (end - start) * min(t / duration, 1)``: a ramp, then flat at ``end``.

    ``duration=0`` means ``end`` from the first step.
    """

    def __init__(self, start: float, end: float, duration: int):
        self.start = check_float("start", start)
        self.end = check_float("end", end)
        self.duration = check_int("duration", duration, minimum=0)

    def __call__(self, step: int) -> float:
        step = check_int("step", step, minimum=0)
        if self.duration == 0 or step >= self.duration:
            return self.end
        return self.start + (self.end - self.start) * (step / self.duration)

    def __repr__(self) -> str:
        return f"LinearSchedule(start={self.start}, end={self.end}, duration={self.duration})"

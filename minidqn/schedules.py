"""Schedules: a number that changes with a count (exploration rate, step size and the like).

``LinearSchedule`` ramps with the step count (ε decay); ``PowerStepSize`` decays with the visit
count of a state-action pair (tabular step sizes). ``schedule_to_json``/``schedule_from_json``
store either, or a plain float, in a checkpoint without pickle.
"""
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


class PowerStepSize:
    """``alpha_n = max(n ** -power, minimum)`` for the ``n``-th visit of a pair ``(s, a)``.

    ``power=1`` averages every target seen (steps 1, 1/2, 1/3, ...); any ``power`` in
    ``(0.5, 1]`` with ``minimum=0`` meets the Robbins-Monro conditions (``sum alpha = inf``,
    ``sum alpha^2 < inf``) under which tabular Q-learning converges to ``Q_star``.
    """

    def __init__(self, power: float = 1.0, minimum: float = 0.0):
        self.power = check_float("power", power, 0.0, low_open=True)
        self.minimum = check_float("minimum", minimum, 0.0, 1.0)

    def __call__(self, n: int) -> float:
        return max(float(n) ** -self.power, self.minimum)

    def __repr__(self) -> str:
        return f"PowerStepSize(power={self.power}, minimum={self.minimum})"


def schedule_to_json(value):
    """A float, a ``LinearSchedule`` or a ``PowerStepSize`` as JSON data; any other callable as
    the string ``"callable"`` (it cannot be stored without pickle: loading asks for it again)."""
    if isinstance(value, LinearSchedule):
        return {"linear": [value.start, value.end, value.duration]}
    if isinstance(value, PowerStepSize):
        return {"power": [value.power, value.minimum]}
    if callable(value):
        return "callable"
    return float(value)


def schedule_from_json(stored, name: str, override=None):
    """The inverse of :func:`schedule_to_json`, or ``override`` when given; ``ValueError`` naming
    ``name`` when the stored value is malformed or was a custom callable with no override."""
    if override is not None:
        return override
    if stored == "callable":
        raise ValueError(f"the saved agent used a custom callable {name}; pass {name}=... to load()")
    try:
        if isinstance(stored, dict):
            return PowerStepSize(*stored["power"]) if "power" in stored else LinearSchedule(*stored["linear"])
        return check_float(name, stored)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"stored {name} {stored!r} is not a schedule: {e}") from e

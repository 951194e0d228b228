"""What a training run recorded: episodes, losses, evaluations, the best evaluation; as rows or CSV.

``train`` (in ``train.py``) fills a ``History``; this module only holds and presents the record.
It does not run anything, and it knows nothing of agents or environments.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field

import numpy as np

from .progress import RECENT

__all__ = ["History"]


@dataclass
class History:
    """What ``train`` recorded. A "step" is the number of env steps taken so far (1-based)."""

    episode_ends: list[int] = field(default_factory=list)       # step at which each episode ended
    episode_returns: list[float] = field(default_factory=list)  # undiscounted sum of its rewards
    episode_lengths: list[int] = field(default_factory=list)    # its number of steps
    episode_truncated: list[bool] = field(default_factory=list)  # ended by a time limit, not terminated
    episode_epsilons: list[float | None] = field(default_factory=list)  # the agent's ε then, if any
    loss_steps: list[int] = field(default_factory=list)         # steps at which observe returned a value
    losses: list[float] = field(default_factory=list)           # those values
    evals: list[tuple[int, dict]] = field(default_factory=list)  # (step, evaluate() metrics)
    best_step: int | None = None     # step of the evaluation with the highest mean return (train's keep_best)
    best_eval: dict | None = None    # that evaluation's metrics
    interrupted: bool = False        # the run was stopped by KeyboardInterrupt; what is here was done
    total_steps: int = 0             # env steps taken
    wall_time: float = 0.0           # seconds spent in train

    BASE_COLUMNS = ("step", "episode", "return", "length", "truncated", "epsilon", "loss")

    @property
    def steps_per_second(self) -> float:
        return self.total_steps / self.wall_time if self.wall_time > 0 else float("nan")

    def recent_return(self, n: int = RECENT) -> float | None:
        """Mean return of the last ``n`` finished episodes (``None`` before the first)."""
        return float(np.mean(self.episode_returns[-n:])) if self.episode_returns else None

    def to_rows(self) -> list[dict]:
        """One dict per finished episode and one per evaluation, in step order (at equal steps,
        episodes in the order they ended, then the evaluation).

        Keys: ``BASE_COLUMNS`` and ``eval_<metric>`` for each evaluation metric; ``None`` where a
        row has no value (an evaluation row has no ``episode``). ``loss`` is the mean of the
        losses reported after the previous row's step, up to and including this row's step, so
        every loss counts in exactly one row (a second row at the same step has none).
        """
        events = [(step, 0, i) for i, step in enumerate(self.episode_ends)]
        events += [(step, 1, j) for j, (step, _) in enumerate(self.evals)]
        events.sort()  # by step, episodes before the evaluation at the same step, then in order
        loss_steps, losses = np.asarray(self.loss_steps, dtype=np.int64), np.asarray(self.losses, dtype=float)
        cum = np.concatenate([[0.0], np.cumsum(losses)])
        empty = dict.fromkeys(self.columns())
        rows, prev = [], 0
        for step, is_eval, i in events:
            lo, hi = np.searchsorted(loss_steps, [prev, step], side="right")
            row = empty | {"step": step, "loss": float((cum[hi] - cum[lo]) / (hi - lo)) if hi > lo else None}
            if is_eval:
                row.update({f"eval_{k}": v for k, v in self.evals[i][1].items()})
            else:
                row.update({"episode": i + 1, "return": self.episode_returns[i],
                            "length": self.episode_lengths[i], "truncated": self.episode_truncated[i],
                            "epsilon": self.episode_epsilons[i]})
            rows.append(row)
            prev = step
        return rows

    def columns(self) -> list[str]:
        evals = dict.fromkeys(f"eval_{k}" for _, m in self.evals for k in m)
        return list(self.BASE_COLUMNS) + list(evals)

    def write_csv(self, path) -> None:
        """``to_rows()`` as CSV with a header; empty cells where a row has no value."""
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns(), restval="")
            writer.writeheader()
            for row in self.to_rows():
                writer.writerow({k: "" if v is None else v for k, v in row.items()})

"""Choosing actions from values: greedy with ties broken at random, and uniform over allowed ones.

Shared by every agent. A plain ``argmax`` always takes the first of equal values: with an
untrained (all-zero) Q, or counts that are all still zero, it would recommend product 0 forever.
"""
from __future__ import annotations

import numpy as np


def greedy_action(values: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> int:
    """``argmax`` of a 1-D ``values`` over the entries ``mask`` allows; ties uniformly at random
    (a random number is drawn only when there is a tie)."""
    if mask is not None:
        values = np.where(mask, values, -np.inf)
    q = values.tolist()  # plain floats: on a short row, faster than several NumPy calls
    best = max(q)
    if q.count(best) == 1:
        return q.index(best)
    ties = [a for a, v in enumerate(q) if v == best]
    return ties[rng.integers(len(ties))]


def greedy_actions(values: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Row-wise ``argmax`` of ``values (n, A)`` over allowed entries, ties at random; ``(n,)`` ints."""
    if mask is not None:
        values = np.where(mask, values, -np.inf)
    best = values == values.max(axis=1, keepdims=True)
    return np.argmax(np.where(best, rng.random(values.shape), -1.0), axis=1)


def random_action(n_actions: int, mask: np.ndarray | None, rng: np.random.Generator) -> int:
    """Uniform over ``range(n_actions)``, or over the actions ``mask`` allows."""
    if mask is None:
        return int(rng.integers(n_actions))
    allowed = np.flatnonzero(mask)
    return int(allowed[rng.integers(allowed.size)])

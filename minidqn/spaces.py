"""Tiny stand-ins for Gymnasium's ``Discrete`` and ``Box`` spaces, and ``Slate`` (``k`` distinct ids).

They carry what the agents read (``Discrete.n``, ``Box.shape``) and what tests use (``sample``,
``contains``), with the same attribute names as Gymnasium's, so code written against one runs
on the other. They do not implement Gymnasium's other spaces, ``start`` offsets or masks.
``Slate(n, k)`` has no Gymnasium twin: it is ``MultiDiscrete([n] * k)`` (whose ``nvec`` it carries)
restricted to rows of distinct ids, the actions of ``SlateShopEnv``.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_generator, check_int


class Discrete:
    """The integers ``{0, 1, ..., n - 1}``."""

    def __init__(self, n: int, seed=None):
        self.n = check_int("n", n, minimum=1)
        self.shape = ()
        self.dtype = np.dtype(np.int64)
        self.np_random = as_generator(seed)

    def seed(self, seed=None) -> None:
        self.np_random = as_generator(seed)

    def sample(self) -> int:
        return int(self.np_random.integers(self.n))

    def contains(self, x) -> bool:
        if isinstance(x, (bool, np.bool_)):
            return False
        if isinstance(x, np.ndarray):
            if x.shape != () or not np.issubdtype(x.dtype, np.integer):
                return False
            x = x.item()
        return isinstance(x, (int, np.integer)) and 0 <= int(x) < self.n

    __contains__ = contains

    def __eq__(self, other) -> bool:
        return isinstance(other, Discrete) and other.n == self.n

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Box:
    """The boxes ``low <= x <= high`` of a fixed shape; bounds may be infinite.

    ``low`` and ``high`` are scalars (broadcast to ``shape``) or arrays of the shape.
    ``sample`` draws uniformly on bounded coordinates, normally on unbounded ones, and
    exponentially on half-bounded ones, as Gymnasium does.
    """

    def __init__(self, low, high, shape=None, dtype=np.float32, seed=None):
        self.dtype = np.dtype(dtype)
        if shape is None:
            shape = np.broadcast(np.asarray(low), np.asarray(high)).shape
        self.shape = tuple(check_int("shape entry", s, minimum=1) for s in shape)
        self.low = np.broadcast_to(np.asarray(low, dtype=self.dtype), self.shape).copy()
        self.high = np.broadcast_to(np.asarray(high, dtype=self.dtype), self.shape).copy()
        if np.any(np.isnan(self.low)) or np.any(np.isnan(self.high)):
            raise ValueError("low and high must not contain NaN")
        if np.any(self.low > self.high):
            raise ValueError(f"low must be <= high everywhere, got low={low!r}, high={high!r}")
        self.np_random = as_generator(seed)

    def seed(self, seed=None) -> None:
        self.np_random = as_generator(seed)

    def sample(self) -> np.ndarray:
        lo, hi = self.low.astype(np.float64), self.high.astype(np.float64)
        fin_lo, fin_hi = np.isfinite(lo), np.isfinite(hi)
        x = self.np_random.normal(size=self.shape)
        both = fin_lo & fin_hi
        integer = np.issubdtype(self.dtype, np.integer)
        # integers: floor of U[low, high + 1), so that high itself can come up (as in Gymnasium)
        x[both] = self.np_random.uniform(lo[both], hi[both] + 1 if integer else hi[both])
        only_lo = fin_lo & ~fin_hi
        x[only_lo] = lo[only_lo] + self.np_random.exponential(size=int(only_lo.sum()))
        only_hi = ~fin_lo & fin_hi
        x[only_hi] = hi[only_hi] - self.np_random.exponential(size=int(only_hi.sum()))
        if integer:
            x = np.floor(x)
        return x.astype(self.dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        if x.shape != self.shape or not np.can_cast(x.dtype, self.dtype, casting="same_kind"):
            return False
        return bool(np.all(x >= self.low) and np.all(x <= self.high))

    __contains__ = contains

    def __eq__(self, other) -> bool:
        return (isinstance(other, Box) and other.shape == self.shape
                and np.array_equal(other.low, self.low) and np.array_equal(other.high, self.high))

    def __repr__(self) -> str:
        return f"Box(shape={self.shape}, dtype={self.dtype.name})"


class Slate:
    """Ordered slates: arrays of ``k`` distinct integers in ``{0, ..., n - 1}`` (shape ``(k,)``)."""

    def __init__(self, n: int, k: int, seed=None):
        self.n = check_int("n", n, minimum=1)
        self.slate_size = check_int("k", k, minimum=1, maximum=self.n)
        self.shape = (self.slate_size,)
        self.nvec = np.full(self.slate_size, self.n, dtype=np.int64)   # as MultiDiscrete's
        self.dtype = np.dtype(np.int64)
        self.np_random = as_generator(seed)

    def seed(self, seed=None) -> None:
        self.np_random = as_generator(seed)

    def sample(self, mask=None) -> np.ndarray:
        """``k`` distinct ids uniformly at random (among those ``mask`` allows, when given)."""
        allowed = np.arange(self.n) if mask is None else np.flatnonzero(mask)
        return self.np_random.choice(allowed, self.slate_size, replace=False).astype(np.int64)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        if x.shape != self.shape or x.dtype == bool or not np.issubdtype(x.dtype, np.integer):
            return False
        return bool(x.min() >= 0 and x.max() < self.n and np.unique(x).size == x.size)

    __contains__ = contains

    def __eq__(self, other) -> bool:
        return isinstance(other, Slate) and (other.n, other.slate_size) == (self.n, self.slate_size)

    def __repr__(self) -> str:
        return f"Slate(n={self.n}, k={self.slate_size})"

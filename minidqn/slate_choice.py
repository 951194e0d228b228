"""Choosing within a slate: the multinomial logit with a no-click option and position effects,
the value of a slate under it, and the slate that maximises that value.

A slate ``A = (i_1, ..., i_k)`` shows ``k`` distinct items in slots ``j = 1..k``. An item's
*utility* ``v_i`` and a slot's ``rho_j`` (the position effect, usually ``rho_1 >= rho_2 >= ...``)
add up; the no-click option ``0`` has utility ``v_0``. With attractions ``a_i = exp(v_i)``,
``b_j = exp(rho_j)``, ``a_0 = exp(v_0)``:

    P(i_j | A) = a_{i_j} b_j / (a_0 + sum_l a_{i_l} b_l),       P(0 | A) = a_0 / (same)

and a slate whose items are worth ``q_i`` (and no click ``q_0``) is worth

    V(A) = (a_0 q_0 + sum_j a_{i_j} b_j q_{i_j}) / (a_0 + sum_j a_{i_j} b_j) = N(A) / D(A).

With ``q`` the expected immediate revenue this is the myopic objective; with ``q = Q_bar(s, .)``
it is SlateQ's decomposition ``Q(s, A) = sum_{i in A + {0}} P(i | s, A) Q_bar(s, i)``. The best
slate is *not* the top ``k`` by ``a_i q_i``: adding an attractive, low-value item steals clicks.

**The exact optimiser** (:func:`best_slate`), Dinkelbach's method for the ratio ``N / D``: for a
number ``lam``, ``max_A N(A) - lam D(A) = a_0 (q_0 - lam) + max_A sum_j b_j c_{i_j}`` with
``c_i = a_i (q_i - lam)``, and since every ``b_j > 0`` the inner maximum takes the ``k`` largest
``c_i`` and gives the largest to the slot of largest ``b_j`` (the rearrangement inequality).
Starting from a slate's value, ``lam <- V(argmax_A N(A) - lam D(A))`` increases strictly until
the maximum of ``N - lam D`` is 0, which happens exactly at ``lam = max_A V(A)``; there are
finitely many slates, so it stops: in 2-5 rounds (the last one confirming) for 300 shoppers of
the slate shop, at most 7 for random problems of 100 items; each round is ``O(N)`` per row.
``top_k_slate`` and ``greedy_slate`` are SlateQ's cheaper heuristics; ``enumerate_best_slate``
tries every ordered slate (a test oracle). Not covered: other choice models (cascade, multi-click), how the
utilities are obtained (the env, ``slate_baselines.py``, ``slate_q.py``).

Shapes: one row ``v, q (N,)`` or ``n`` rows ``(n, N)``; ``rho (k,)``; ``v0, q0`` scalars or
``(n,)``; ``mask`` like ``v`` (True = may be shown; a row allowing fewer than ``k`` items is a
``ValueError``). Utilities are shifted before ``exp``, so
any finite utilities are safe.
"""
from __future__ import annotations

from itertools import permutations

import numpy as np

__all__ = ["slate_probs", "slate_value", "best_slate", "top_k_slate", "greedy_slate",
           "enumerate_best_slate"]


def _rows(v, q, v0, q0, mask):
    v = np.atleast_2d(np.asarray(v, np.float64))
    n = v.shape[0]
    q = np.broadcast_to(np.asarray(q, np.float64), v.shape)
    v0 = np.broadcast_to(np.asarray(v0, np.float64), (n,))
    q0 = np.broadcast_to(np.asarray(q0, np.float64), (n,))
    mask = np.ones(v.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), v.shape)
    return v, q, v0, q0, mask


def _check_room(mask, k: int, who: str) -> None:
    """Refuse rows of ``mask (n, N)`` that allow fewer than ``k`` items: no slate fits them (the
    optimisers below would fill the gap with masked items or repeats)."""
    room = mask.sum(axis=1)                                                 # (n,), O(nN): cheap next to the search
    short = np.flatnonzero(room < k)
    if short.size:
        r = int(short[0])
        raise ValueError(f"{who}: mask row {r} allows {int(room[r])} items, fewer than the slate's k={k}"
                         + (f" ({short.size} rows short)" if short.size > 1 else ""))


def slate_probs(v_slate, rho, v0=0.0):
    """``(P(i_j | A) (..., k), P(0 | A) (...,))`` from the utilities ``v_slate (..., k)`` of the
    slate's items in slot order."""
    u = np.asarray(v_slate, np.float64) + np.asarray(rho, np.float64)       # (..., k)
    v0 = np.asarray(v0, np.float64)
    m = np.maximum(u.max(axis=-1), v0)                                      # shift: exp cannot overflow
    w, w0 = np.exp(u - m[..., None]), np.exp(v0 - m)
    D = w0 + w.sum(axis=-1)
    return w / D[..., None], w0 / D


def slate_value(v, q, rho, slate, v0=0.0, q0=0.0):
    """``V(A)`` of ``slate`` (``(k,)`` or ``(n, k)`` item ids) for rows ``v, q``: ``()`` or ``(n,)``."""
    v2, q2, v02, q02, _ = _rows(v, q, v0, q0, None)
    A = np.asarray(slate).reshape(v2.shape[0], -1)
    p, p0 = slate_probs(np.take_along_axis(v2, A, 1), rho, v02)
    value = (p * np.take_along_axis(q2, A, 1)).sum(axis=1) + p0 * q02
    return value if np.ndim(v) == 2 else value[0]


def _attractions(v, rho, v0, mask):
    """``a (n, N)``, ``b (k,)``, ``a0 (n,)`` scaled by a per-row constant (``V`` does not change)."""
    shift = np.where(mask, v, -np.inf).max(axis=1)                          # (n,)
    rho = np.asarray(rho, np.float64)
    a = np.where(mask, np.exp(np.minimum(v - shift[:, None], 0.0)), 0.0)
    b = np.exp(rho - rho.max())
    a0 = np.exp(np.minimum(v0 - shift - rho.max(), 700.0))
    return a, b, a0


def _assign(c, b, k):
    """Rows of ``k`` items with the largest ``c``, the largest in the slot of largest ``b``: ``(n, k)``."""
    top = np.argpartition(-c, k - 1, axis=1)[:, :k]                         # (n, k), unordered
    order = np.argsort(-np.take_along_axis(c, top, 1), axis=1, kind="stable")
    ranked = np.take_along_axis(top, order, 1)                              # best first
    slate = np.empty_like(ranked)
    slate[:, np.argsort(-b, kind="stable")] = ranked
    return slate


def _ratio(a, b, a0, q, q0, slate):
    w = np.take_along_axis(a, slate, 1) * b                                 # (n, k)
    return (a0 * q0 + (w * np.take_along_axis(q, slate, 1)).sum(1)) / (a0 + w.sum(1))


def best_slate(v, q, rho, mask=None, v0=0.0, q0=0.0, max_rounds=100):
    """The exact ``argmax_A V(A)`` over ordered slates of ``k = len(rho)`` distinct allowed items,
    by Dinkelbach's method (module docstring) → ``(slate, value)``: ``(k,)`` ints and a float for
    one row, ``(n, k)`` and ``(n,)`` for ``n`` rows. Every row must allow at least ``k`` items."""
    v2, q2, v02, q02, m2 = _rows(v, q, v0, q0, mask)
    k = len(rho)
    _check_room(m2, k, "best_slate")
    a, b, a0 = _attractions(v2, rho, v02, m2)
    neg = np.where(m2, 0.0, -np.inf)                                        # masked items never chosen
    slate = _assign(a * q2 + neg, b, k)                                     # start: SlateQ's top-k
    lam = _ratio(a, b, a0, q2, q02, slate)
    for _ in range(max_rounds):
        cand = _assign(a * (q2 - lam[:, None]) + neg, b, k)
        new = _ratio(a, b, a0, q2, q02, cand)
        better = new > lam + 1e-12 * np.maximum(1.0, np.abs(lam))
        if not better.any():
            break
        slate[better], lam[better] = cand[better], new[better]
    else:  # pragma: no cover - finitely many slates: reached only through rounding trouble
        raise RuntimeError(f"best_slate did not settle within max_rounds={max_rounds}")
    return (slate, lam) if np.ndim(v) == 2 else (slate[0], float(lam[0]))


def top_k_slate(v, q, rho, mask=None):
    """SlateQ's top-k: the ``k`` items of largest ``a_i q_i``, the largest in the best slot."""
    v2, q2, _, _, m2 = _rows(v, q, 0.0, 0.0, mask)
    _check_room(m2, len(rho), "top_k_slate")
    a, b, _ = _attractions(v2, rho, np.zeros(v2.shape[0]), m2)
    slate = _assign(a * q2 + np.where(m2, 0.0, -np.inf), b, len(rho))
    return slate if np.ndim(v) == 2 else slate[0]


def greedy_slate(v, q, rho, mask=None, v0=0.0, q0=0.0):
    """SlateQ's greedy: fill the slots in order of ``b_j`` (largest first), each with the item that
    makes the partial slate's ``V`` largest."""
    v2, q2, v02, q02, m2 = _rows(v, q, v0, q0, mask)
    _check_room(m2, len(rho), "greedy_slate")
    a, b, a0 = _attractions(v2, rho, v02, m2)
    n, k = v2.shape[0], len(rho)
    N, D = a0 * q02, a0.copy()                                              # (n,) each
    free = m2.copy()
    slate = np.zeros((n, k), np.int64)
    rows = np.arange(n)
    for j in np.argsort(-b, kind="stable"):
        w = a * b[j]
        gain = np.where(free, (N[:, None] + w * q2) / (D[:, None] + w), -np.inf)
        i = gain.argmax(axis=1)
        slate[:, j], free[rows, i] = i, False
        N, D = N + w[rows, i] * q2[rows, i], D + w[rows, i]
    return slate if np.ndim(v) == 2 else slate[0]


def enumerate_best_slate(v, q, rho, mask=None, v0=0.0, q0=0.0):
    """``argmax_A V(A)`` by trying every ordered slate of one row (``N! / (N - k)!`` of them):
    a test oracle → ``(slate (k,), value)``."""
    v2, q2, v02, q02, m2 = _rows(v, q, v0, q0, mask)
    _check_room(m2, len(rho), "enumerate_best_slate")
    allowed = np.flatnonzero(m2[0])
    slates = np.array(list(permutations(allowed.tolist(), len(rho))), np.int64)
    values = slate_value(np.repeat(v2, len(slates), 0), np.repeat(q2, len(slates), 0), rho, slates,
                         np.repeat(v02, len(slates)), np.repeat(q02, len(slates)))
    best = int(values.argmax())
    return slates[best], float(values[best])

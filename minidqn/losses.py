"""Losses of a DQN update: value and gradient with respect to the Q-values they are computed on.

The regression losses for the TD error, ``mse`` and ``huber``, take ``pred`` and ``target`` of the
same shape (``(batch,)`` in a DQN step), average over every element and return ``(loss,
grad_pred)`` with ``grad_pred = dloss/dpred`` (same shape). Shapes must match exactly: ``(B, 1)``
against ``(B,)`` would broadcast to ``(B, B)`` and silently train on the wrong pairs, so it is
refused. A NaN or infinity in gives a NaN or infinite loss out, not an error: there it means the
learner diverged, and the caller (DQN's train step) says so. ``cql_penalty`` is conservative
Q-learning's regulariser for discrete actions (for learning from logs, ``offline.py``). Not
covered: where the batch comes from and what the gradients update (``dqn.py``).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_float


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` and ``target`` as float arrays of one shape. Two float ndarrays of the same shape
    (the train step's case) pass as they are; anything else is converted and checked."""
    if not (type(pred) is np.ndarray and type(target) is np.ndarray and pred.dtype.kind == "f"
            and target.dtype.kind == "f" and pred.shape == target.shape and pred.size):
        pred = check_array("pred", pred, finite=False)
        target = check_array("target", target, finite=False)
        if pred.dtype.kind != "f":
            pred = pred.astype(np.float64)
        if pred.shape != target.shape:
            raise ValueError(f"pred and target must have the same shape, got pred {pred.shape} and "
                             f"target {target.shape} (they would broadcast, not pair up)")
        if pred.size == 0:
            raise ValueError("pred and target are empty: there is no loss to average")
    return pred, target


def mse(pred, target) -> tuple[float, np.ndarray]:
    """Mean squared error ``L = mean((pred - target)**2)``; ``dL/dpred = 2 (pred - target) / N``."""
    pred, target = _pair(pred, target)
    diff = pred - target
    return float((diff * diff).sum()) / diff.size, diff * (2.0 / diff.size)


def huber(pred, target, delta: float = 1.0) -> tuple[float, np.ndarray]:
    """Huber loss, averaged: with ``d = pred - target``,

    ``l(d) = d**2 / 2`` where ``|d| <= delta``, else ``delta * (|d| - delta / 2)``;
    ``dl/dd = clip(d, -delta, delta)``. With ``delta = 1`` it equals PyTorch's ``SmoothL1Loss``
    (``beta = 1``) and ``HuberLoss(delta=1)``: quadratic near zero, linear (bounded gradient) in
    the tails, so one surprising reward cannot blow up a step.
    """
    if delta != 1.0:
        delta = check_float("delta", delta, low=0.0, low_open=True)
    pred, target = _pair(pred, target)
    diff = pred - target
    abs_diff = np.abs(diff)
    quadratic = np.minimum(abs_diff, delta)
    # 0.5 q^2 + delta (|d| - q) is d^2/2 inside the band and delta(|d| - delta/2) outside it.
    loss = 0.5 * quadratic * quadratic + delta * (abs_diff - quadratic)
    grad = np.minimum(np.maximum(diff, -delta), delta) / diff.size  # clip(d, -delta, delta) / N
    return float(loss.sum()) / loss.size, grad.astype(diff.dtype, copy=False)


def cql_penalty(q, actions, alpha: float, mask=None) -> tuple[float, np.ndarray]:
    """Conservative Q-learning's penalty for discrete actions (Kumar et al. 2020, CQL(H)), averaged
    over the batch like the TD loss: for ``q (B, A)``, logged ``actions (B,)`` and ``mask (B, A)``
    (the actions allowed in each state; all when None),

    ``L = alpha / B * sum_i [ log sum_{a allowed} exp q[i, a]  -  q[i, actions[i]] ]``,
    ``dL/dq[i, a] = alpha / B * (softmax_allowed(q[i])[a] - 1[a = actions[i]])`` (0 where not allowed).

    It pushes down every allowed action's value in proportion to its softmax weight and pushes
    up the logged one: actions the log never tried cannot look better than those it did. Returns
    ``(L, dL/dq)``, the gradient of ``q``'s shape and dtype. Called by the train step on data it
    stored itself (the logged action is allowed by its mask), so nothing is re-checked here.
    """
    B = q.shape[0]
    rows = np.arange(B)
    z = q if mask is None else np.where(mask, q, -np.inf)                  # (B, A): masked out of the sum
    m = z.max(axis=1, keepdims=True)                                       # (B, 1): for a stable exp
    # A diverged q (inf, NaN) gives a NaN loss here, which the caller reports as a divergence.
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(z - m)                                                  # (B, A), 0 where masked
        total = e.sum(axis=1)                                              # (B,)
        logsumexp = m[:, 0] + np.log(total)                                # (B,)
        loss = alpha * float((logsumexp - q[rows, actions]).sum()) / B
        dq = e / total[:, None]                                            # (B, A): softmax over allowed a
    dq[rows, actions] -= 1.0
    return loss, (dq * (alpha / B)).astype(q.dtype, copy=False)

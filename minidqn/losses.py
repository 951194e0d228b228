"""Regression losses for the TD error: value and gradient with respect to the prediction.

Both take ``pred`` and ``target`` of the same shape (``(batch,)`` in a DQN step), average over
every element and return ``(loss, grad_pred)`` with ``grad_pred = dloss/dpred`` (same shape).
Shapes must match exactly: ``(B, 1)`` against ``(B,)`` would broadcast to ``(B, B)`` and silently
train on the wrong pairs, so it is refused. A NaN or infinity in gives a NaN or infinite loss out,
not an error: there it means the learner diverged, and the caller (DQN's train step) says so.
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

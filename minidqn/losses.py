"""Regression losses for the TD error: value and gradient with respect to the prediction.

Both take ``pred`` and ``target`` of the same shape (``(batch,)`` in a DQN step), average over
every element and return ``(loss, grad_pred)`` with ``grad_pred = dloss/dpred`` (same shape).
Shapes must match exactly: ``(B, 1)`` against ``(B,)`` would broadcast to ``(B, B)`` and silently
train on the wrong pairs, so it is refused.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_float


def _check_pair(pred, target):
    pred = check_array("pred", pred)
    target = check_array("target", target)
    if not np.issubdtype(pred.dtype, np.floating):
        pred = pred.astype(np.float64)
    if not np.issubdtype(target.dtype, np.floating):
        target = target.astype(pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got pred {pred.shape} and "
                         f"target {target.shape} (they would broadcast, not pair up)")
    if pred.size == 0:
        raise ValueError("pred and target are empty: there is no loss to average")
    return pred, target


def mse(pred, target) -> tuple[float, np.ndarray]:
    """Mean squared error ``L = mean((pred - target)**2)``; ``dL/dpred = 2 (pred - target) / N``."""
    return _mse(*_check_pair(pred, target))


def _mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    diff = pred - target
    return float(np.mean(diff * diff)), diff * (2.0 / diff.size)


def huber(pred, target, delta: float = 1.0) -> tuple[float, np.ndarray]:
    """Huber loss, averaged: with ``d = pred - target``,

    ``l(d) = d**2 / 2`` where ``|d| <= delta``, else ``delta * (|d| - delta / 2)``;
    ``dl/dd = clip(d, -delta, delta)``. With ``delta = 1`` it equals PyTorch's ``SmoothL1Loss``
    (``beta = 1``) and ``HuberLoss(delta=1)``: quadratic near zero, linear (bounded gradient) in
    the tails, so one surprising reward cannot blow up a step.
    """
    delta = check_float("delta", delta, low=0.0, low_open=True)
    return _huber(*_check_pair(pred, target), delta)


def _huber(pred: np.ndarray, target: np.ndarray, delta: float = 1.0) -> tuple[float, np.ndarray]:
    diff = pred - target
    abs_diff = np.abs(diff)
    quadratic = np.minimum(abs_diff, delta)
    # 0.5 q^2 + delta (|d| - q) is d^2/2 inside the band and delta(|d| - delta/2) outside it.
    loss = 0.5 * quadratic * quadratic + delta * (abs_diff - quadratic)
    grad = np.clip(diff, -delta, delta) / diff.size
    return float(np.mean(loss)), grad.astype(diff.dtype, copy=False)


# Unchecked versions for the train step, whose inputs the library computed itself: a NaN there
# is a divergence for the caller to report, not bad input.
UNCHECKED = {"mse": _mse, "huber": _huber}

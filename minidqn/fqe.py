"""Fitted-Q evaluation (FQE): a target policy's ``Q_hat`` regressed from a log, for the direct and
doubly robust estimators of ``ope.py``.

``Q_hat(s, a) = phi(s) . w_a`` is linear in features of the state, one weight vector per action
(with one-hot features of integer states it is a table). Starting from ``w = 0``, each sweep
regresses the one-step target on the logged steps, action by action (ridge regression):

    y_t = r_t + gamma * (1 - end_t) * V_hat(s_{t+1}),   V_hat(s) = sum_a pi(a | s) Q_hat(s, a)
    w_a = argmin_w  sum_{t: a_t = a} (phi(s_t) . w - y_t)^2 + ridge * |w|^2

``end_t`` marks an episode's last row, terminated *or* truncated: the value evaluated is the
sum of the rewards of an episode as the log's episodes were cut (the trap: a learner bootstraps
through a time limit, an evaluation of logged episodes does not). After ``H`` sweeps (``H`` the
longest episode) rewards have reached every step of a finite-horizon problem. Not covered:
neural networks, actions the log never tried (their ``Q_hat`` stays at what the ridge gives:
0), and any guarantee for features that cannot represent ``Q`` (then the direct method is
biased; sequential DR stays unbiased for a model fitted on another log, and nearly so for one
fitted on the log it corrects).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_float, check_int

__all__ = ["FQE", "fqe", "state_features"]


class FQE(NamedTuple):
    """What :func:`fqe` fitted: ``q`` ``(n, A)`` = ``Q_hat(s_t, .)`` at every logged ``obs``;
    ``q_logged`` ``(n,)`` = ``Q_hat(s_t, a_t)``; ``v_target`` ``(n,)`` = ``sum_a pi(a | s_t)
    Q_hat(s_t, a)``; ``weights`` ``(k, A)``, one column ``w_a`` per action."""
    q: np.ndarray
    q_logged: np.ndarray
    v_target: np.ndarray
    weights: np.ndarray


def state_features(obs) -> np.ndarray:
    """``phi(s)`` for a batch of observations: ``[obs (flattened), 1]`` as float64, or, for a
    1-D integer array of state indices, one-hot rows of length ``max(obs) + 1``."""
    obs = np.asarray(obs)
    if obs.ndim == 1 and np.issubdtype(obs.dtype, np.integer):
        return np.eye(int(obs.max()) + 1)[obs]
    x = obs.reshape(obs.shape[0], -1).astype(np.float64)
    return np.hstack([x, np.ones((x.shape[0], 1))])


def fqe(log, target_policy, gamma: float = 1.0, ridge: float = 1.0, iterations: int | None = None,
        features=state_features) -> FQE:
    """Fit ``Q_hat`` of the target policy from ``log`` (a ``logs.Log``); see the module docstring.

    ``target_policy``: ``(n, A)``, row ``t`` the target's probabilities ``pi(. | s_t)`` at the
    logged ``obs`` (summing to 1, 0 on actions the row's ``action_mask`` forbids);
    ``logs.epsilon_greedy_policy`` builds one from greedy actions. ``iterations``: sweeps
    (default: the longest episode's length). ``features``: ``obs (n, ...) -> (n, k)``.
    ``FloatingPointError`` if the fit stops being finite (linear FQE can diverge).
    """
    n, A = len(log), log.n_actions
    pi = check_array("target_policy", target_policy, shape=(n, A), dtype=np.float64)
    if np.any(pi < 0) or not np.allclose(pi.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("target_policy rows must be probabilities summing to 1")
    if np.any(pi[~log.action_mask] > 0):
        raise ValueError("target_policy gives probability to actions the log's action_mask forbids")
    gamma = check_float("gamma", gamma, 0.0, 1.0)
    ridge = check_float("ridge", ridge, 0.0, low_open=True)
    H = int(log.step.max()) + 1 if n else 0
    iterations = H if iterations is None else check_int("iterations", iterations, minimum=1)
    phi = check_array("features(log.obs)", features(log.obs), shape=(n, None), dtype=np.float64)
    k = phi.shape[1]
    end = log.terminated | log.truncated          # no bootstrap past an episode's last row
    # Per action, the ridge solution as one (k, n_a) matrix: w_a = G_a @ y[rows_a].
    rows = [np.flatnonzero(log.action == a) for a in range(A)]
    G = [np.linalg.solve(phi[r].T @ phi[r] + ridge * np.eye(k), phi[r].T) for r in rows]
    W = np.zeros((k, A))
    for _ in range(iterations):
        with np.errstate(over="ignore", invalid="ignore"):  # a divergence is reported below, by name
            Q = phi @ W                                               # (n, A)
            V = (pi * Q).sum(axis=1)                                  # V_hat(s_t)
            V_next = np.where(end, 0.0, np.r_[V[1:], 0.0])            # V_hat(s_{t+1}): the next row
            y = log.reward + gamma * V_next
            for a in range(A):
                W[:, a] = G[a] @ y[rows[a]]
        if not np.all(np.isfinite(W)):
            raise FloatingPointError("fqe diverged (weights not finite); try a larger ridge or gamma < 1")
    Q = phi @ W
    return FQE(Q, Q[np.arange(n), log.action], (pi * Q).sum(axis=1), W)

"""Off-policy evaluation: a target policy's value estimated from a log another policy wrote.

Notation: the log holds actions ``a`` drawn by the behavior (logging) policy ``mu``; ``pi`` is the
target policy; ``rho = pi(a | s) / mu(a | s)`` is the importance weight of a logged step and
``rho_{0:t} = rho_0 rho_1 ... rho_t`` its running product within an episode. ``q_logged`` is a
model's ``Q_hat(s, a)`` of the logged action and ``v_target`` its ``V_hat(s) = sum_a pi(a | s)
Q_hat(s, a)`` (``fqe`` fits one from the log). Every estimator returns ``Estimate(value, se)``,
``se`` the standard error over samples (one-step data) or over episodes (sessions).

One-step (bandit) data, one row per decision: :func:`ips`, :func:`snips`, :func:`direct_method`,
:func:`doubly_robust`. Sessions, rows grouped by an ``episode`` array in step order:
:func:`per_decision_is`, :func:`weighted_per_decision_is`, :func:`sequential_dr` (Jiang & Li
2016). Unbiased where ``mu`` gives positive probability to every action ``pi`` takes: IPS, DR,
PDIS and sequential DR (DR and sequential DR for any ``Q_hat`` fixed independently of the log:
another log's, or cross-fitted; one fitted on the same log, as :func:`fqe` is in the benchmark,
makes them only approximately unbiased); SNIPS and WPDIS trade a bias that
vanishes with more data for a smaller variance, and the direct method is as good as its model.

Episodes end at their last logged row (terminated *or* truncated): the value estimated is the
expected sum of an episode's (discounted) rewards as the log's episodes were cut. Not covered:
collecting logs (``logs.py``), continuous actions, MAGIC and other blends, confidence intervals
beyond ``value ± 1.96 se``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_float
from .evaluation import ratio_estimate, standard_error
from .fqe import FQE, fqe

__all__ = ["Estimate", "ips", "snips", "direct_method", "doubly_robust", "per_decision_is",
           "weighted_per_decision_is", "sequential_dr", "fqe", "FQE", "episode_starts"]


class Estimate(NamedTuple):
    """A policy's estimated value and its standard error (NaN from a single sample or episode)."""
    value: float
    se: float

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """``(value - z se, value + z se)``: a 95 % normal confidence interval by default."""
        return self.value - z * self.se, self.value + z * self.se


def _mean(x: np.ndarray) -> Estimate:
    return Estimate(float(np.mean(x)), standard_error(x))


# ------------------------------------------------------------------------------------ checks
def _rows(name: str, x, n: int | None = None) -> np.ndarray:
    """A finite ``(n,)`` float64 array (``n`` from the first array checked)."""
    return check_array(name, x, shape=(n,) if n is not None else None, ndim=1, dtype=np.float64)


def _weights(behavior_prob, target_prob, n: int | None = None) -> np.ndarray:
    """``rho = pi / mu`` after checking ``mu`` in (0, 1] and ``pi`` in [0, 1], both ``(n,)``."""
    mu = _rows("behavior_prob", behavior_prob, n)
    pi = _rows("target_prob", target_prob, mu.shape[0])
    if np.any((mu <= 0) | (mu > 1)):
        raise ValueError(f"behavior_prob must be in (0, 1] (the logging policy took every logged action), "
                         f"got {mu[(mu <= 0) | (mu > 1)][0]}")
    if np.any((pi < 0) | (pi > 1)):
        raise ValueError(f"target_prob must be probabilities in [0, 1], got {pi[(pi < 0) | (pi > 1)][0]}")
    if mu.size == 0:
        raise ValueError("the log is empty: at least one row is needed")
    return pi / mu


def episode_starts(episode, n: int | None = None) -> np.ndarray:
    """Row index where each episode starts, for an ``(n,)`` int ``episode`` array whose episodes
    each sit in one block of consecutive rows (in step order: rows cannot tell, the caller must)."""
    ep = np.asarray(episode)
    if ep.ndim != 1 or not np.issubdtype(ep.dtype, np.integer):
        raise TypeError(f"episode must be a 1-D array of integer episode ids, got {ep.dtype} {ep.shape}")
    if n is not None and ep.shape != (n,):
        raise ValueError(f"episode must have shape ({n},), one id per row like rewards, got {ep.shape}")
    if ep.size == 0:
        raise ValueError("the log is empty: at least one row is needed")
    starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
    ids, blocks = np.unique(ep[starts], return_counts=True)
    if np.any(blocks > 1):
        raise ValueError("episode must keep each episode's rows together, in step order; episode ids "
                         f"{ids[blocks > 1][:5].tolist()} appear in more than one block of rows")
    return starts


def _by_episode(episode, fill: float, *columns: np.ndarray) -> list[np.ndarray]:
    """Each ``(n,)`` column as an ``(episodes, longest)`` matrix, row ``i`` holding episode ``i``'s
    steps from the left, padded with ``fill`` after its end."""
    n = columns[0].shape[0]
    starts = episode_starts(episode, n)
    lengths = np.diff(np.r_[starts, n])
    step = np.arange(n) - np.repeat(starts, lengths)
    row = np.repeat(np.arange(starts.size), lengths)
    out = []
    for x in columns:
        m = np.full((starts.size, lengths.max()), fill)
        m[row, step] = x
        out.append(m)
    return out


def _discounts(gamma, horizon: int) -> np.ndarray:
    gamma = check_float("gamma", gamma, 0.0, 1.0)
    return gamma ** np.arange(horizon)


# ------------------------------------------------------------------------------------ one step
def ips(rewards, behavior_prob, target_prob) -> Estimate:
    """Inverse propensity scoring: ``V = mean_i rho_i r_i``, ``rho_i = pi(a_i|x_i) / mu(a_i|x_i)``.

    Unbiased when ``mu > 0`` wherever ``pi > 0``; its variance grows with the weights."""
    r = _rows("rewards", rewards)
    return _mean(_weights(behavior_prob, target_prob, r.shape[0]) * r)


def snips(rewards, behavior_prob, target_prob) -> Estimate:
    """Self-normalised IPS: ``V = sum_i rho_i r_i / sum_i rho_i``.

    Biased for small samples (consistent), but stays within the rewards' range. ``se`` by the
    delta method: ``sqrt(sum_i rho_i^2 (r_i - V)^2 / (n (n - 1))) / mean(rho)``."""
    r = _rows("rewards", rewards)
    rho = _weights(behavior_prob, target_prob, r.shape[0])
    if not rho.sum() > 0:
        raise ValueError("snips: every importance weight is 0 (the target never takes a logged action)")
    return Estimate(*ratio_estimate(rho * r, rho))


def direct_method(v_target) -> Estimate:
    """The direct method: ``V = mean_i V_hat(x_i)``, a model's value of the target policy at each
    logged context (for sessions, pass ``V_hat`` of each episode's first state). As good as the model."""
    return _mean(_rows("v_target", v_target))


def doubly_robust(rewards, behavior_prob, target_prob, q_logged, v_target) -> Estimate:
    """Doubly robust: ``V = mean_i [V_hat(x_i) + rho_i (r_i - Q_hat(x_i, a_i))]``.

    Unbiased if either the weights or the model are right; with ``Q_hat = V_hat = 0`` it is IPS."""
    r = _rows("rewards", rewards)
    rho = _weights(behavior_prob, target_prob, r.shape[0])
    q, v = _rows("q_logged", q_logged, r.shape[0]), _rows("v_target", v_target, r.shape[0])
    return _mean(v + rho * (r - q))


# ------------------------------------------------------------------------------------ sessions
def _session_weights(episode, rewards, behavior_prob, target_prob):
    """``(rewards, rho_{0:t})`` as ``(episodes, longest)`` matrices: after an episode ends its reward
    is 0 and its weight stays where it was (an absorbing state where both policies agree)."""
    r = _rows("rewards", rewards)
    rho = _weights(behavior_prob, target_prob, r.shape[0])
    (R,), (RHO,) = _by_episode(episode, 0.0, r), _by_episode(episode, 1.0, rho)
    with np.errstate(over="ignore"):  # reported below, by name
        W = np.cumprod(RHO, axis=1)
    if not np.all(np.isfinite(W)):
        raise FloatingPointError("the products of importance weights overflow (a target this far from the "
                                 "logging policy, over episodes this long, cannot be estimated by weighting)")
    return R, W


def per_decision_is(episode, rewards, behavior_prob, target_prob, gamma=1.0) -> Estimate:
    """Per-decision importance sampling: ``V = mean_episodes sum_t gamma^t rho_{0:t} r_t``.

    Each reward is weighted by the product of the ratios of the decisions before it and its own
    (not the later ones); unbiased. ``se`` over episodes."""
    R, W = _session_weights(episode, rewards, behavior_prob, target_prob)
    return _mean((W * R) @ _discounts(gamma, R.shape[1]))


def weighted_per_decision_is(episode, rewards, behavior_prob, target_prob, gamma=1.0) -> Estimate:
    """Weighted per-decision IS: ``V = sum_t gamma^t (sum_i w_it r_it) / (sum_i w_it)``, ``w_it =
    rho^i_{0:t}`` (episode ``i``, step ``t``; an episode that ended keeps its last weight, reward 0).

    Each step's weights are normalised over episodes: biased, consistent, far less variable than
    PDIS. A step at which every weight is 0 adds 0; when every weight is 0 the log says nothing
    of the target: value 0 by that convention, ``se`` NaN (no interval). ``se`` by the delta method: episode ``i``
    contributes ``psi_i = sum_t gamma^t w_it (r_it - m_t) / mean_i(w_it)``, ``m_t`` step ``t``'s
    weighted mean, and ``se = std(psi) / sqrt(episodes)``."""
    R, W = _session_weights(episode, rewards, behavior_prob, target_prob)
    g = _discounts(gamma, R.shape[1])
    total = W.sum(axis=0)                                   # (longest,)
    seen = total > 0
    m = np.where(seen, (W * R).sum(axis=0) / np.where(seen, total, 1.0), 0.0)  # m_t
    psi = (W * (R - m) / np.where(seen, W.mean(axis=0), 1.0)) @ g
    return Estimate(float(m @ g), standard_error(psi) if seen[0] else float("nan"))


def sequential_dr(episode, rewards, behavior_prob, target_prob, q_logged, v_target, gamma=1.0) -> Estimate:
    """Doubly robust for sessions (Jiang & Li 2016), per episode from its last step back:

        V_DR(t) = V_hat(s_t) + rho_t (r_t + gamma V_DR(t + 1) - Q_hat(s_t, a_t)),   V_DR(end) = 0,

    and ``V = mean_episodes V_DR(0)``. Unrolled, which is what is computed here (all episodes at
    once): ``V_DR(0) = sum_t gamma^t [rho_{0:t-1} V_hat(s_t) + rho_{0:t} (r_t - Q_hat(s_t, a_t))]``
    with ``rho_{0:-1} = 1``. Unbiased for any ``Q_hat`` (with ``V_hat`` its value under ``pi``); with
    ``Q_hat = V_hat = 0`` it is PDIS. ``se`` over episodes."""
    r = _rows("rewards", rewards)
    n = r.shape[0]
    R, W = _session_weights(episode, r, behavior_prob, target_prob)
    Q, V = _by_episode(episode, 0.0, _rows("q_logged", q_logged, n), _rows("v_target", v_target, n))
    W_before = np.hstack([np.ones((W.shape[0], 1)), W[:, :-1]])  # rho_{0:t-1}
    return _mean((W_before * V + W * (R - Q)) @ _discounts(gamma, R.shape[1]))

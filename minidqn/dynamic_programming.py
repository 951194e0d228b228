"""Exact dynamic programming on a finite model: optimal values, and the value of a given policy.

These are the ground truth that the learners are measured against (tabular Q-learning in
``tabular.py``, DQN on the finite shops). Nothing here samples or learns.

Model convention (shared with every finite env's ``model()``): ``P[s, a, s']`` is the probability
of moving from non-terminal state ``s`` to non-terminal state ``s'`` under action ``a``; a row may
sum to less than 1, the missing mass being the probability that the episode ends there (value 0).
``R[s, a]`` is the expected immediate reward.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_float, check_int

__all__ = ["value_iteration", "policy_evaluation"]


def _check_model(P, R):
    P = check_array("P", P, ndim=3, dtype=np.float64)
    n_states, n_actions, n_next = P.shape
    if n_next != n_states or n_states == 0 or n_actions == 0:
        raise ValueError(f"P must have shape (S, A, S) with S, A >= 1, got {P.shape}")
    R = check_array("R", R, shape=(n_states, n_actions), dtype=np.float64)
    if (P < 0).any():
        raise ValueError(f"P must be non-negative, got min {P.min()}")
    row_sums = P.sum(axis=2)
    if (row_sums > 1 + 1e-9).any():
        s, a = np.unravel_index(row_sums.argmax(), row_sums.shape)
        raise ValueError(f"P[s, a, :] must sum to <= 1, got {row_sums[s, a]} at s={s}, a={a}")
    return P, R


def value_iteration(P, R, gamma, tol=1e-8, max_iter=100_000):
    """Optimal values by iterating ``V <- max_a (R[:, a] + gamma * P[:, a] @ V)`` from ``V = 0``.

    ``P``: ``(S, A, S)``, ``R``: ``(S, A)``, ``gamma`` in ``[0, 1]`` (1 is fine when every policy
    ends with probability 1). Stops when an iteration changes ``V`` by less than ``tol``; the
    returned ``Q_star`` then satisfies ``Q = R + gamma * P @ max_a Q`` to within ``tol``.
    Returns ``(Q_star, V_star)`` of shapes ``(S, A)`` and ``(S,)``, ``V_star = Q_star.max(1)``.
    """
    P, R = _check_model(P, R)
    gamma = check_float("gamma", gamma, 0.0, 1.0)
    tol = check_float("tol", tol, 0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    V = np.zeros(P.shape[0])
    for _ in range(max_iter):
        V_new = (R + gamma * (P @ V)).max(axis=1)
        delta = np.abs(V_new - V).max()
        V = V_new
        if delta < tol:
            break
    else:
        raise ValueError(f"value_iteration did not converge within max_iter={max_iter} "
                         f"(last change {delta:.3g} >= tol={tol}); with gamma=1 every policy must "
                         f"end with probability 1")
    Q_star = R + gamma * (P @ V)
    return Q_star, Q_star.max(axis=1)


def policy_evaluation(P, R, policy, gamma):
    """Exact value of a policy: solves ``(I - gamma * P_pi) V = R_pi``.

    ``policy`` is either actions of shape ``(S,)`` (deterministic) or probabilities of shape
    ``(S, A)`` (rows sum to 1). ``P_pi[s, s'] = sum_a pi(a|s) P[s, a, s']`` and likewise ``R_pi``.
    With ``gamma = 1`` the policy must end with probability 1 from every state (checked).
    Returns ``V`` of shape ``(S,)``.
    """
    P, R = _check_model(P, R)
    gamma = check_float("gamma", gamma, 0.0, 1.0)
    n_states, n_actions = R.shape
    pol = np.asarray(policy)
    if pol.shape == (n_states,) and np.issubdtype(pol.dtype, np.integer):
        if pol.min() < 0 or pol.max() >= n_actions:
            raise ValueError(f"policy actions must be in [0, {n_actions - 1}], "
                             f"got min {pol.min()} and max {pol.max()}")
        pi = np.eye(n_actions)[pol]
    elif pol.shape == (n_states, n_actions):
        pi = check_array("policy", pol, dtype=np.float64)
        if (pi < 0).any() or not np.allclose(pi.sum(axis=1), 1.0, atol=1e-9):
            raise ValueError("policy probabilities must be non-negative with rows summing to 1")
    else:
        raise ValueError(f"policy must be integer actions of shape ({n_states},) or probabilities "
                         f"of shape ({n_states}, {n_actions}), got dtype {pol.dtype} shape {pol.shape}")
    P_pi = np.einsum("sa,sat->st", pi, P)
    R_pi = (pi * R).sum(axis=1)
    if gamma == 1.0:
        # (I - P_pi) is singular exactly when some states can never reach an ending: find them.
        can_end = P_pi.sum(axis=1) < 1 - 1e-12
        while True:
            grown = can_end | (P_pi[:, can_end].sum(axis=1) > 0)
            if (grown == can_end).all():
                break
            can_end = grown
        if not can_end.all():
            raise ValueError(f"with gamma=1 the policy never ends from states "
                             f"{np.flatnonzero(~can_end)[:10].tolist()}; use gamma < 1")
    return np.linalg.solve(np.eye(n_states) - gamma * P_pi, R_pi)

"""Offline ranking evaluation: in logged visits, where does the product the shopper bought rank?

A logging policy (uniformly random recommendations, so every product gets its chance) walks
shoppers through ``ShopEnv``; each purchase becomes a test case: the observation before it, the
products allowed there, and the product bought. Each agent ranks the allowed products by its
score (Q-values for a learner, purchase counts for popularity, the true expected revenue for the
myopic oracle), and we report

    hit rate@k = P(rank <= k)        NDCG@k = E[1 / log2(rank + 1); rank <= k]

with one relevant product per case. Ties are neither rewarded nor punished: a tie group is taken
in random order, and both metrics are their exact expectations over that order. This measures
ranking against observed behaviour under one logging policy; it is not an online evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_generator, check_int
from .evaluation import standard_error


@dataclass
class PurchaseLog:
    """``n`` logged purchases: ``obs (n, d)``, ``action_mask (n, n_items)``, ``bought (n,)``, and
    the myopic oracle's scores at that moment, ``expected_reward (n, n_items)``."""
    obs: np.ndarray
    action_mask: np.ndarray
    bought: np.ndarray
    expected_reward: np.ndarray


def log_purchases(env, visits: int, seed=0) -> PurchaseLog:
    """Run ``visits`` shoppers under uniformly random recommendations; keep every purchase."""
    visits = check_int("visits", visits, minimum=1)
    rng = as_generator(seed)
    rows = {"obs": [], "action_mask": [], "bought": [], "expected_reward": []}
    for _ in range(visits):
        obs, info = env.reset(seed=int(rng.integers(2**31)))
        done = False
        while not done:
            mask = info["action_mask"]
            allowed = np.flatnonzero(mask)
            action = int(allowed[rng.integers(allowed.size)])
            scores = env.expected_reward()
            next_obs, _, terminated, truncated, info = env.step(action)
            if info["purchased"]:
                for key, value in (("obs", obs), ("action_mask", mask), ("bought", action),
                                   ("expected_reward", scores)):
                    rows[key].append(np.copy(value))
            obs, done = next_obs, terminated or truncated
    if not rows["bought"]:
        raise ValueError(f"no purchase in {visits} logged visits: log more visits")
    return PurchaseLog(**{key: np.array(value) for key, value in rows.items()})


def ranking_metrics(scores: np.ndarray, log: PurchaseLog, k: int) -> dict:
    """Hit rate@k and NDCG@k of ranking the allowed products by ``scores (n, n_items)``, each
    with a standard error over the ``n`` logged purchases."""
    k = check_int("k", k, minimum=1)
    scores = np.asarray(scores, float)
    if scores.shape != log.action_mask.shape:
        raise ValueError(f"scores must have shape {log.action_mask.shape}, got {scores.shape}")
    scores = np.where(log.action_mask, scores, -np.inf)
    own = scores[np.arange(len(log.bought)), log.bought][:, None]
    above = (scores > own).sum(axis=1)                      # certainly ranked higher
    tied = (scores == own).sum(axis=1)                      # the bought product and its ties
    hits, gains = np.zeros(len(above)), np.zeros(len(above))
    for i, (g, t) in enumerate(zip(above, tied)):           # position uniform on g+1 .. g+t
        positions = np.arange(g + 1, g + t + 1)
        inside = positions <= k
        hits[i] = inside.mean()
        gains[i] = np.mean(np.where(inside, 1.0 / np.log2(positions + 1.0), 0.0))
    return {"cases": int(len(above)), f"hit_rate@{k}": float(hits.mean()), f"hit_rate@{k}_se": standard_error(hits),
            f"ndcg@{k}": float(gains.mean()), f"ndcg@{k}_se": standard_error(gains)}


def agent_scores(agent, log: PurchaseLog) -> np.ndarray:
    """What each kind of agent ranks by: Q-values (learners), purchase counts (popularity), or
    the true expected revenue recorded in the log (the myopic oracle)."""
    from .baselines import GreedyAgent, PopularityAgent
    if isinstance(agent, GreedyAgent):
        return log.expected_reward
    if isinstance(agent, PopularityAgent):
        return np.tile(agent.counts.astype(float), (len(log.bought), 1))
    return np.asarray(agent.q_values(log.obs), float)

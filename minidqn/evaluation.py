"""Evaluation: run an agent greedily on seeded episodes and report metrics with standard errors.

``evaluate`` never calls ``observe``: nothing is learned. The metrics are the minimal set people
look for (mean return and session length) plus, where the env's ``info`` carries the shop's
events, revenue, conversion and click rates, catalogue coverage and categories per visit, each
mean with its standard error over episodes. Training is in ``train.py``.
"""
from __future__ import annotations

import math

import numpy as np

from ._validate import check_int
from .env_calls import action_mask, check_agent, check_env, finite_rewards, reset_env, step_env
from .spaces import Slate

__all__ = ["evaluate", "standard_error", "ratio_estimate", "DEFAULT_MAX_EPISODE_STEPS"]


def standard_error(x) -> float:
    """The standard error of the mean of ``x`` (``ddof=1``); NaN for fewer than two values."""
    return float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")


def ratio_estimate(num, den) -> tuple[float, float]:
    """``sum(num) / sum(den)`` and its standard error over episodes (ratio estimator)."""
    rate = float(num.sum() / den.sum())
    n = len(num)
    if n < 2:
        return rate, float("nan")
    return rate, float(math.sqrt(np.sum((num - rate * den) ** 2) / (n * (n - 1))) / den.mean())


DEFAULT_MAX_EPISODE_STEPS = 10_000  # evaluate's cap when neither the caller nor env.spec gives one


def _episode_cap(env, max_episode_steps: int | None) -> int:
    """``max_episode_steps`` when given, else the env's ``spec.max_episode_steps`` (Gymnasium's
    time limit) when it has one, else ``DEFAULT_MAX_EPISODE_STEPS``."""
    if max_episode_steps is not None:
        return check_int("max_episode_steps", max_episode_steps, minimum=1)
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    if isinstance(limit, (int, np.integer)) and not isinstance(limit, bool) and limit >= 1:
        return int(limit)
    return DEFAULT_MAX_EPISODE_STEPS


def evaluate(agent, env, episodes: int = 20, seed: int = 0, max_episode_steps: int | None = None) -> dict:
    """Run ``episodes`` episodes with ``agent.act(obs, explore=False)``; no learning.

    Episode ``i`` is reset with the ``i``-th seed of ``SeedSequence(seed)``, so the same
    ``seed`` gives the same shoppers whatever ``episodes`` is, and the episode seeds (hashes)
    are not the small integers ``train`` seeds its env with. Returns ``episodes``,
    ``mean_return``, ``std_return``, ``mean_return_se``, ``mean_length``, ``mean_length_se``
    and, when the env's ``info`` has ``revenue`` /
    ``purchased`` / ``clicked``, ``revenue_per_session``, ``conversion_rate`` (purchases per
    step) and ``click_rate`` (clicks per step), each with a ``_se``; ``clicked`` is a slot index
    (-1 for none) when the action space is a ``spaces.Slate``, else a flag read as ``bool``. With a ``Discrete`` action
    space, ``coverage``: the share of actions recommended at least once over all episodes (one
    number for the whole run, so no standard error); when the env has a ``category`` per action,
    ``categories_per_session``: distinct categories recommended in a visit, with its ``_se``.

    Every episode ends: terminated or truncated by the env, or cut after ``max_episode_steps``
    steps, so an env without a time limit (Gymnasium's CliffWalking, a policy that never
    reaches the goal) cannot hang the evaluation. The cap defaults to the env's
    ``spec.max_episode_steps`` (Gymnasium's ``TimeLimit``) and, when the env has none, to
    ``DEFAULT_MAX_EPISODE_STEPS`` (10,000). A cut episode counts as truncated:
    ``episodes_truncated`` (by the env or the cap) and ``truncated_rate`` (their share) are
    always reported, and ``episodes_capped`` says how many of them the cap cut.
    """
    check_agent(agent)
    check_env("env", env)
    if hasattr(env, "num_envs"):
        raise TypeError("evaluate takes a single env (episodes one after another, each seeded); "
                        f"got a vector env of {env.num_envs}")
    episodes = check_int("episodes", episodes, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    cap = _episode_cap(env, max_episode_steps)
    seeds = np.random.SeedSequence(seed).generate_state(episodes)
    returns, lengths = np.zeros(episodes), np.zeros(episodes)
    truncated_episodes, capped_episodes = 0, 0
    events = {key: np.zeros(episodes) for key in ("revenue", "purchased", "clicked")}
    seen = set()
    n_actions = getattr(getattr(env, "action_space", None), "n", None)
    slate = isinstance(getattr(env, "action_space", None), Slate)
    category = getattr(env, "category", None)
    recommended, categories = set(), np.zeros(episodes)
    for i in range(episodes):
        obs, info = reset_env(env, int(seeds[i]))
        mask, done = action_mask(info), False
        visit = set()
        while not done:
            action = agent.act(obs, explore=False, **({} if mask is None else {"action_mask": mask}))
            if isinstance(action, np.ndarray) and action.ndim:   # a slate: every product shown counts
                visit.update(action.tolist())
            else:
                visit.add(int(action))
            obs, reward, terminated, truncated, info = step_env(env, action)
            returns[i] += finite_rewards(reward, (), int(lengths[i]) + 1)
            lengths[i] += 1
            for key, totals in events.items():
                if key in info:
                    value = info[key]
                    if key == "clicked":  # a slate env reports the slot clicked (-1 for none); others a flag
                        value = int(value) >= 0 if slate else bool(value)
                    totals[i] += float(value)
                    seen.add(key)
            capped = not (terminated or truncated) and lengths[i] >= cap
            mask, done = action_mask(info), terminated or truncated or capped
        truncated_episodes += bool(done and not terminated)
        capped_episodes += capped
        recommended |= visit
        if category is not None:
            categories[i] = len({int(category[a]) for a in visit})
    metrics = {"episodes": episodes, "mean_return": float(returns.mean()),
               "std_return": float(returns.std()), "mean_return_se": standard_error(returns),
               "mean_length": float(lengths.mean()), "mean_length_se": standard_error(lengths),
               "episodes_truncated": truncated_episodes, "truncated_rate": truncated_episodes / episodes,
               "episodes_capped": capped_episodes}
    if "revenue" in seen:
        metrics["revenue_per_session"] = float(events["revenue"].mean())
        metrics["revenue_per_session_se"] = standard_error(events["revenue"])
    for key, name in (("purchased", "conversion_rate"), ("clicked", "click_rate")):
        if key in seen:
            metrics[name], metrics[name + "_se"] = ratio_estimate(events[key], lengths)
    if n_actions:
        metrics["coverage"] = len(recommended) / int(n_actions)
    if category is not None:
        metrics["categories_per_session"], metrics["categories_per_session_se"] = \
            float(categories.mean()), standard_error(categories)
    return metrics

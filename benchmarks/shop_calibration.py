"""What the default ``ShopConfig`` is for: hand-made policies on the shop, side by side.

The myopic oracle (``GreedyAgent``: highest true expected immediate reward) should clearly beat
random and popularity, and be clearly beaten by policies that look further: one using the hidden
state (``lookahead``) and one using only what an agent observes (``observed``, and its
``landing page only`` variant). ``tests/test_shop_config.py`` asserts those margins with fewer
visits; this script prints the table with more. The policies are yardsticks, not library code.
Run: ``python benchmarks/shop_calibration.py [visits per policy]``.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from minidqn.baselines import GreedyAgent
from minidqn.envs.catalogue import choice_probs
from minidqn.envs.shop_config import COUNT_SCALE, ShopConfig
from minidqn.envs.vector_shop import VectorShopEnv

# A policy is made for one env, ``make(env)``, and maps ``(obs, info)`` to ``(num_envs,)`` actions.


def run_policy(env, make, episodes, seed):
    """``(mean revenue per visit, its s.e., mean visit length, its s.e.)`` on a ``VectorShopEnv``.

    Each of the ``num_envs`` slots contributes its first ``ceil(episodes / num_envs)`` visits:
    taking the first visits to *end* overall would favour short visits.
    """
    quota = -(-episodes // env.num_envs)
    policy = make(env)
    obs, info = env.reset(seed=seed)
    ret, length = np.zeros(env.num_envs), np.zeros(env.num_envs, dtype=np.int64)
    count = np.zeros(env.num_envs, dtype=np.int64)
    rets, lens = [], []
    while count.min() < quota:
        obs, rew, term, trunc, info = env.step(policy(obs, info))
        ret += rew
        length += 1
        done = term | trunc
        keep = done & (count < quota)
        rets.extend(ret[keep])
        lens.extend(length[keep])
        count += done
        ret[done], length[done] = 0.0, 0
    r, n = np.array(rets), np.array(lens, dtype=float)
    return r.mean(), r.std(ddof=1) / np.sqrt(r.size), n.mean(), n.std(ddof=1) / np.sqrt(n.size)


def masked_argmax(score, mask):
    return np.where(mask, score, -np.inf).argmax(axis=1)


def random_policy(seed):
    rng = np.random.default_rng(seed)
    return lambda env: lambda obs, info: rng.integers(env.n_items, size=env.num_envs)


def popularity_policy(config, episodes=2000, seed=0):
    """Count purchases under random recommendations; then the most bought product not yet bought."""
    env, rng = VectorShopEnv(256, config, seed=seed), np.random.default_rng(seed)
    counts = np.zeros(env.n_items)
    env.reset()
    for _ in range(episodes * 12 // env.num_envs):
        a = rng.integers(env.n_items, size=env.num_envs)
        info = env.step(a)[-1]
        np.add.at(counts, a[info["purchased"]], 1)
    rank = np.argsort(-counts, kind="stable")
    return lambda env: lambda obs, info: rank[info["action_mask"][:, rank].argmax(axis=1)]


def greedy_policy(env):
    """The myopic oracle, ``GreedyAgent``, acting for every shopper of ``env`` at once."""
    agent = GreedyAgent(env)
    return lambda obs, info: agent.act(obs, action_mask=info["action_mask"])


def patience_change(config, catalogue, p_click, p_buy, refill):
    """``E[dP_i]``: ignored, let down, or refilled by ``refill`` (at most ``purchase_boost``)."""
    return (-(1 - p_click) * config.ignore_cost - p_click * (1 - p_buy) * catalogue.letdown
            + p_click * p_buy * refill)


def lookahead_policy(value_of_patience=0.3):
    """Hidden-state policy: expected reward plus the value of the expected change in patience,
    ``E[r_i] + lambda * mean_price * E[dP_i]`` (a purchase refills at most to ``P_0``)."""
    def make(env):
        cfg = env.config

        def policy(obs, info):
            h = env.hidden_state()
            p_click, p_buy = env.choice_probs()
            refill = np.minimum(cfg.purchase_boost, h["initial_patience"] - h["patience"])[:, None]
            d_patience = patience_change(cfg, env.catalogue, p_click, p_buy, refill)
            expected_reward = p_click * (cfg.click_reward + p_buy * env.price)  # as the env's
            return masked_argmax(expected_reward + value_of_patience * cfg.mean_price * d_patience,
                                 info["action_mask"])
        return policy
    return make


def observed_policy(use_clicks=True, value_of_patience=0.1, min_quality=0.3):
    """Observation-only policy (what a learner could find): guess the taste from the landing
    category (and, ``use_clicks``, from the clicks and ignores per category), skip low-rated
    products, and score the rest as ``lookahead_policy`` does, with that guess and the median
    shopper in place of the hidden state."""
    def make(env):
        cfg, cat, k = env.config, env.catalogue, env.n_categories
        median_buy_base = cat.buy_static - cfg.price_sensitivity * cat.log_rel_price

        def policy(obs, info):
            entry, views, clicks, buys = (obs[:, i * k:(i + 1) * k].astype(float)
                                          for i in range(4))
            views, clicks, buys = views / COUNT_SCALE, clicks / COUNT_SCALE, buys / COUNT_SCALE
            w = 3.0 * cat.popularity + 10.0 * entry
            if use_clicks:
                w = (w + 2.0 * clicks) * np.exp(-0.3 * (views - clicks))
            match = k * (w / w.sum(axis=1, keepdims=True) * cfg.satiation ** buys)[:, cat.category]
            p_click, p_buy = choice_probs(cfg, cat.click_static, median_buy_base, match)
            d_patience = patience_change(cfg, cat, p_click, p_buy, cfg.purchase_boost)
            score = p_click * p_buy * env.price + value_of_patience * cfg.mean_price * d_patience
            score = np.where(env.quality < min_quality, -np.inf, score)
            return masked_argmax(score, info["action_mask"])
        return policy
    return make


POLICIES = {"random": lambda: random_policy(1),
            "popularity": lambda: popularity_policy(ShopConfig()),
            "greedy": lambda: greedy_policy,
            "lookahead": lookahead_policy,
            "observed": observed_policy,
            "landing page only": lambda: observed_policy(use_clicks=False)}


def calibration(episodes, num_envs=1024, seed=7):
    """``{policy name: run_policy(...) + (seconds,)}`` on the default shop."""
    env, results = VectorShopEnv(num_envs, seed=0), {}
    for name, make in POLICIES.items():
        start = time.perf_counter()
        results[name] = run_policy(env, make(), episodes, seed) + (time.perf_counter() - start,)
    return results


def main(episodes=20000) -> None:
    results = calibration(episodes)
    print(f"{episodes} visits per policy, default ShopConfig; mean ± standard error")
    print(f"{'policy':18s} {'revenue/visit':>15s} {'x greedy':>9s} {'visit length':>14s}")
    for name, (mean, se, length, length_se, seconds) in results.items():
        print(f"{name:18s} {mean:7.3f} ± {se:.3f} {mean / results['greedy'][0]:9.2f}"
              f" {length:7.2f} ± {length_se:.2f}   ({seconds:.1f} s)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))

"""ShopEnv speed: single-env steps/s and batched shopper-steps/s, measured side by side.

Random actions (drawn beforehand, so only the env is timed), default ``ShopConfig``, visits
reset as they end (``reset()`` for the single env, same-step autoreset for the batched one), so
the figures include drawing new shoppers at the rate a random policy ends visits. Medians of
repeated blocks. Then the DQN's training throughput with the shop recipe (env steps per second,
learning included: acting, storing, one update per two transitions), collecting from one shopper
or from eight in parallel.
Run: ``python benchmarks/bench_env.py``.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_seconds, print_table  # noqa: E402

from minidqn.envs.shop import ShopEnv  # noqa: E402
from minidqn.experiments import make_agent  # noqa: E402
from minidqn.train import train  # noqa: E402
from minidqn.envs.vector_shop import VectorShopEnv  # noqa: E402

BATCH_SIZES = (1, 64, 256, 1024, 4096)
TARGET = 1_000_000      # shopper-steps/s wanted with 1,024 shoppers


def single_block(steps: int = 2000):
    """A function that runs ``steps`` single-env steps (resetting as visits end)."""
    env = ShopEnv(seed=0)
    env.reset()
    actions = np.random.default_rng(0).integers(env.n_items, size=steps).tolist()

    def run():
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
    return run


def vector_block(num_envs: int, steps: int):
    """A function that runs ``steps`` batched steps of ``num_envs`` shoppers."""
    env = VectorShopEnv(num_envs, seed=0)
    env.reset()
    actions = np.random.default_rng(0).integers(env.n_items, size=(steps, num_envs))

    def run():
        for a in actions:
            env.step(a)
    return run


def main() -> None:
    steps = 2000
    single = steps / median_seconds(single_block(steps), repeat=9, number=1)
    rows = [["ShopEnv", 1, f"{single:,.0f}", "1.0"]]
    for n in BATCH_SIZES:
        block = max(5, min(1000, 20_000 // n))
        rate = n * block / median_seconds(vector_block(n, block), repeat=9, number=1)
        rows.append(["VectorShopEnv", n, f"{rate:,.0f}", f"{rate / single:.1f}"])
        if n == 1024:
            at_1024 = rate
    print_table(["env", "shoppers", "shopper-steps/s", "x single"], rows)
    verdict = "meets" if at_1024 >= TARGET else "MISSES"
    print(f"\nbatched, 1,024 shoppers: {at_1024:,.0f} shopper-steps/s ({verdict} the "
          f"{TARGET:,} target); medians of 9 blocks, random actions, default config\n")

    rows = []
    for num_envs in (1, 8):
        env = VectorShopEnv(num_envs, seed=0) if num_envs > 1 else ShopEnv(seed=0)
        agent = make_agent("dqn", env, seed=0, learning_starts=1_000)
        train(agent, env, 1_000, seed=0, progress=False)            # fill the buffer first
        history = train(agent, env, 6_000, seed=1, progress=False)   # every step now learns
        rows.append([f"DQN, {num_envs} shopper{'s' * (num_envs > 1)}", f"{history.steps_per_second:,.0f}",
                     agent.updates])
    print_table(["training (shop recipe)", "env steps/s", "updates"], rows)


if __name__ == "__main__":
    main()

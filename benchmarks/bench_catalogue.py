"""ItemDQNAgent against catalogue size: time and memory of ``recommend`` and ``train_step``.

For catalogues of 100 to 10,000 products of the default shop's kind (``ShopConfig(n_items=N)``),
prints the median time of

* ``recommend(obs, 10)`` for one shopper when the catalogue's embedding is cached (between two
  updates, as in evaluation and serving) and when it must be computed again (right after an
  update, as in training);
* ``q_values`` for a batch of 256 shoppers (cached);
* ``train_step()`` (batch 64: the target's max over all ``N`` products);

and the memory each allocates at its peak (``tracemalloc``), with the replay's bytes per stored
transition. ``--architectures`` adds the concatenation network at 100 and 1,000 products (the
comparison quoted in ``minidqn/item_dqn.py``). Run: ``python benchmarks/bench_catalogue.py``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_seconds, print_table  # noqa: E402

from minidqn import ItemDQNAgent, ShopConfig, ShopEnv  # noqa: E402

SIZES = (100, 1_000, 3_000, 10_000)


def filled_agent(n_items: int, architecture: str = "two-tower", n: int = 2_000):
    """An agent for a shop of ``n_items`` products with ``n`` random transitions stored."""
    env = ShopEnv(ShopConfig(n_items=n_items))
    agent = ItemDQNAgent.for_env(env, architecture=architecture, learning_starts=10 ** 9, buffer_size=n, seed=0)
    rng = np.random.default_rng(0)
    d = agent.obs_dim
    agent.observe(rng.random((n, d)).astype(np.float32), rng.integers(n_items, size=n), rng.random(n),
                  rng.random((n, d)).astype(np.float32), rng.random(n) < 0.1)
    return agent, rng.random((256, d)).astype(np.float32)


def peak_bytes(fn) -> int:
    """Peak memory ``fn()`` allocates, by ``tracemalloc`` (NumPy reports its buffers to it)."""
    fn()  # warm-up: workspaces exist before measuring
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def measure(n_items: int, architecture: str = "two-tower") -> dict:
    agent, states = filled_agent(n_items, architecture)
    obs = states[0]
    agent.q_values(obs)  # embeds the catalogue

    def cold_recommend():
        agent._version += 1  # as after an update: the embedding is computed again
        agent.recommend(obs, 10)

    buf = agent.buffer
    return {"recommend": median_seconds(lambda: agent.recommend(obs, 10)),
            "recommend_fresh": median_seconds(cold_recommend, repeat=7),
            "batch256": median_seconds(lambda: agent.q_values(states)),
            "train_step": median_seconds(agent.train_step, repeat=7),
            "mem_recommend": peak_bytes(lambda: agent.recommend(obs, 10)),
            "mem_fresh": peak_bytes(cold_recommend),
            "mem_train": peak_bytes(agent.train_step),
            "replay_per_transition": (buf.obs.nbytes + buf.next_obs.nbytes + buf.item_x.nbytes + buf.actions.nbytes
                                      + buf.rewards.nbytes + buf.terminated.nbytes + buf.next_action_mask.nbytes
                                      + buf.discounts.nbytes) / buf.capacity}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def mib(nbytes: float) -> str:
    return f"{nbytes / 2 ** 20:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", action="store_true", help="also time the concatenation network")
    args = parser.parse_args()
    rows = []
    for arch, sizes in [("two-tower", SIZES)] + ([("concat", SIZES[:2])] if args.architectures else []):
        for n in sizes:
            m = measure(n, arch)
            rows.append([arch, f"{n:,}", ms(m["recommend"]), ms(m["recommend_fresh"]), ms(m["batch256"]),
                         ms(m["train_step"]), mib(m["mem_recommend"]), mib(m["mem_fresh"]), mib(m["mem_train"]),
                         f"{m['replay_per_transition']:,.0f}"])
    print_table(["network", "products", "recommend ms", "after update ms", "256 shoppers ms", "train_step ms",
                 "recommend MiB", "after update MiB", "train_step MiB", "replay B/transition"], rows)
    print("medians; one BLAS thread; hidden (64, 64), k = 32, batch 64; memory: tracemalloc peak of one call")


if __name__ == "__main__":
    main()

"""Cold start for products: an ``ItemDQNAgent`` trained on one catalogue, judged on products it
has never seen, without retraining.

For each seed: ``ItemDQNAgent`` and ``DQNAgent`` are trained on the default shop (catalogue 0,
100 products) with their recipes (``experiments.RECIPES``, 100,000 steps: ItemDQNAgent with the
settings written in its recipe, 8 shoppers in parallel; DQNAgent with its defaults, one shopper). Then 500 fresh shoppers (the same ones for every agent on a catalogue)
visit each of three catalogues:

* ``train``: the training catalogue;
* ``new 100``: 100 products never seen (``catalogue_seed`` 1), given by ``set_items``;
* ``new 1000``: 1,000 new products (``catalogue_seed`` 2, ``n_items=1000``).

Against the myopic oracle (``GreedyAgent``: each shopper's true click and purchase
probabilities, new products included), ``DQNAgent`` (one output per product id: on ``new 100``
it is run by id, as if the new products were the old ones; ``new 1000`` it cannot score at all)
and popularity (purchase counts from 20,000 random recommendations on the training catalogue; a
new product has no count, so on new catalogues it recommends at random). Prints revenue per
session as a ratio to the oracle's, the median and range over seeds, and writes every run's
figures to ``--out`` (JSON). Run one seed at a time on a shared machine:
``OMP_NUM_THREADS=1 nice -n 10 python benchmarks/cold_start.py --seeds 0 1 2``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _timing  # noqa: E402,F401  (one BLAS thread, as everywhere)

from minidqn import GreedyAgent, ItemDQNAgent, PopularityAgent, ShopConfig, ShopEnv, VectorShopEnv  # noqa: E402
from minidqn.experiments import RECIPES, make_agent  # noqa: E402
from minidqn.train import evaluate, train  # noqa: E402

CATALOGUES = {"train": ShopConfig(), "new 100": ShopConfig(catalogue_seed=1),
              "new 1000": ShopConfig(catalogue_seed=2, n_items=1000)}
EVAL_SEED = 12_345  # the same 500 shoppers for every agent and seed


def run_seed(seed: int, steps: int, episodes: int, save_dir: str | None = None) -> dict:
    """Revenue per session of every agent on every catalogue, for one training seed."""
    recipe, dqn_recipe = RECIPES[("shop", "item-dqn")], RECIPES[("shop", "dqn")]
    out = {}
    start = time.perf_counter()
    item = ItemDQNAgent.for_env(VectorShopEnv(recipe.num_envs), seed=seed, **recipe.hyperparameters)
    train(item, VectorShopEnv(recipe.num_envs, seed=seed), steps, seed=seed, progress=False)
    out["train_seconds_item_dqn"] = time.perf_counter() - start
    if save_dir:
        item.save(os.path.join(save_dir, f"item_dqn_seed{seed}.npz"), metadata={"env": "shop", "agent": "item-dqn"})
    start = time.perf_counter()
    dqn = make_agent("dqn", VectorShopEnv(dqn_recipe.num_envs), seed=seed)
    train(dqn, VectorShopEnv(dqn_recipe.num_envs, seed=seed), steps, seed=seed, progress=False)
    out["train_seconds_dqn"] = time.perf_counter() - start
    popularity = make_agent("popularity", ShopEnv(), seed=seed)
    for name, config in CATALOGUES.items():
        env = ShopEnv(config)
        item.set_items(env.item_features)
        agents = {"oracle": GreedyAgent(env, seed=seed), "item-dqn": item,
                  "popularity": popularity if name == "train" else PopularityAgent.for_env(env, seed=seed)}
        if config.n_items == dqn.n_actions:
            agents["dqn"] = dqn
        for who, agent in agents.items():
            out[f"{name}/{who}"] = evaluate(agent, env, episodes, seed=EVAL_SEED)["revenue_per_session"]
    return out


def summary(runs: list) -> str:
    lines = [f"Cold start: revenue per session / the myopic oracle's, {len(runs)} seed(s), "
             "median (min - max) over seeds; 500 fresh shoppers per catalogue",
             f"{'catalogue':<10} {'oracle':>8} " + " ".join(f"{w:>22}" for w in ("item-dqn", "dqn", "popularity"))]
    for name in CATALOGUES:
        oracle = np.array([r[f"{name}/oracle"] for r in runs])
        cells = []
        for who in ("item-dqn", "dqn", "popularity"):
            if f"{name}/{who}" not in runs[0]:
                cells.append(f"{'n/a':>22}")
                continue
            ratio = np.array([r[f"{name}/{who}"] for r in runs]) / oracle
            cells.append(f"{np.median(ratio):>8.3f} ({ratio.min():.3f} - {ratio.max():.3f})")
        lines.append(f"{name:<10} {np.median(oracle):>8.3f} " + " ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--out", default="cold_start.json", help="JSON file of every run (appended to)")
    parser.add_argument("--save-dir", help="folder to save each seed's trained ItemDQNAgent in")
    args = parser.parse_args()
    runs = json.load(open(args.out)) if os.path.exists(args.out) else {}
    for seed in args.seeds:
        runs[str(seed)] = run_seed(seed, args.steps, args.episodes, args.save_dir)
        with open(args.out, "w") as f:
            json.dump(runs, f, indent=1)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in runs[str(seed)].items()), flush=True)
    print(summary([runs[str(s)] for s in sorted(runs, key=int)]))


if __name__ == "__main__":
    main()

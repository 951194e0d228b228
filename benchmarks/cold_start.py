"""Cold start for products: an ``ItemDQNAgent`` trained on one catalogue, judged on products it
has never seen, without retraining.

For each seed: ``ItemDQNAgent`` and ``DQNAgent`` are trained on the default shop (catalogue 0,
100 products) with their recipes (``experiments.RECIPES``, 100,000 steps with the agents'
defaults: ItemDQNAgent 8 shoppers in parallel, DQNAgent one shopper). Then ``minidqn.cold_start.compare_catalogues`` (the code behind ``minidqn compare
--cold-start``) runs 500 fresh shoppers (the same ones for every agent on a catalogue) on each
of three catalogues:

* ``train``: the training catalogue;
* ``new 100``: 100 products never seen (``catalogue_seed`` 1), given by ``set_items``;
* ``new 1000``: 1,000 new products (``catalogue_seed`` 2, ``n_items=1000``).

Against the myopic oracle (``GreedyAgent``: each shopper's true click and purchase
probabilities, new products included), ``DQNAgent`` (one output per product id: on ``new 100``
it is run by id, as if the new products were the old ones; ``new 1000`` it cannot score at all)
and popularity (purchase counts from 20,000 random recommendations on the training catalogue; a
new product has no count, so on new catalogues it recommends at random). Prints revenue per
session as a ratio to the oracle's, the median and range over seeds, and writes every run's
figures to ``--out`` (JSON). ``--no-dqn`` trains only the item DQN; ``--set name=value`` changes
one of its settings (``--set item_noise=0``), for comparisons. About 45 s per seed for the item
DQN and 35 s for the DQN on one core; run one seed at a time on a shared machine:
``OMP_NUM_THREADS=1 nice -n 10 python benchmarks/cold_start.py --seeds 0 1 2``.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _timing  # noqa: E402,F401  (one BLAS thread, as everywhere)

from minidqn import ItemDQNAgent, VectorShopEnv  # noqa: E402
from minidqn.cold_start import CATALOGUES, compare_catalogues, flat_revenues  # noqa: E402
from minidqn.experiments import RECIPES, make_agent  # noqa: E402
from minidqn.train import train  # noqa: E402

EVAL_SEED = 12_345  # the same 500 shoppers for every agent and seed


def run_seed(seed: int, steps: int, episodes: int, save_dir: str | None = None, dqn: bool = True,
             settings: dict | None = None) -> dict:
    """Revenue per session of every agent on every catalogue, for one training seed."""
    recipe, dqn_recipe = RECIPES[("shop", "item-dqn")], RECIPES[("shop", "dqn")]
    out = {}
    start = time.perf_counter()
    hyper = {**recipe.hyperparameters, **(settings or {})}
    item = ItemDQNAgent.for_env(VectorShopEnv(recipe.num_envs), seed=seed, **hyper)
    train(item, VectorShopEnv(recipe.num_envs, seed=seed), steps, seed=seed, progress=False)
    out["train_seconds_item_dqn"] = time.perf_counter() - start
    if save_dir:
        item.save(os.path.join(save_dir, f"item_dqn_seed{seed}.npz"), metadata={"env": "shop", "agent": "item-dqn"})
    agents = {"item-dqn": item}
    if dqn:
        start = time.perf_counter()
        agents["dqn"] = make_agent("dqn", VectorShopEnv(dqn_recipe.num_envs), seed=seed)
        train(agents["dqn"], VectorShopEnv(dqn_recipe.num_envs, seed=seed), steps, seed=seed, progress=False)
        out["train_seconds_dqn"] = time.perf_counter() - start
    results = compare_catalogues(agents, ("popularity",), episodes, EVAL_SEED, baseline_seed=seed)
    out.update(flat_revenues(results))
    return out


def summary(runs: list) -> str:
    lines = [f"Cold start: revenue per session / the myopic oracle's, {len(runs)} seed(s), "
             "median (min - max) over seeds; 500 fresh shoppers per catalogue",
             f"{'catalogue':<10} {'oracle':>8} " + " ".join(f"{w:>22}" for w in ("item-dqn", "dqn", "popularity"))]
    for name in CATALOGUES:
        oracle = np.array([r[f"{name}/oracle"] for r in runs])
        cells = []
        for who in ("item-dqn", "dqn", "popularity"):
            if any(f"{name}/{who}" not in r for r in runs):
                cells.append(f"{'n/a':>22}")
                continue
            ratio = np.array([r[f"{name}/{who}"] for r in runs]) / oracle
            cells.append(f"{np.median(ratio):>8.3f} ({ratio.min():.3f} - {ratio.max():.3f})")
        lines.append(f"{name:<10} {np.median(oracle):>8.3f} " + " ".join(cells))
    return "\n".join(lines)


def _setting(text: str) -> tuple:
    name, _, value = text.partition("=")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"expected name=value with a Python literal value, got {text!r}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--out", default="cold_start.json", help="JSON file of every run (appended to)")
    parser.add_argument("--save-dir", help="folder to save each seed's trained ItemDQNAgent in")
    parser.add_argument("--no-dqn", action="store_true", help="train and compare the item DQN only")
    parser.add_argument("--set", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                        help="an ItemDQNAgent setting over its defaults (repeatable)")
    args = parser.parse_args()
    runs = json.load(open(args.out)) if os.path.exists(args.out) else {}
    for seed in args.seeds:
        runs[str(seed)] = run_seed(seed, args.steps, args.episodes, args.save_dir, not args.no_dqn, dict(args.set))
        with open(args.out, "w") as f:
            json.dump(runs, f, indent=1)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in runs[str(seed)].items()), flush=True)
    print(summary([runs[str(s)] for s in sorted(runs, key=int)]))


if __name__ == "__main__":
    main()

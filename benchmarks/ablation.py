"""Ablation of DQNAgent's defaults: each component switched back, one at a time, over seeds.

Every problem a DQN learns in ``benchmarks/seeds.py`` (the feature shop, the tabular shop,
pricing, and Gymnasium's CartPole-v1 where Gymnasium is installed) is trained with the defaults
of ``DQNConfig`` and with one field changed, on the same seeds and budgets as the learning tests
(``minidqn.experiments.RECIPES``: the DQN recipes hold only a budget now). The table gives each
variant's median and min-max over seeds; the README's "Defaults" section quotes it.

``--overestimation`` prints the other half of the evidence, for the shop: the learned value of
a fresh shopper's first page, ``max_a Q(s0, a)`` averaged over 200 shoppers, every 10,000 steps,
beside the true discounted value of the greedy policy from those same first pages (Monte Carlo,
``sum_t gamma^t r_t`` over the shoppers' whole visits), with the defaults and with the former
defaults. Overestimation is the gap (van Hasselt et al., "Deep Reinforcement Learning with
Double Q-learning", 2016, measure it the same way).

Run: ``python benchmarks/ablation.py [--seeds 5] [--jobs 2] [--only shop,cartpole]
[--variants defaults,gamma] [--overestimation]``. Expect roughly a minute per shop run and
half a minute per other run on one core.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import print_table  # noqa: E402  (importing it also sets one BLAS thread)
from seeds import PROBLEMS, run_one  # noqa: E402

from minidqn import DQNAgent, control_task_settings, limit_blas_threads  # noqa: E402
from minidqn.envs.shop import ShopEnv  # noqa: E402
from minidqn.train import train  # noqa: E402

# name -> (what changes, the fields). "former" is DQNConfig as it was before its defaults were
# chosen by this ablation (issue 11): what a user got then.
FORMER = dict(gamma=0.99, tau=None, target_update=500, lr=1e-3, train_freq=1, lr_end_factor=1.0)
VARIANTS = {
    "defaults": ("DQNConfig()", {}),
    "gamma": ("gamma 0.99", dict(gamma=0.99)),
    "hard": ("hard target copy every 500 updates", dict(tau=None, target_update=500)),
    "lr": ("lr 1e-3", dict(lr=1e-3)),
    "lr_decay": ("a constant lr (no decay over the run)", dict(lr_end_factor=1.0)),
    "train_freq": ("an update every transition", dict(train_freq=1)),
    "nstep": ("+ 3-step returns", dict(n_steps=3)),
    "dueling": ("+ dueling head", dict(dueling=True)),
    "former": ("the former defaults (gamma, lr and its decay, train_freq, hard copy)", FORMER),
    "control": ("control_task_settings()", control_task_settings()),
}
DQN_PROBLEMS = [key for key in PROBLEMS if key[1] == "dqn" and key[0] not in ("acrobot", "mountaincar")]


def overestimation(seed: int, overrides: dict, total: int = 100_000, every: int = 10_000,
                   shoppers: int = 200) -> list[tuple[int, float, float]]:
    """``[(step, mean max_a Q(s0, a), mean discounted return of the greedy policy), ...]``."""
    env = ShopEnv(seed=seed)
    agent = DQNAgent.for_env(env, seed=seed, **overrides)
    rows = []
    for k in range(total // every):
        train(agent, env, every, seed=seed + k, progress=False)  # each run starts new visits
        estimate, actual = [], []
        probe = ShopEnv()
        for i in range(shoppers):
            obs, info = probe.reset(seed=20_000 + i)
            estimate.append(float(agent.q_values(obs).max()))
            ret, discount, done = 0.0, 1.0, False
            while not done:
                obs, r, terminated, truncated, info = probe.step(
                    agent.act(obs, explore=False, action_mask=info["action_mask"]))
                ret += discount * r
                discount *= agent.config.gamma
                done = terminated or truncated
            actual.append(ret)
        rows.append(((k + 1) * every, float(np.mean(estimate)), float(np.mean(actual))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds, from 0 (default 5)")
    parser.add_argument("--jobs", type=int, default=1, help="processes in parallel (default 1)")
    parser.add_argument("--only", default="", help="comma-separated problems, e.g. shop,cartpole")
    parser.add_argument("--variants", default="", help=f"comma-separated, of {','.join(VARIANTS)}")
    parser.add_argument("--overestimation", action="store_true", help="the shop's Q(s0) over training")
    args = parser.parse_args()
    keys = [k for k in DQN_PROBLEMS if not args.only or k[0] in args.only.split(",")]
    names = [v for v in VARIANTS if not args.variants or v in args.variants.split(",")]
    if not keys or not names or args.seeds < 1 or args.jobs < 1:
        parser.error("nothing to run: check --only, --variants, --seeds and --jobs")
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=limit_blas_threads, initargs=(1,)) as pool:
        if args.overestimation:
            runs = {(name, seed): pool.submit(overestimation, seed, VARIANTS[name][1])
                    for name in ("defaults", "former") for seed in range(args.seeds)}
            rows = []
            for name in ("defaults", "former"):
                curves = np.array([runs[name, seed].result() for seed in range(args.seeds)])  # (seeds, t, 3)
                for t in range(curves.shape[1]):
                    q, v = curves[:, t, 1], curves[:, t, 2]
                    rows.append([VARIANTS[name][0], f"{int(curves[0, t, 0]):,}", f"{np.median(q):.2f}",
                                 f"{q.min():.2f}-{q.max():.2f}", f"{np.median(v):.2f}", f"{np.median(q - v):+.2f}"])
            print(f"\nShop: mean max_a Q(s0, a) over 200 fresh shoppers vs the greedy policy's true discounted "
                  f"value; medians over {args.seeds} seeds, {time.perf_counter() - start:.0f} s")
            print_table(["variant", "step", "Q(s0)", "min-max", "true value", "Q - true"], rows)
            return
        tasks = {(key, name, seed): pool.submit(run_one, key, seed, VARIANTS[name][1])
                 for key in keys for name in names for seed in range(args.seeds)}
        rows = []
        for key in keys:
            for name in names:
                figures = [tasks[key, name, seed].result()[2] for seed in range(args.seeds)]
                for metric in figures[0]:
                    if metric.startswith("seconds") and name != "defaults":
                        continue
                    values = [f[metric] for f in figures]
                    rows.append([key[0], VARIANTS[name][0], metric, f"{np.median(values):.3f}",
                                 f"{min(values):.3f}-{max(values):.3f}"])
    print(f"\n{args.seeds} seeds (0..{args.seeds - 1}), numpy {np.__version__}; "
          f"{time.perf_counter() - start:.0f} s with {args.jobs} process(es)")
    print_table(["problem", "variant", "metric", "median", "min-max"], rows)


if __name__ == "__main__":
    main()

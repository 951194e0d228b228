"""Learning from a log alone on the feature shop: offline DQN with and without CQL, over seeds.

For each seed ``s``: a log of ``--visits`` (5,000) visits of the myopic recommender
(``GreedyAgent``: the highest true expected immediate revenue) with ε = 0.3 over the allowed
products (``collect_log(..., seed=s)``); a fresh ``DQNAgent.for_env(ShopEnv(), seed=s,
cql_alpha=α)`` with its defaults trained by ``train_offline`` for ``--updates`` (20,000) updates on
that log, never acting; then its greedy policy and the myopic recommender on the same
``--eval-visits`` (500) fresh shoppers (``evaluate(..., seed=10_000 + s)``). Printed per α: the
ratio of their revenue per visit (median and min – max over seeds), the learned ``max_a Q`` of
a fresh visit's first page next to the policy's true (undiscounted) revenue per visit (a Q far
above it is the overestimation CQL is for), and the off-policy estimates of the learned policy's
value from its own log (``experiments.log_estimates``: PDIS, WPDIS, FQE's direct method,
sequential DR) next to that truth, with the share of seeds whose ``estimate ± 1.96 se`` holds it
and the effective sample size of the visits' importance weights.

Run: ``OMP_NUM_THREADS=1 nice -n 10 python benchmarks/offline.py [--seeds 10] [--alphas 0,0.1,0.3,1,3]``
(about a minute per seed on one core), or ``--quick`` (2 seeds, small log and budget: a smoke run,
not a result).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _timing  # noqa: E402,F401  (one BLAS thread, as everywhere)

from minidqn import DQNAgent, GreedyAgent, ShopEnv  # noqa: E402
from minidqn.experiments import LOG_ESTIMATORS, log_estimates  # noqa: E402
from minidqn.logs import collect_log  # noqa: E402
from minidqn.offline import train_offline  # noqa: E402
from minidqn.train import evaluate  # noqa: E402
from ope import score  # noqa: E402  (benchmarks/ope.py)

LOG_EPSILON = 0.3
EVAL_SEED = 10_000


def one_seed(seed: int, alphas, visits: int, updates: int, eval_visits: int) -> dict:
    """alpha -> measurements for seed ``seed`` (and "myopic": the logger's value on the same shoppers)."""
    env = ShopEnv()
    log = collect_log(GreedyAgent(env, seed=seed), env, visits, seed=seed, epsilon=LOG_EPSILON)
    ev = ShopEnv()
    out = {"myopic": evaluate(GreedyAgent(ev, seed=seed), ev, eval_visits, seed=EVAL_SEED + seed)["mean_return"]}
    first_pages = np.stack([ShopEnv().reset(seed=EVAL_SEED + seed + i)[0] for i in range(100)])
    for alpha in alphas:
        agent = DQNAgent.for_env(ShopEnv(), seed=seed, cql_alpha=alpha)
        train_offline(agent, log, updates, progress=False)
        metrics = evaluate(agent, ShopEnv(), eval_visits, seed=EVAL_SEED + seed)
        out[alpha] = {"value": metrics["mean_return"], "se": metrics["mean_return_se"],
                      "ratio": metrics["mean_return"] / out["myopic"],
                      "q0": float(agent.q_values(first_pages).max(axis=1).mean()),
                      "ope": log_estimates(agent, log)}
    return out


def tables(runs: list, alphas) -> str:
    lines = [f"{'cql_alpha':>9} {'vs myopic: median':>17} {'min – max':>13} {'revenue/visit':>13} "
             f"{'max Q(first page)':>17} {'seeds > 1.05x':>13}"]
    lines.append("-" * len(lines[0]))
    for a in alphas:
        ratio = np.array([r[a]["ratio"] for r in runs])
        lines.append(f"{a:>9g} {np.median(ratio):>16.3f}x {ratio.min():>6.3f} – {ratio.max():.3f} "
                     f"{np.median([r[a]['value'] for r in runs]):>13.3f} {np.median([r[a]['q0'] for r in runs]):>17.2f} "
                     f"{int((ratio >= 1.05).sum()):>8d} of {len(runs)}")
    lines.append(f"myopic recommender (wrote the logs, without exploration): {np.median([r['myopic'] for r in runs]):.3f} "
                 "revenue per visit (median over seeds)")
    lines += ["", "Off-policy estimates of each learned policy from its own log (medians over seeds; error "
              "relative to the policy's true value on the fresh shoppers; coverage of estimate ± 1.96 se):", ""]
    head = f"{'cql_alpha':>9} {'truth':>7} {'estimator':<14} {'estimate':>8} {'rel. error':>10} {'coverage':>8} {'ESS':>6}"
    lines += [head, "-" * len(head)]
    for a in alphas:
        truth = np.array([r[a]["value"] for r in runs])
        ess = np.median([r[a]["ope"]["ess"] for r in runs])
        for i, name in enumerate(LOG_ESTIMATORS):
            v, err, covered = score([r[a]["ope"][name] for r in runs], truth)
            lines.append(f"{a if i == 0 else '':>9} {f'{np.median(truth):.3f}' if i == 0 else '':>7} {name:<14} "
                         f"{np.median(v):8.3f} {np.median(err):+10.1%} {covered:8.0%} "
                         f"{f'{ess:.2%}' if i == 0 else '':>6}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. seeds-1 (log, agent, fresh shoppers)")
    parser.add_argument("--alphas", default="0,0.1,0.3,1,3", help="cql_alpha values, comma-separated")
    parser.add_argument("--visits", type=int, default=5_000, help="visits in each log")
    parser.add_argument("--updates", type=int, default=20_000, help="gradient updates of each offline run")
    parser.add_argument("--eval-visits", type=int, default=500, help="fresh shoppers each policy is scored on")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 500 visits, 1,000 updates: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.visits, args.updates, args.eval_visits = 2, 500, 1_000, 100
    alphas = [float(a) for a in args.alphas.split(",")]
    start = time.perf_counter()
    runs = []
    for seed in range(args.seeds):
        runs.append(one_seed(seed, alphas, args.visits, args.updates, args.eval_visits))
        print(f"seed {seed}: " + ", ".join(f"α={a:g} {runs[-1][a]['ratio']:.3f}x" for a in alphas)
              + f" ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    print(f"Offline DQN on the feature shop: logs of {args.visits:,} visits of the myopic recommender with "
          f"ε={LOG_EPSILON}; {args.updates:,} updates from the log alone (DQN defaults otherwise); scored on "
          f"{args.eval_visits} fresh shoppers against the myopic recommender on the same shoppers; "
          f"seeds 0-{args.seeds - 1}.\n")
    print(tables(runs, alphas))
    print(f"\nwall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

"""Learning results over seeds: the spread that every learning test's threshold is set from.

A learning curve is one draw: the same seed on another CPU rounds differently and lands
elsewhere. So each learner is trained, with its defaults and the budget its test and the demo
use (``minidqn.experiments.RECIPES``), once per seed, and the table gives min / median / max and
the interquartile range of each figure, beside the baseline it is compared with. A test then
asserts with a margin below the minimum here (its comment quotes the row it comes from).

Figures (share = value / optimal value, exact; lift = revenue per session / greedy's):

* ``tabular-shop q``, ``tabular-shop dqn``: exact share of the optimum (tests/test_tabular.py,
  tests/test_learning.py, README). Baseline: the myopic oracle's share.
* ``pricing q``, ``pricing dqn``: exact share, and value / best fixed price (test_learning.py,
  README). Baseline: the best fixed price's share.
* ``shop dqn``: lift over the myopic oracle on 300 fresh shoppers seeded 10,000, and the gap in
  standard errors, as tests/test_learning.py measures it; and the demo's lift, on 500 shoppers
  seeded ``10_000 + seed`` (README).
* ``shop-items item-dqn``: ``ItemDQNAgent`` with its defaults after 40,000 steps on the
  training catalogue, revenue per session on 200 fresh shoppers seeded 10,000 over random's and
  the myopic oracle's, on that catalogue and on 100 products never seen (``set_items``, no
  retraining), as tests/test_learning.py measures it.
* ``cartpole dqn``, ``acrobot dqn``, ``mountaincar dqn`` (where Gymnasium is installed): mean
  greedy return on 20 fresh episodes of CartPole-v1 (500 at most), Acrobot-v1 and
  MountainCar-v0 (-500 and -200 at worst) after 50,000 steps with ``keep_best``, and the
  training time (README).
* ``random-mdp q``: max |Q - Q*| after 40,000 generative-model updates on a random 4x2 MDP
  (tests/test_tabular.py's convergence test; MDP and samples both drawn from the seed).

Run: ``python benchmarks/seeds.py [--seeds 10] [--first 0] [--only pricing,shop] [--jobs 2]``.
Seeds are ``first .. first + seeds - 1``; the test's own seed is 0. Expect about three minutes per
seed for everything on one core. ``--dqn '{"gamma": 0.99, "hidden": [128, 128]}'`` trains the
DQN problems only, with those ``DQNConfig`` fields changed (lists become tuples): the same
protocol for settings of your own.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import itertools
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import print_table  # noqa: E402  (importing it also sets one BLAS thread)

from minidqn import DQNAgent, DQNConfig, limit_blas_threads  # noqa: E402
from minidqn.baselines import GreedyAgent, RandomAgent  # noqa: E402
from minidqn.envs.shop import ShopConfig, ShopEnv  # noqa: E402
from minidqn.experiments import RECIPES, exact_share, make_agent, make_env  # noqa: E402
from minidqn.schedules import PowerStepSize  # noqa: E402
from minidqn.tabular import TabularQAgent, policy_evaluation, value_iteration  # noqa: E402
from minidqn.train import evaluate, train  # noqa: E402


def trained(env_name: str, agent_name: str, seed: int, **overrides):
    """The learner trained by its recipe with ``seed`` (as tests/test_learning.py does), and a
    fresh single env to score it on. ``overrides`` replace hyperparameters (benchmarks/ablation.py)."""
    recipe = RECIPES[(env_name, agent_name)]
    env = make_env(env_name, seed=seed, agent=agent_name, num_envs=recipe.num_envs)
    agent = make_agent(agent_name, env, seed=seed, **overrides)
    train(agent, env, recipe.steps, seed=seed, progress=False)
    return agent, make_env(env_name, seed=seed, agent=agent_name)


def tabular_shop(agent_name: str, seed: int, **overrides) -> dict:
    agent, env = trained("tabular-shop", agent_name, seed, **overrides)
    return {"share of optimum": exact_share(agent, env)[1]}


def pricing(agent_name: str, seed: int, **overrides) -> dict:
    agent, env = trained("pricing", agent_name, seed, **overrides)
    value, share = exact_share(agent, env)
    return {"share of optimum": share, "value / best fixed": value / env.baseline_values()["best_fixed"]}


def shop(agent_name: str, seed: int, **overrides) -> dict:
    agent, _ = trained("shop", agent_name, seed, **overrides)
    figures = {}
    for label, episodes, eval_seed in (("test", 300, 10_000), ("demo", 500, 10_000 + seed)):
        learner = evaluate(agent, ShopEnv(), episodes, seed=eval_seed)
        env = ShopEnv()
        greedy = evaluate(GreedyAgent(env, seed=0), env, episodes, seed=eval_seed)
        gap = learner["revenue_per_session"] - greedy["revenue_per_session"]
        se = np.hypot(learner["revenue_per_session_se"], greedy["revenue_per_session_se"])
        figures[f"lift vs greedy ({label}: {episodes} shoppers)"] = gap / greedy["revenue_per_session"] + 1
        if label == "test":
            figures["gap / its s.e. (test)"] = gap / se
    return figures


ITEM_TEST_STEPS = 40_000  # tests/test_learning.py's budget for ItemDQNAgent


def item_dqn_cold_start(agent_name: str, seed: int, **overrides) -> dict:
    """tests/test_learning.py's item-DQN run: the agent's defaults, ``ITEM_TEST_STEPS`` steps on the training catalogue, then 200 fresh shoppers
    seeded 10,000 on it and on 100 products never seen (``set_items``, no retraining); revenue per
    session over random's (the baseline that knows as little of a new product) and the oracle's."""
    recipe = RECIPES[("shop", agent_name)]
    env = make_env("shop", seed=seed, agent=agent_name, num_envs=recipe.num_envs)
    agent = make_agent(agent_name, env, seed=seed, **overrides)
    train(agent, env, ITEM_TEST_STEPS, seed=seed, progress=False)
    figures = {}
    for label, config in (("training catalogue", ShopConfig()), ("100 new products", ShopConfig(catalogue_seed=1))):
        shop_env = ShopEnv(config)
        agent.set_items(shop_env.item_features)
        learned = evaluate(agent, shop_env, 200, seed=10_000)["revenue_per_session"]
        rand = evaluate(RandomAgent.for_env(shop_env, seed=0), shop_env, 200, seed=10_000)["revenue_per_session"]
        greedy = evaluate(GreedyAgent(shop_env, seed=0), shop_env, 200, seed=10_000)["revenue_per_session"]
        figures[f"/ random ({label})"] = learned / rand
        figures[f"/ greedy ({label})"] = learned / greedy
    return figures


def classic_control(env_id: str, agent_name: str, seed: int, **overrides) -> dict:
    """A Gymnasium classic-control task (where Gymnasium is installed), as a user would first try
    it: ``DQNAgent.for_env`` with only a seed, 50,000 steps, ``keep_best`` over an evaluation of 10
    episodes every 2,500 steps; scored on 20 fresh episodes."""
    import gymnasium as gym
    start = time.perf_counter()
    agent = DQNAgent.for_env(gym.make(env_id), seed=seed, **overrides)
    train(agent, gym.make(env_id), CLASSIC_STEPS, seed=seed, eval_env=gym.make(env_id),
          eval_every=2_500, eval_episodes=10, keep_best=True, progress=False)
    seconds = time.perf_counter() - start
    return {"mean greedy return": evaluate(agent, gym.make(env_id), 20, seed=10_000 + seed)["mean_return"],
            "seconds of training": seconds}


def random_mdp_q(agent_name: str, seed: int) -> dict:
    """tests/test_tabular.py's convergence problem, with ``seed`` in place of its 7."""
    S, A, gamma, end = 4, 2, 0.8, 0.1
    rng = np.random.default_rng(seed)  # the test's random_mdp(seed, 4, 2)
    P = rng.dirichlet(np.ones(S), size=(S, A)) * (1 - end)
    R = rng.uniform(-1, 1, size=(S, A))
    Q_star, _ = value_iteration(P, R, gamma, tol=1e-12)
    agent = TabularQAgent(S, A, alpha=PowerStepSize(0.8), gamma=gamma, epsilon=1.0, seed=seed)
    rng = np.random.default_rng(seed)
    n = 40_000
    states, actions, u = rng.integers(S, size=n), rng.integers(A, size=n), rng.random(n)
    cum = np.cumsum(P, axis=2)
    for s, a, x in zip(states.tolist(), actions.tolist(), u.tolist()):
        s_next = int(np.searchsorted(cum[s, a], x, side="right"))  # == S: the episode ended
        agent.observe(s, a, float(R[s, a]), min(s_next, S - 1), s_next == S)
    return {"max |Q - Q*| (lower is better)": float(np.abs(agent.Q - Q_star).max()),
            "max |Q*|": float(np.abs(Q_star).max())}


# Tests that assert on the median of several seeds, and how many: their rows are repeated for
# that median, over every choice of that many seeds among those run. None does now (the pricing
# DQN's did until its learning rate decayed over the run, issue 11).
MEDIAN_OF: dict = {}

# (problem, agent) -> the function that trains it once and returns {metric: value}.
PROBLEMS = {
    ("tabular-shop", "q"): tabular_shop,
    ("tabular-shop", "dqn"): tabular_shop,
    ("pricing", "q"): pricing,
    ("pricing", "dqn"): pricing,
    ("shop", "dqn"): shop,
    ("shop-items", "item-dqn"): item_dqn_cold_start,
    ("random-mdp", "q"): random_mdp_q,
}
CLASSIC_STEPS = 50_000
CLASSIC = {"cartpole": "CartPole-v1", "acrobot": "Acrobot-v1", "mountaincar": "MountainCar-v0"}
if importlib.util.find_spec("gymnasium"):  # the optional `gym` extra
    for _name, _env_id in CLASSIC.items():
        PROBLEMS[(_name, "dqn")] = functools.partial(classic_control, _env_id)


def baselines() -> dict:
    """What each problem's learner is compared with, as text for the table."""
    shop_env = make_env("tabular-shop")
    P, R = shop_env.model()
    d0 = shop_env.initial_distribution()
    greedy = d0 @ policy_evaluation(P, R, R.argmax(axis=1), 1.0) / (d0 @ value_iteration(P, R, 1.0)[1])
    b = make_env("pricing").baseline_values()
    return {"tabular-shop": f"greedy {greedy:.3f}", "pricing": f"best fixed {b['best_fixed'] / b['optimal']:.3f}",
            "shop": "greedy 1.000", "shop-items": "random, greedy 1.000", "random-mdp": "-", "cartpole": "solved 475", "acrobot": "solved -100",
            "mountaincar": "solved -110"}


def run_one(key: tuple, seed: int, overrides: dict | None = None) -> tuple:
    start = time.perf_counter()
    figures = PROBLEMS[key](key[1], seed, **(overrides or {}))
    return key, seed, figures, time.perf_counter() - start


def summary(values: list) -> list:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return [f"{min(values):.4f}", f"{med:.4f}", f"{max(values):.4f}", f"{q3 - q1:.4f}"]


def dqn_fields(text: str) -> dict:
    """``--dqn``'s JSON object of ``DQNConfig`` fields, checked against the fields that exist."""
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON: {err}") from None
    if not isinstance(fields, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object of DQNConfig fields, got {text!r}")
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(DQNConfig)})
    if unknown:
        raise argparse.ArgumentTypeError(f"not DQNConfig fields: {unknown}")
    if "seed" in fields:
        raise argparse.ArgumentTypeError("seed is set per run: use --seeds and --first")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds (default 10)")
    parser.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--only", default="", help="comma-separated problems, e.g. pricing,shop")
    parser.add_argument("--jobs", type=int, default=1, help="processes in parallel (default 1)")
    parser.add_argument("--per-seed", action="store_true", help="also print every seed's figures")
    parser.add_argument("--dqn", type=dqn_fields, default=None, metavar="JSON",
                        help="DQNConfig fields to change, as a JSON object; runs the DQN problems only")
    args = parser.parse_args()
    keys = [k for k in PROBLEMS if (not args.only or k[0] in args.only.split(","))
            and (args.dqn is None or k[1] == "dqn")]
    if not keys or args.seeds < 1 or args.jobs < 1:
        parser.error(f"nothing to run: --only must name some of {sorted({k[0] for k in PROBLEMS})}, "
                     "--seeds and --jobs be at least 1")
    seeds = range(args.first, args.first + args.seeds)
    tasks = [(key, seed, args.dqn) for key in keys for seed in seeds]
    start = time.perf_counter()
    results = {}
    with ProcessPoolExecutor(args.jobs, initializer=limit_blas_threads, initargs=(1,)) as pool:
        for key, seed, figures, seconds in pool.map(run_one, *zip(*tasks)):
            results[key, seed] = figures
            if args.per_seed:
                shown = ", ".join(f"{m} {v:.4f}" for m, v in figures.items())
                print(f"{key[0]} {key[1]} seed {seed} ({seconds:.0f} s): {shown}", flush=True)

    base = baselines()
    rows = []
    for key in keys:
        for metric in results[key, seeds[0]]:
            values = [results[key, s][metric] for s in seeds]
            rows.append([key[0], key[1], metric, *summary(values), base[key[0]]])
            k = MEDIAN_OF.get(key)
            if k and len(values) >= k:
                medians = [np.median(c) for c in itertools.combinations(values, k)]
                rows.append([key[0], key[1], f"{metric}, median of {k} seeds", *summary(medians), base[key[0]]])
    if args.dqn is not None:
        print(f"\nDQN with {args.dqn}", end="")
    print(f"\n{len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), numpy {np.__version__}, "
          f"Python {sys.version.split()[0]}; {time.perf_counter() - start:.0f} s with {args.jobs} process(es)")
    print_table(["problem", "agent", "metric", "min", "median", "max", "IQR", "baseline"], rows)


if __name__ == "__main__":
    main()

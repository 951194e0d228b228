"""The command line: ``python -m minidqn {demo,train,evaluate,compare,recommend} ...``.

Each subcommand is a thin shell over ``experiments.py`` (the recipes) and ``train.py`` (the loop);
``--help`` on any of them lists its options. Errors in arguments exit with status 2 and a message.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from . import experiments as ex
from . import report
from ._blas import limit_blas_threads
from .train import evaluate, train

def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _hidden(text: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 64,64, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"widths must be >= 1, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minidqn", description="Deep Q-learning for e-commerce recommendation, on NumPy alone.",
        epilog="Start with `minidqn demo`; every subcommand has its own --help.")
    parser.add_argument("--version", action="version", version=f"minidqn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="train Q-learning and DQN on the shops and compare them with baselines",
                          description="Q-learning on the tabular shop against its exact optimum, DQN on the "
                                      "feature shop against random, popularity and greedy, and both on "
                                      "dynamic pricing; prints one results table, saves the shop agent and "
                                      "the learning curves.")
    demo.add_argument("--out", default="minidqn-demo", help="folder for the agent, curves and plot (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="seed of every run (default: %(default)s)")
    demo.add_argument("--quick", action="store_true", help="tiny budgets: checks the pieces run, learns little")
    demo.add_argument("--episodes", type=_positive_int, default=500, help="fresh shoppers per evaluation (default: %(default)s)")

    tr = sub.add_parser("train", help="train one agent on one env", description="Train an agent and optionally "
                        "save it, log its learning curve as CSV and plot it.")
    tr.add_argument("--env", choices=ex.ENVS, default="shop")
    tr.add_argument("--agent", choices=ex.LEARNERS, default="dqn")
    tr.add_argument("--steps", type=_positive_int, help="env steps (default: the recipe's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--num-envs", type=_positive_int, help="shoppers in parallel, shop only (default: the recipe's)")
    tr.add_argument("--save", metavar="PATH", help="write the trained agent here (.npz)")
    tr.add_argument("--log", metavar="CSV", help="write the learning curve here")
    tr.add_argument("--plot", metavar="PNG", help="plot the learning curve here (needs matplotlib)")
    tr.add_argument("--eval-every", type=_positive_int, help="evaluate on fresh episodes every N steps")
    tr.add_argument("--no-progress", action="store_true", help="no progress line")
    hp = tr.add_argument_group("hyperparameters (default: the recipe's)")
    hp.add_argument("--lr", type=float, help="DQN: Adam's learning rate")
    hp.add_argument("--gamma", type=float, help="discount factor in [0, 1]")
    hp.add_argument("--hidden", type=_hidden, help="DQN: hidden widths, e.g. 64,64")
    hp.add_argument("--batch-size", type=_positive_int, help="DQN: transitions per update")
    hp.add_argument("--alpha", type=float, help="Q-learning: constant step size")

    ev = sub.add_parser("evaluate", help="evaluate a saved agent on fresh episodes")
    ev.add_argument("--load", required=True, metavar="PATH", help="an agent saved by train or demo")
    ev.add_argument("--episodes", type=_positive_int, default=200)
    ev.add_argument("--seed", type=int, default=12345, help="seed of the evaluation shoppers")

    cp = sub.add_parser("compare", help="agents side by side on fresh episodes, one table")
    cp.add_argument("--env", choices=ex.ENVS, default="shop")
    cp.add_argument("--agents", default="random,popularity,greedy",
                    help=f"comma-separated baselines from {ex.BASELINES} (default: %(default)s)")
    cp.add_argument("--load", nargs="*", default=[], metavar="PATH", help="saved agents to add")
    cp.add_argument("--episodes", type=_positive_int, default=200)
    cp.add_argument("--seed", type=int, default=12345)

    rc = sub.add_parser("recommend", help="a sample shopper's visit with the agent's ranked top-k")
    rc.add_argument("--load", required=True, metavar="PATH")
    rc.add_argument("--k", type=_positive_int, default=5, help="products to rank (default: %(default)s)")
    rc.add_argument("--seed", type=int, default=7, help="which shopper (default: %(default)s)")
    rc.add_argument("--steps", type=_positive_int, default=5, help="steps of the visit to show")
    rc.add_argument("--explain", action="store_true", help="say which features drive each Q-value")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_blas_threads(1)  # small matrices: threads only cost (see _blas.py)
    try:
        return {"demo": cmd_demo, "train": cmd_train, "evaluate": cmd_evaluate, "compare": cmd_compare,
                "recommend": cmd_recommend}[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as e:
        parser.exit(2, f"minidqn {args.command}: error: {e}\n")


# ---------------------------------------------------------------------------------- commands
def cmd_train(args) -> int:
    if (args.env, args.agent) not in ex.RECIPES:
        raise ValueError(f"--agent {args.agent} cannot learn on --env {args.env}: Q-learning needs a finite "
                         "state space (tabular-shop, pricing); use --agent dqn")
    recipe = ex.RECIPES[(args.env, args.agent)]
    if args.plot:
        report.require_matplotlib()  # fail before training, not after
    hyper = {k: v for k, v in (("lr", args.lr), ("gamma", args.gamma), ("hidden", args.hidden),
                               ("batch_size", args.batch_size), ("alpha", args.alpha)) if v is not None}
    if args.num_envs and args.env != "shop":
        raise ValueError(f"--num-envs is for --env shop only, got --env {args.env}")
    num_envs = args.num_envs or recipe.num_envs
    env = ex.make_env(args.env, seed=args.seed, agent=args.agent, num_envs=num_envs if args.env == "shop" else 1)
    agent = ex.make_agent(args.agent, env, seed=args.seed, **hyper)
    eval_env = ex.make_env(args.env, seed=args.seed + 1, agent=args.agent)
    history = train(agent, env, args.steps or recipe.steps, seed=args.seed, eval_env=eval_env,
                    eval_every=args.eval_every, progress=not args.no_progress)
    print(f"trained {args.agent} on {args.env}: {history.total_steps:,} steps in {history.wall_time:.1f} s "
          f"({history.steps_per_second:,.0f} steps/s), {len(history.episode_returns):,} episodes")
    print(report.format_metrics(history.evals[-1][1]))
    if args.env != "shop":
        value, share = ex.exact_share(agent, ex.make_env(args.env, agent=args.agent))
        print(f"exact value of its greedy policy: {value:.2f} ({share:.1%} of the optimum)")
    if args.save:
        agent.save(args.save, metadata={"env": args.env, "agent": args.agent})
        print(f"saved the agent to {args.save}")
    if args.log:
        history.write_csv(args.log)
        print(f"wrote the learning curve to {args.log}")
    if args.plot:
        report.plot_curves({f"{args.agent} on {args.env}": history}, {}, args.plot)
        print(f"plotted the learning curve to {args.plot}")
    return 0


def cmd_evaluate(args) -> int:
    agent, env_name, agent_name = ex.load_agent(args.load)
    env = ex.make_env(env_name, agent=agent_name)
    metrics = evaluate(agent, env, args.episodes, seed=args.seed)
    print(f"{agent_name} on {env_name}, {args.episodes} fresh episodes:")
    print(report.format_metrics(metrics))
    return 0


def cmd_compare(args) -> int:
    names = [a for a in args.agents.split(",") if a]
    unknown = [a for a in names if a not in ex.BASELINES]
    if unknown:
        raise ValueError(f"--agents: unknown {unknown}; choose from {ex.BASELINES}")
    rows = {}
    for name in names:
        env = ex.make_env(args.env, agent=name)
        agent = ex.make_agent(name, env, seed=args.seed)
        rows[name] = evaluate(agent, env, args.episodes, seed=args.seed)
    for path in args.load:
        agent, env_name, agent_name = ex.load_agent(path)
        if env_name != args.env:
            raise ValueError(f"{path} holds an agent for {env_name!r}, not {args.env!r}")
        rows[f"{agent_name} ({os.path.basename(path)})"] = evaluate(agent, ex.make_env(env_name, agent=agent_name),
                                                                    args.episodes, seed=args.seed)
    print(f"{args.env}: {args.episodes} fresh episodes each (mean ± standard error)")
    print(report.metrics_table(rows))
    return 0


def cmd_recommend(args) -> int:
    agent, env_name, agent_name = ex.load_agent(args.load)
    env = ex.make_env(env_name, agent=agent_name)
    print(report.show_visit(agent, env, k=args.k, seed=args.seed, steps=args.steps, explain_first=args.explain))
    return 0


def cmd_demo(args) -> int:
    os.makedirs(args.out, exist_ok=True)
    print(ex.run_demo(args.out, seed=args.seed, episodes=args.episodes, quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command line's arguments: each subcommand, its options, their help and defaults.

Only the parser lives here (``build_parser``); what each subcommand does is in ``__main__.py``.
Argument types refuse bad values with argparse's usual exit 2 and a one-line message.
"""
from __future__ import annotations

import argparse
import textwrap

from . import __version__
from . import experiments as ex


# Which agent each hyperparameter flag applies to (the others apply to both learners).
AGENT_FLAGS = {"lr": "dqn", "hidden": "dqn", "batch_size": "dqn", "cql_alpha": "dqn", "alpha": "q"}
OFFLINE_UPDATES = 20_000  # train --offline: gradient updates (benchmarks/offline.py measured with it)
OFFLINE_CQL_ALPHA = 0.5   # train --offline: cql_alpha unless given (README, "Learning from logs")


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


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, except that indented blocks (the recipe table) keep their lines."""

    def _fill_text(self, text, width, indent):
        fill = super()._fill_text  # not inside the generator below: super() needs the method's frame
        return "\n\n".join("\n".join(indent + line for line in b.splitlines()) if b.startswith("  ")
                           else fill(b, width, indent) for b in text.split("\n\n"))


def _recipes_epilog() -> str:
    rows = []
    for (env, agent), r in ex.RECIPES.items():
        settings = ", ".join(f"{k}={v!r}" for k, v in r.hyperparameters.items()) or "the agent's defaults"
        envs = f", {r.num_envs} shoppers in parallel" if r.num_envs > 1 else ""
        rows.append(f"  {env + '/' + agent:<17} {r.steps:>8,} steps{envs}")
        rows += textwrap.wrap(settings, 78, initial_indent=" " * 21, subsequent_indent=" " * 23)
    flags = "; ".join(f"--agent {a} ({ex.TITLES[a]}): "
                      + ", ".join(f"--{f.replace('_', '-')}" for f, who in AGENT_FLAGS.items() if who == a)
                      for a in ex.LEARNERS)
    return ("Recipes (the defaults of --steps, --num-envs and the hyperparameters, by --env/--agent):"
            "\n\n" + "\n".join(rows) + f"\n\nFlags for one learner only: {flags}; --gamma applies to both.")


def _add_evaluation_episodes(parser) -> None:
    """The fresh episodes that ``evaluate`` and ``compare`` score agents on."""
    parser.add_argument("--episodes", type=_positive_int, default=200, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the evaluation episodes (default: %(default)s)")


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
    demo.add_argument("--quick", action="store_true", help="budgets cut 20-fold: checks the pieces run, too "
                                                           "small for the agents to learn")
    demo.add_argument("--episodes", type=_positive_int, default=500, help="fresh shoppers per evaluation (default: %(default)s)")

    tr = sub.add_parser("train", help="train one agent on one env", formatter_class=_Formatter,
                        description="Train an agent and optionally save it, log its learning curve as CSV "
                                    "and plot it. Output paths are checked before training starts; Ctrl-C "
                                    "stops early and still writes --save and --log with what was learned.",
                        epilog=_recipes_epilog())
    tr.add_argument("--env", choices=ex.ENVS, default="shop", help="default: %(default)s")
    tr.add_argument("--agent", choices=ex.TRAINABLE, default="dqn",
                    help="q: Q-learning (tabular-shop and pricing only), dqn: deep Q-network, item-dqn: deep "
                         "Q-network over product features (shop only), slateq: SlateQ over pages of "
                         "products (slate-shop only) (default: %(default)s)")
    tr.add_argument("--steps", type=_positive_int, help="env steps (default: the recipe's, listed below)")
    tr.add_argument("--seed", type=int, default=0, help="seed of the env and the agent (default: %(default)s)")
    tr.add_argument("--num-envs", type=_positive_int,
                    help="shoppers in parallel, --env shop only (default: the recipe's, listed below)")
    tr.add_argument("--save", metavar="PATH", help="write the trained agent here (.npz)")
    tr.add_argument("--log", metavar="CSV", help="write the learning curve here")
    tr.add_argument("--plot", metavar="PNG", help="plot the learning curve here (needs matplotlib)")
    tr.add_argument("--eval-every", type=_positive_int,
                    help="evaluate on fresh episodes every N steps (default: only at the end)")
    tr.add_argument("--no-progress", action="store_true", help="no progress line")
    hp = tr.add_argument_group("hyperparameters (default: the recipe's, listed below)")
    hp.add_argument("--gamma", type=float, help="discount factor in [0, 1] (both learners)")
    hp.add_argument("--lr", type=float, help="DQN only: Adam's learning rate")
    hp.add_argument("--hidden", type=_hidden, help="DQN only: hidden widths, e.g. 64,64")
    hp.add_argument("--batch-size", type=_positive_int, help="DQN only: transitions per update")
    hp.add_argument("--alpha", type=float, help="Q-learning only: constant step size")
    hp.add_argument("--cql-alpha", type=float, help="DQN only: conservative Q-learning penalty (default 0; "
                                                    f"{OFFLINE_CQL_ALPHA:g} with --offline)")
    off = tr.add_argument_group("learning from a log (minidqn log writes one)")
    off.add_argument("--offline", metavar="LOG", help="train a DQN on this log (.npz) alone, without acting; "
                                                      "then evaluate it on fresh episodes")
    off.add_argument("--updates", type=_positive_int,
                     help=f"with --offline: gradient updates (default: {OFFLINE_UPDATES:,})")

    ev = sub.add_parser("evaluate", help="evaluate a saved agent on fresh episodes",
                        description="Run a saved agent greedily (no exploration, no learning) on fresh "
                                    "episodes of the env it was trained on, and print the mean return, "
                                    "revenue, session length, click and conversion rates with their "
                                    "standard errors.")
    ev.add_argument("--load", required=True, metavar="PATH", help="an agent saved by train or demo")
    _add_evaluation_episodes(ev)

    cp = sub.add_parser("compare", help="agents side by side on fresh episodes, one table",
                        description="Baselines and saved agents on the same fresh episodes of one env, one "
                                    "row each (mean ± standard error). Saved agents are labelled by their "
                                    "file name, with as much of the path as tells two files apart.")
    cp.add_argument("--env", choices=ex.ENVS, default="shop", help="default: %(default)s")
    cp.add_argument("--agents", default="random,popularity,greedy",
                    help=f"comma-separated baselines from {ex.BASELINES} (default: %(default)s)")
    cp.add_argument("--load", nargs="*", default=[], metavar="PATH", help="saved agents to add, one row per file")
    cp.add_argument("--cold-start", action="store_true",
                    help="--env shop only: one row per catalogue instead (the training one, 100 and 1,000 "
                         "products never seen), each agent's revenue per session and its ratio to the myopic "
                         "oracle's (greedy); a saved item DQN scores new products by their features, a DQN "
                         "only by id")
    _add_evaluation_episodes(cp)

    rc = sub.add_parser("recommend", help="a sample episode with the agent's ranked top-k",
                        description="Follow one episode (a shopper's visit, a pricing season) with a saved "
                                    "agent: at each step its top-k actions by Q-value and what happened to "
                                    "the one taken. --explain adds, for the first step, each action's "
                                    "advantage and, for a DQN, the input features that raise its Q-value.")
    rc.add_argument("--load", required=True, metavar="PATH", help="an agent saved by train or demo")
    rc.add_argument("--k", type=_positive_int, default=5, help="actions to rank (default: %(default)s)")
    rc.add_argument("--seed", type=int, default=7, help="which episode (default: %(default)s)")
    rc.add_argument("--steps", type=_positive_int, default=5, help="steps of the episode to show (default: %(default)s)")
    rc.add_argument("--explain", action="store_true", help="say which features drive each Q-value")
    _add_log_commands(sub)
    return parser


def _add_log_commands(sub) -> None:
    """``minidqn log`` and ``minidqn ope`` (``cli_logs.py`` runs them)."""
    lg = sub.add_parser("log", help="log an agent's recommendations with their probabilities (.npz)",
                        description="Run a saved agent (--load) or a baseline (--agent) on fresh episodes, "
                                    "greedy with ε-uniform exploration over the allowed actions, and write "
                                    "every step with the probability the logging policy had of its action "
                                    "(minidqn.logs.Log); --csv writes it as CSV too.")
    who = lg.add_mutually_exclusive_group(required=True)
    who.add_argument("--load", metavar="PATH", help="an agent saved by train or demo")
    who.add_argument("--agent", choices=ex.BASELINES, help="a baseline (greedy: the myopic oracle)")
    lg.add_argument("--env", choices=ex.ENVS, help="with --agent (default: shop); with --load, its own env")
    lg.add_argument("--out", required=True, metavar="LOG", help="write the log here (.npz)")
    lg.add_argument("--csv", metavar="CSV", help="also write it as CSV")
    lg.add_argument("--episodes", type=_positive_int, default=5_000, help="default: %(default)s")
    lg.add_argument("--epsilon", type=float, default=0.3, help="exploration rate in [0, 1] (default: %(default)s)")
    lg.add_argument("--seed", type=int, default=0, help="seed of the episodes and the exploration (default: %(default)s)")

    op = sub.add_parser("ope", help="estimate a saved agent's value from a log (off-policy evaluation)",
                        description="Estimate, from a log alone, the value (mean return of an episode) of a "
                                    "saved agent's ε-greedy policy with per-decision importance sampling, its "
                                    "weighted form, fitted-Q evaluation (direct method) and sequential doubly "
                                    "robust, each with a 95 % interval; the log's own mean return is the "
                                    "logging policy's value.")
    op.add_argument("--load", required=True, metavar="PATH", help="an agent saved by train or demo")
    op.add_argument("--log", required=True, metavar="LOG", help="a log written by minidqn log (.npz)")
    op.add_argument("--epsilon", type=float, default=0.0, help="the target policy's exploration rate (default: %(default)s)")
    op.add_argument("--gamma", type=float, default=1.0, help="discount of the value estimated (default: %(default)s)")

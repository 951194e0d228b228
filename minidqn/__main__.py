"""The command line: ``python -m minidqn {demo,train,evaluate,compare,recommend,log,ope} ...``.

Each subcommand is a thin shell over ``experiments.py`` (the recipes) and ``train.py`` (the loop);
the log commands (``log``, ``ope``, ``train --offline``) live in ``cli_logs.py``. Options are declared
in ``cli_args.py``, and ``--help`` on any subcommand lists them with their defaults. A user's
mistake (an argument, a path, a file, an agent that does not fit the env) exits with status 2 and
one line naming it, before any training starts where it can be known then; never with a traceback. Ctrl-C during ``train``
keeps what was learned (see ``cmd_train``) and exits 130; output into a closed pipe exits
quietly with 141 (128 + SIGPIPE, as a shell reports a process the pipe killed).
"""
from __future__ import annotations

import os
import sys

from . import cli_logs
from . import experiments as ex
from . import report
from ._blas import limit_blas_threads
from .cli_args import AGENT_FLAGS, build_parser
from .train import evaluate, train

def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    limit_blas_threads(1)  # small matrices: threads only cost (see _blas.py)
    try:
        code = {"demo": cmd_demo, "train": cmd_train, "evaluate": cmd_evaluate, "compare": cmd_compare,
                "recommend": cmd_recommend, "log": cli_logs.cmd_log, "ope": cli_logs.cmd_ope}[args.command](args)
        sys.stdout.flush()  # here, not at exit, where a closed pipe would be reported as an error
        return code
    except BrokenPipeError:  # before OSError: the reader went away (`| head`), nothing to report
        _quiet_stdout()
        return 141
    except KeyboardInterrupt:
        _say(f"minidqn {args.command}: interrupted")
        return 130
    except (ValueError, TypeError, OSError, ImportError) as e:
        parser.exit(2, f"minidqn {args.command}: error: {_message(e)}\n")


def _message(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror and e.filename:  # not "[Errno 21] ..."
        return f"{e.filename}: {e.strerror}"
    return str(e)


def _say(text: str) -> None:
    """A line on stderr, for what happened outside the normal output."""
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except OSError:
        pass


def _quiet_stdout() -> None:
    # Python flushes stdout again at exit, and would print a BrokenPipeError there: point the
    # descriptor at /dev/null so that last flush goes nowhere.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------------------------- checks
def check_output_path(flag: str, path: str) -> None:
    """Refuse, before any work, a path a file cannot be written to: a folder, a missing folder,
    one without write permission. ``ValueError`` naming the flag and the path."""
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path}: is a folder, expected a file path in it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        missing = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise ValueError(f"{flag} {path}: {folder} {missing}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: no permission to write in {folder}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{flag} {path}: the file exists and is not writable")


def check_outputs(outputs: dict) -> None:
    """``check_output_path`` for each ``flag -> path`` given, and no path named twice."""
    seen = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        check_output_path(flag, path)
        key = os.path.realpath(path)
        if key in seen:
            raise ValueError(f"{seen[key]} and {flag} both name {path}; one file would overwrite the other")
        seen[key] = flag


def _hyperparameters(args) -> dict:
    """The hyperparameter flags given, refused when they do not apply to ``--agent``."""
    given = {k: getattr(args, k) for k in ("lr", "gamma", "hidden", "batch_size", "alpha", "cql_alpha")
             if getattr(args, k) is not None}
    wrong = [k for k in given if AGENT_FLAGS.get(k, args.agent) != args.agent]
    if wrong:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in wrong)
        applies = "; ".join(f"--agent {a} ({ex.TITLES[a]}) takes "
                            + ", ".join(f"--{f.replace('_', '-')}" for f, who in AGENT_FLAGS.items() if who == a)
                            for a in ex.LEARNERS)
        raise ValueError(f"{flags} does not apply to --agent {args.agent} ({ex.TITLES[args.agent]}): "
                         f"{applies}; --gamma applies to both")
    return given


def _load(path, env_name=None):
    """``(agent, env, env name, agent name)`` for a saved agent, on the env it was trained on
    (``env_name`` when given must be that env); refused when the agent does not fit the env."""
    agent, saved_env, agent_name = ex.load_agent(path)
    if env_name is not None and saved_env != env_name:
        raise ValueError(f"{path} holds an agent for --env {saved_env}, not --env {env_name}")
    env = ex.make_env(saved_env, agent=agent_name)
    ex.check_fits(agent, env, f"the agent in {path}", saved_env)
    return agent, env, saved_env, agent_name


# ---------------------------------------------------------------------------------- commands
def cmd_train(args) -> int:
    """Train, then write the agent, the log and the plot before printing anything.

    Writing first means output into a closed pipe cannot lose them. Ctrl-C during training: the
    agent is kept as trained so far; when ``train`` returns the partial ``History``
    (``history.interrupted``) the log and plot cover the steps done, else there is no log.
    """
    if args.offline or args.updates:
        if not args.offline:
            raise ValueError("--updates is for --offline LOG (online training counts --steps)")
        return cli_logs.cmd_train_offline(args)
    if (args.env, args.agent) not in ex.RECIPES:
        why = {"item-dqn": "item DQN scores products by their features: --env shop",
               "slateq": "SlateQ shows pages of products: --env slate-shop"}.get(
            args.agent, "pages of products need --agent slateq" if args.env == "slate-shop" else
            "Q-learning needs a finite state space (tabular-shop, pricing); use --agent dqn")
        raise ValueError(f"--agent {args.agent} cannot learn on --env {args.env}: {why}")
    recipe = ex.RECIPES[(args.env, args.agent)]
    hyper = _hyperparameters(args)
    if args.num_envs and args.env != "shop":
        raise ValueError(f"--num-envs is for --env shop only, got --env {args.env}")
    check_outputs({"--save": args.save, "--log": args.log, "--plot": args.plot})
    if args.plot:
        report.check_plot_path("--plot", args.plot)  # needs matplotlib: fail before training, not after
    num_envs = args.num_envs or recipe.num_envs
    env = ex.make_env(args.env, seed=args.seed, agent=args.agent, num_envs=num_envs if args.env == "shop" else 1)
    agent = ex.make_agent(args.agent, env, seed=args.seed, **hyper)
    eval_env = ex.make_env(args.env, seed=args.seed + 1, agent=args.agent)
    steps = args.steps or recipe.steps
    history = None
    try:
        history = train(agent, env, steps, seed=args.seed, eval_env=eval_env,
                        eval_every=args.eval_every, progress=not args.no_progress)
        interrupted = bool(getattr(history, "interrupted", False))
    except KeyboardInterrupt:  # a train() that does not return its partial History
        interrupted = True
    if interrupted:
        _say(f"minidqn train: interrupted{_at(history, steps)}")
        for line in _write_outputs(args, agent, history, steps):
            _say(line)
        return 130

    share = (ex.exact_share(agent, ex.make_env(args.env, agent=args.agent))
             if args.env in ("tabular-shop", "pricing") else None)
    written = _write_outputs(args, agent, history, steps)
    print(f"trained {args.agent} on {args.env}: {history.total_steps:,} steps in {history.wall_time:.1f} s "
          f"({history.steps_per_second:,.0f} steps/s), {len(history.episode_returns):,} episodes")
    if history.evals:
        print(report.format_metrics(history.evals[-1][1]))
    if share is not None:
        print(f"exact value of its greedy policy: {share[0]:.2f} ({share[1]:.1%} of the optimum)")
    for line in written:
        print(line)
    return 0


def _at(history, steps) -> str:
    return "" if history is None else f" at step {history.total_steps:,} of {steps:,}"


def _write_outputs(args, agent, history, steps) -> list:
    """Write ``--save``, ``--log``, ``--plot`` (those given); one line saying so for each."""
    lines = []
    partial = history is None or getattr(history, "interrupted", False)
    if args.save:
        agent.save(args.save, metadata={"env": args.env, "agent": args.agent})
        lines.append(f"saved the agent{' as trained so far' if partial else ''} to {args.save}")
    for flag, path in (("--log", args.log), ("--plot", args.plot)):
        if not path:
            continue
        if history is None:
            lines.append(f"{flag}: nothing written to {path}: train() kept no record of the interrupted run")
        elif flag == "--log":
            history.write_csv(path)
            done = f" of the {history.total_steps:,} steps done" if partial else ""
            lines.append(f"wrote the learning curve{done} to {path}")
        else:
            report.plot_curves({f"{args.agent} on {args.env}": {f"{args.agent} on {args.env}": history}}, path)
            lines.append(f"plotted the learning curve to {path}")
    return lines


def cmd_evaluate(args) -> int:
    agent, env, env_name, agent_name = _load(args.load)
    metrics = evaluate(agent, env, args.episodes, seed=args.seed)
    print(f"{agent_name} on {env_name}, {args.episodes} fresh episodes:")
    print(report.format_metrics(metrics))
    return 0


def cmd_compare(args) -> int:
    names = [a for a in args.agents.split(",") if a]
    unknown = [a for a in names if a not in ex.BASELINES]
    if unknown:
        raise ValueError(f"--agents: unknown {unknown}; choose from {ex.BASELINES}")
    if args.cold_start and args.env != "shop":
        raise ValueError(f"--cold-start compares catalogues of --env shop, got --env {args.env}")
    loaded = [_load(path, args.env) for path in args.load]  # every file checked before any work
    if args.cold_start:
        return _compare_cold_start(args, names, loaded)
    rows = {}
    for name in names:
        env = ex.make_env(args.env, agent=name)
        agent = ex.make_agent(name, env, seed=args.seed)
        rows[name] = evaluate(agent, env, args.episodes, seed=args.seed)
    for label, (agent, env, _, agent_name) in zip(report.file_labels(args.load), loaded):
        rows[f"{agent_name} ({label})"] = evaluate(agent, env, args.episodes, seed=args.seed)
    print(f"{args.env}: {args.episodes} fresh episodes each (mean ± standard error)")
    print(report.metrics_table(rows))
    return 0


def _compare_cold_start(args, names, loaded) -> int:
    from .cold_start import REFERENCE, cold_start_table, compare_catalogues
    agents = {f"{agent_name} ({label})": agent
              for label, (agent, _, _, agent_name) in zip(report.file_labels(args.load), loaded)}
    results = compare_catalogues(agents, [n for n in names if n != REFERENCE], args.episodes, args.seed)
    print(f"Cold start: revenue per session on {args.episodes} fresh shoppers per catalogue, and its ratio "
          "to the myopic oracle's; no agent retrained")
    print(cold_start_table(results))
    print("Popularity has no counts for new products (it recommends them at random); a DQN has one\n"
          "output per product id, so it runs a new catalogue by id where the counts match.")
    return 0


def cmd_recommend(args) -> int:
    agent, env, _, agent_name = _load(args.load)
    if agent_name == "slateq":
        raise ValueError(f"recommend follows one product per step; {args.load} holds a SlateQ agent, "
                         "which shows pages: use `minidqn evaluate` or `compare`")
    print(report.show_visit(agent, env, k=args.k, seed=args.seed, steps=args.steps, explain_first=args.explain))
    return 0


def cmd_demo(args) -> int:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out}: exists and is not a folder")
    os.makedirs(args.out, exist_ok=True)
    for name in ex.demo_outputs():  # before minutes of training, not after
        check_output_path("--out", os.path.join(args.out, name))
    print(ex.run_demo(args.out, seed=args.seed, episodes=args.episodes, quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command line's log commands: ``minidqn log``, ``minidqn ope`` and ``minidqn train --offline``.

Thin shells, like the other subcommands in ``__main__.py`` (which dispatches here; the options
are declared in ``cli_args.py``): ``logs.collect_log`` writes a log, ``experiments.log_estimates``
estimates a saved agent from one, ``offline.train_offline`` learns from one. A user's mistake
is a ``ValueError``/``TypeError`` that ``__main__`` turns into exit status 2 and one line.
"""
from __future__ import annotations

import numpy as np

from . import experiments as ex
from . import report
from ._validate import check_float
from .cli_args import OFFLINE_CQL_ALPHA, OFFLINE_UPDATES
from .dqn_config import DQNConfig
from .logs import Log, collect_log
from .offline import train_offline
from .train import evaluate


def _main():
    from . import __main__ as cli  # the shared checks (imported here: __main__ imports this module)
    return cli


def _check_log_fits(log, env, log_path: str, env_name: str) -> None:
    """Refuse a log whose observations or actions are not ``env``'s, naming both."""
    obs_space, n_actions = env.observation_space, int(env.action_space.n)
    if hasattr(obs_space, "n"):
        fits = log.obs.ndim == 1 and np.issubdtype(log.obs.dtype, np.integer)
    else:
        fits = log.obs.shape[1:] == tuple(obs_space.shape)
    if not fits or log.n_actions != n_actions:
        raise ValueError(f"{log_path} is not a log of env {env_name!r}: it holds observations of shape "
                         f"{log.obs.shape[1:]} ({log.obs.dtype}) and {log.n_actions} actions; the env gives "
                         f"{'state indices' if hasattr(obs_space, 'n') else tuple(obs_space.shape)} and "
                         f"{n_actions} actions")


def cmd_log(args) -> int:
    cli = _main()
    cli.check_outputs({"--out": args.out, "--csv": args.csv})
    epsilon = check_float("--epsilon", args.epsilon, 0.0, 1.0)
    if args.env == "slate-shop":  # a loaded slate agent is refused by collect_log, saying the same
        raise ValueError("--env slate-shop: logs (minidqn log, ope, train --offline) cover one product per "
                         "step; pages of products (slates) are not covered")
    if args.load:
        agent, env, env_name, agent_name = cli._load(args.load, args.env)
    else:
        env_name, agent_name = args.env or "shop", args.agent
        env = ex.make_env(env_name, seed=args.seed, agent=agent_name)
        agent = ex.make_agent(agent_name, env, seed=args.seed)
    log = collect_log(agent, env, args.episodes, seed=args.seed, epsilon=epsilon)
    log.save(args.out)
    if args.csv:
        log.to_csv(args.csv)
    returns = np.bincount(log.episode, weights=log.reward)
    se = returns.std(ddof=1) / np.sqrt(returns.size) if returns.size > 1 else float("nan")
    print(f"logged {log.n_episodes:,} episodes ({len(log):,} steps) of {agent_name} with epsilon={epsilon:g} on "
          f"{env_name}: mean return {returns.mean():.3f} ± {se:.3f}")
    print(f"wrote the log to {args.out}" + (f" and {args.csv}" if args.csv else ""))
    return 0


def cmd_ope(args) -> int:
    epsilon = check_float("--epsilon", args.epsilon, 0.0, 1.0)
    gamma = check_float("--gamma", args.gamma, 0.0, 1.0)
    agent, env, env_name, agent_name = _main()._load(args.load)
    log = Log.load(args.log)
    _check_log_fits(log, env, args.log, env_name)
    estimates = ex.log_estimates(agent, log, epsilon=epsilon, gamma=gamma)
    rows = []
    for name in ex.LOG_ESTIMATORS:
        value, se = estimates[name]
        rows.append([name + (" (the logging policy)" if name == "logged mean" else ""), f"{value:.3f}",
                     f"{se:.3f}", f"{value - 1.96 * se:.3f} – {value + 1.96 * se:.3f}"])
    print(f"{agent_name} ({args.load}) on {env_name}, epsilon={epsilon:g}: value (mean return of an episode"
          f"{f', discounted by {gamma:g}' if gamma < 1 else ''}) estimated from {args.log} "
          f"({log.n_episodes:,} episodes, {len(log):,} steps, logged with epsilon={log.epsilon:g})")
    print(report.text_table(["estimator", "estimate", "se", "95 % interval"], rows))
    print(f"effective sample size of the episodes' importance weights: {estimates['ess']:.1%} of the episodes"
          " (small: a few episodes carry the importance-sampling estimates)")
    if any(np.isnan(estimates[name].se) for name in ex.LOG_ESTIMATORS):
        print("se nan: every importance weight is 0 (the policy never takes a logged first action), so the "
              "log says nothing of it")
    return 0


def cmd_train_offline(args) -> int:
    """``minidqn train --offline LOG``: a DQN learns from the log alone, then is evaluated."""
    cli = _main()
    given = {"--steps": args.steps, "--num-envs": args.num_envs, "--log": args.log, "--plot": args.plot,
             "--eval-every": args.eval_every}
    wrong = [flag for flag, value in given.items() if value is not None]
    if wrong:
        raise ValueError(f"{', '.join(wrong)} does not apply to --offline: it takes --updates gradient updates "
                         "on the log, with no env steps and no learning curve")
    if args.agent != "dqn":
        raise ValueError(f"--offline trains --agent dqn, not --agent {args.agent}")
    hyper = cli._hyperparameters(args)
    hyper.setdefault("cql_alpha", OFFLINE_CQL_ALPHA)
    cli.check_outputs({"--save": args.save})
    log = Log.load(args.offline)
    env = ex.make_env(args.env, seed=args.seed, agent="dqn")
    _check_log_fits(log, env, args.offline, args.env)
    # the whole log must fit in the replay (train_offline refuses to drop any of it)
    buffer_size = max(DQNConfig.buffer_size, len(log))
    agent = ex.make_agent("dqn", env, seed=args.seed, buffer_size=buffer_size, **hyper)
    updates = args.updates or OFFLINE_UPDATES
    history = train_offline(agent, log, updates, progress=not args.no_progress)
    if history.interrupted:
        cli._say(f"minidqn train: interrupted at update {history.updates:,} of {updates:,}")
        if args.save:
            agent.save(args.save, metadata={"env": args.env, "agent": "dqn", "offline": args.offline})
            cli._say(f"saved the agent as trained so far to {args.save}")
        return 130
    if args.save:
        agent.save(args.save, metadata={"env": args.env, "agent": "dqn", "offline": args.offline})
    metrics = evaluate(agent, ex.make_env(args.env, seed=args.seed + 1, agent="dqn"), 20, seed=args.seed)
    share = ex.exact_share(agent, ex.make_env(args.env, agent="dqn")) if args.env != "shop" else None
    print(f"trained dqn on {args.env} from the log {args.offline} alone ({len(log):,} transitions, "
          f"{log.n_episodes:,} episodes): {history.updates:,} updates with cql_alpha={agent.config.cql_alpha:g} "
          f"in {history.wall_time:.1f} s ({history.updates_per_second:,.0f} updates/s)")
    print(report.format_metrics(metrics))
    if share is not None:
        print(f"exact value of its greedy policy: {share[0]:.2f} ({share[1]:.1%} of the optimum)")
    if args.save:
        print(f"saved the agent to {args.save}")
    return 0

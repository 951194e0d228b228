"""Named recipes: each env and agent by name, the settings and budgets that work, and comparisons.

The command line, the benchmarks and the end-to-end learning tests all run these recipes, so a
figure in the README comes from the same code as the test that pins it. Exact evaluation of a
learned policy (``exact_share``) is here too: on the finite shops an agent's greedy policy is
scored by solving the Bellman equation, not by sampling; and its estimates from a log alone
(``log_estimates``, with ``ope.py``'s estimators). No algorithm lives here.
"""
from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field

import numpy as np

from .baselines import GreedyAgent, OracleAgent, PopularityAgent, RandomAgent
from .dqn import DQNAgent
from .envs.pricing import PricingEnv
from .envs.shop import ShopEnv
from .envs.slate_shop import SlateShopEnv
from .envs.tabular_shop import TabularShop
from .envs.vector_shop import VectorShopEnv
from .item_dqn import ItemDQNAgent
from .logs import epsilon_greedy_policy
from . import ope
from .slate_baselines import GreedySlateAgent, PopularitySlateAgent, RandomSlateAgent
from .slate_q import SlateQAgent
from .tabular import TabularQAgent, policy_evaluation, value_iteration
from .train import train

ENVS = ("tabular-shop", "shop", "pricing", "slate-shop")
POPULARITY_LOG_STEPS = 20_000  # random recommendations the popularity baseline counts purchases in
LEARNERS = ("q", "dqn")
BASELINES = ("random", "popularity", "greedy", "oracle")
TITLES = {"q": "Q-learning", "dqn": "DQN", "item-dqn": "item DQN", "slateq": "SlateQ"}
TRAINABLE = LEARNERS + ("item-dqn", "slateq")  # item-dqn: the shop only (it scores products by their
                                                # features); slateq: the slate shop only


@dataclass
class Recipe:
    """How one learner is trained on one env by default. The learners' recipes are budgets only
    (their agents' defaults were chosen over seeds on these problems: README, "Defaults");
    ``hyperparameters``, settings beyond the agent's defaults, is empty in every recipe now."""
    steps: int                                   # env steps (transitions) of training
    hyperparameters: dict = field(default_factory=dict)  # keyword arguments of the agent
    num_envs: int = 1                            # shoppers collected in parallel (vector env)


RECIPES = {
    ("tabular-shop", "q"): Recipe(150_000),      # TabularQAgent's defaults
    ("tabular-shop", "dqn"): Recipe(150_000),    # DQNAgent's defaults, one-hot states
    ("pricing", "q"): Recipe(150_000),           # TabularQAgent's defaults
    ("pricing", "dqn"): Recipe(50_000),          # DQNAgent's defaults
    ("shop", "dqn"): Recipe(100_000),            # DQNAgent's defaults, one shopper at a time
    ("slate-shop", "slateq"): Recipe(100_000),   # SlateQAgent's defaults, one shopper at a time
    ("shop", "item-dqn"): Recipe(100_000, num_envs=8),  # ItemDQNAgent's defaults, 8 shoppers in parallel
}


def make_env(name: str, seed=None, agent: str = "dqn", num_envs: int = 1):
    """The env ``name`` as ``agent`` sees it: pricing gives a tabular agent state indices and a
    DQN features; ``num_envs > 1`` gives the vector shop."""
    if name not in ENVS:
        raise ValueError(f"env must be one of {ENVS}, got {name!r}")
    if name == "tabular-shop":
        return TabularShop(seed=seed)
    if name == "slate-shop":
        return SlateShopEnv(seed=seed)
    if name == "pricing":
        return PricingEnv(seed=seed, obs_mode="index" if agent in ("q", "oracle") else "features")
    return VectorShopEnv(num_envs, seed=seed) if num_envs > 1 else ShopEnv(seed=seed)


def make_agent(name: str, env, seed=0, **hyperparameters):
    """A fresh agent ``name`` for ``env``: a learner with its recipe's settings (overridden by
    ``hyperparameters``), or a baseline."""
    if name in TRAINABLE:
        env_name = _env_name(env)
        settings = {**RECIPES[(env_name, name)].hyperparameters, **hyperparameters} \
            if (env_name, name) in RECIPES else hyperparameters
        cls = {"q": TabularQAgent, "dqn": DQNAgent, "item-dqn": ItemDQNAgent, "slateq": SlateQAgent}[name]
        return cls.for_env(env, seed=seed, **settings)
    if isinstance(env, SlateShopEnv) and name in ("random", "popularity", "greedy"):
        return _slate_baseline(name, env, seed)
    if name == "random":
        return RandomAgent.for_env(env, seed=seed)
    if name == "popularity":  # counts learned from a log of random recommendations (see baselines)
        agent = PopularityAgent.for_env(env, seed=seed, epsilon=1.0)
        train(agent, type(env)(seed=seed + 1), POPULARITY_LOG_STEPS, seed=seed + 1, progress=False)
        return agent
    if name == "greedy":
        return GreedyAgent(env, seed=seed)
    if name == "oracle":
        if not callable(getattr(env, "model", None)):
            raise ValueError(f"the oracle needs an exact model: tabular-shop or pricing, not {_env_name(env)}")
        return OracleAgent(env, seed=seed)
    raise ValueError(f"agent must be one of {TRAINABLE + BASELINES}, got {name!r}")


def _slate_baseline(name: str, env, seed):
    """The slate versions of the baselines (``slate_baselines.py``), popularity counted as above."""
    if name == "random":
        return RandomSlateAgent.for_env(env, seed=seed)
    if name == "greedy":
        return GreedySlateAgent(env, seed=seed)
    agent = PopularitySlateAgent.for_env(env, seed=seed, epsilon=1.0)
    train(agent, SlateShopEnv(env.config, env.slate_size, seed=seed + 1), POPULARITY_LOG_STEPS, seed=seed + 1,
          progress=False)
    return agent


def _env_name(env) -> str:
    kinds = {TabularShop: "tabular-shop", PricingEnv: "pricing", ShopEnv: "shop", VectorShopEnv: "shop",
             SlateShopEnv: "slate-shop"}
    return kinds.get(type(env), type(env).__name__)


def greedy_policy(agent, env) -> np.ndarray:
    """The agent's greedy action in every state of a finite env, ``(n_states,)``."""
    if isinstance(agent, TabularQAgent):
        return agent.greedy_policy()
    if isinstance(agent, OracleAgent):
        return agent.policy
    if isinstance(env, PricingEnv) and env.config.obs_mode == "features":
        states = np.stack([env.features_of(s) for s in range(env.n_states)])
    else:
        states = np.arange(env.n_states)
    return np.argmax(agent.q_values(states), axis=1)


def exact_share(agent, env) -> tuple[float, float]:
    """``(value, value / optimal value)`` of the agent's greedy policy from the start
    distribution, both exact (undiscounted, solved from ``env.model()``)."""
    P, R = env.model()
    start = env.initial_distribution()
    optimal = float(start @ value_iteration(P, R, 1.0, tol=1e-10)[1])
    value = float(start @ policy_evaluation(P, R, greedy_policy(agent, env), 1.0))
    return value, value / optimal


LOG_ESTIMATORS = ("logged mean", "PDIS", "WPDIS", "DM (FQE)", "seq. DR (FQE)")


def log_estimates(agent, log, epsilon: float = 0.0, gamma: float = 1.0) -> dict:
    """Off-policy estimates, from ``log`` alone, of the value (expected sum of a visit's rewards,
    discounted by ``gamma``) of ``agent``'s ε-greedy policy: ``{name: ope.Estimate}`` for each of
    ``LOG_ESTIMATORS`` (the first is the log's own mean return: the logging policy's value), and
    ``"ess"``, the effective sample size of the whole-visit importance weights as a share of the
    visits (where it is small, a few visits carry the estimate). The agent's greedy action at
    every logged state is asked once (``act(..., explore=False)`` with the row's mask)."""
    if getattr(agent, "accepts_batches", False):
        greedy = agent.act(log.obs, explore=False, action_mask=log.action_mask)
    else:
        greedy = [agent.act(o, explore=False, action_mask=m) for o, m in zip(log.obs, log.action_mask)]
    return policy_estimates(log, epsilon_greedy_policy(np.asarray(greedy), log.action_mask, epsilon), gamma)


def policy_estimates(log, pi: np.ndarray, gamma: float = 1.0) -> dict:
    """:func:`log_estimates` for a target policy given as its action probabilities at every
    logged state, ``pi`` ``(n, A)`` (row t: ``pi(. | s_t)``)."""
    target_prob = pi[np.arange(len(log)), log.action]
    args = (log.episode, log.reward, log.behavior_prob, target_prob)
    model = ope.fqe(log, pi, gamma=gamma)
    discounted = log.reward * gamma ** log.step
    r = np.bincount(log.episode, weights=discounted)                          # each visit's return
    w = np.ones(log.n_episodes)
    np.multiply.at(w, log.episode, target_prob / log.behavior_prob)          # whole-visit weights
    return {"logged mean": ope.Estimate(float(r.mean()), float(r.std(ddof=1) / np.sqrt(r.size)) if r.size > 1
                                        else float("nan")),
            "PDIS": ope.per_decision_is(*args, gamma=gamma), "WPDIS": ope.weighted_per_decision_is(*args, gamma=gamma),
            "DM (FQE)": ope.direct_method(model.v_target[log.step == 0]),
            "seq. DR (FQE)": ope.sequential_dr(*args, model.q_logged, model.v_target, gamma=gamma),
            "ess": float(w.sum() ** 2 / (w ** 2).sum() / w.size) if w.any() else 0.0}


def load_agent(path):
    """``(agent, env name, agent name)`` from a file written by ``minidqn train``/``demo``."""
    from ._checkpoint import checkpoint_kind
    # A damaged file can surface as other errors than ValueError from the zip and npy readers
    # (a bad compression method, a header claiming terabytes): say plainly which file it is.
    damaged = (MemoryError, NotImplementedError, EOFError, KeyError, OverflowError)
    try:
        kind = checkpoint_kind(path)
    except damaged as e:
        raise ValueError(f"{str(path)!r} is not a readable checkpoint: {type(e).__name__}: {e}") from None
    classes = {"DQNAgent": (DQNAgent, "dqn"), "TabularQAgent": (TabularQAgent, "q"),
               "ItemDQNAgent": (ItemDQNAgent, "item-dqn"), "SlateQAgent": (SlateQAgent, "slateq")}
    if kind not in classes:
        raise ValueError(f"{str(path)!r} holds a {kind!r}, not an agent")
    try:
        agent = classes[kind][0].load(path)
    except damaged as e:
        raise ValueError(f"{str(path)!r} could not be read as a {kind}: {type(e).__name__}: {e}") from None
    metadata = agent.metadata if isinstance(agent.metadata, dict) else {}
    env_name = metadata.get("env")
    if not isinstance(env_name, str) or env_name not in ENVS:
        raise ValueError(f"{str(path)!r} does not say which env it was trained on (save it with "
                         f"metadata={{'env': ...}}, one of {ENVS})")
    return agent, env_name, classes[kind][1]


def _takes(agent) -> str:
    """What observations ``agent`` takes, in words."""
    if isinstance(agent, TabularQAgent):
        return f"state indices 0..{agent.n_states - 1} (a Q-table of {agent.n_states} states)"
    if agent.one_hot:
        return f"state indices 0..{agent.obs_dim - 1} (one-hot, {agent.obs_dim} states)"
    return f"feature vectors of {agent.obs_dim} numbers"


def _gives(space) -> str:
    if hasattr(space, "n"):
        return f"state indices 0..{int(space.n) - 1} ({int(space.n)} states)"
    shape = tuple(getattr(space, "shape", ()))
    return f"feature vectors of {shape[0]} numbers" if len(shape) == 1 else f"observations of shape {shape}"


def check_fits(agent, env, who: str = "the agent", env_name: str | None = None) -> None:
    """Refuse, before anything runs, a learner that does not fit ``env``: the kind of observation
    (state index or feature vector), its size, and the number of actions must all match.
    ``ValueError`` saying what the agent takes and what the env gives."""
    if not isinstance(agent, (TabularQAgent, DQNAgent)):
        return
    obs_space, n_actions = env.observation_space, int(env.action_space.n)
    if isinstance(agent, TabularQAgent):
        fits = hasattr(obs_space, "n") and int(obs_space.n) == agent.n_states
    elif agent.one_hot:
        fits = hasattr(obs_space, "n") and int(obs_space.n) == agent.obs_dim
    else:
        fits = not hasattr(obs_space, "n") and tuple(obs_space.shape) == (agent.obs_dim,)
    if fits and agent.n_actions == n_actions:
        return
    name = env_name or _env_name(env)
    raise ValueError(f"{who} does not fit env {name!r}: the agent takes {_takes(agent)} and chooses among "
                     f"{agent.n_actions} actions; the env gives {_gives(obs_space)} and has {n_actions} actions")


# (env, learner) pairs the demo trains, in order; their curves go to curve_<env>_<learner>.csv.
DEMO_RUNS = (("tabular-shop", "q"), ("tabular-shop", "dqn"), ("pricing", "q"), ("pricing", "dqn"), ("shop", "dqn"))
QUICK_NOTE = ("Quick run: every budget is cut 20-fold, too small for the agents to learn; the figures "
              "check that the pieces run, not what the agents can do (run without --quick for those).")


def demo_outputs() -> list:
    """The file names ``run_demo`` writes into its folder."""
    return ["shop_dqn.npz", "curves.png"] + [f"curve_{env}_{agent}.csv" for env, agent in DEMO_RUNS]


def run_demo(out: str, seed: int = 0, episodes: int = 500, quick: bool = False, progress: bool = True) -> str:
    """The README's demo: every learner on every shop against its baselines; returns the report.

    Writes ``demo_outputs()`` into ``out``: ``shop_dqn.npz`` (the trained shop agent),
    ``curve_*.csv`` and, with matplotlib, ``curves.png`` (one panel per problem). ``quick`` cuts
    every budget 20-fold (for smoke tests; the report says the agents could not learn in it).
    Progress lines (on stderr when ``progress``) start with the run's ``env/learner``.
    """
    from .progress import Labelled
    from .report import exact_table, metrics_table, plot_curves, text_table
    from .train import evaluate

    def budget(env_name, agent_name):
        steps = RECIPES[(env_name, agent_name)].steps
        return max(steps // 20, 500) if quick else steps

    def fit(env_name, agent_name):
        recipe = RECIPES[(env_name, agent_name)]
        env = make_env(env_name, seed=seed, agent=agent_name, num_envs=recipe.num_envs)
        agent = make_agent(agent_name, env, seed=seed)
        history = train(agent, env, budget(env_name, agent_name), seed=seed,
                        progress=Labelled(f"{env_name}/{agent_name}") if progress else False)
        history.write_csv(os.path.join(out, f"curve_{env_name}_{agent_name}.csv"))
        return agent, history

    sections = [textwrap.fill(QUICK_NOTE, 100)] if quick else []
    curves = {"tabular shop": {}, "dynamic pricing": {}, "feature shop": {}}  # panel -> run -> History
    references = {"tabular shop": {}, "dynamic pricing": {}}                  # panel -> line -> value
    # 1. Tabular shop: Q-learning and DQN against the exact optimum.
    shop = TabularShop()
    P, R = shop.model()
    start = shop.initial_distribution()
    optimal = float(start @ value_iteration(P, R, 1.0, tol=1e-10)[1])
    values = {"optimal (value iteration)": optimal}
    for name in LEARNERS:
        agent, curves["tabular shop"][TITLES[name]] = fit("tabular-shop", name)
        values[f"{TITLES[name]} ({budget('tabular-shop', name):,} steps)"] = \
            exact_share(agent, shop)[0]
    values["greedy (myopic oracle)"] = float(start @ policy_evaluation(P, R, R.argmax(axis=1), 1.0))
    values["random"] = float(start @ policy_evaluation(P, R, np.full(R.shape, 1 / R.shape[1]), 1.0))
    references["tabular shop"]["optimal (exact)"] = optimal
    sections.append("Tabular shop: expected revenue per visit, exact\n" + exact_table(values, optimal))

    # 2. Dynamic pricing: the same learners against the optimum and the classic rules.
    pricing = PricingEnv()
    base = pricing.baseline_values()
    values = {"optimal (backward induction)": base["optimal"]}
    for name in LEARNERS:
        agent, curves["dynamic pricing"][TITLES[name]] = fit("pricing", name)
        values[f"{TITLES[name]} ({budget('pricing', name):,} steps)"] = \
            exact_share(agent, make_env("pricing", agent=name))[0]
    values[f"best fixed price ({pricing.prices[base['best_fixed_action']]:g})"] = base["best_fixed"]
    values["myopic price"] = base["myopic"]
    references["dynamic pricing"]["optimal (exact)"] = base["optimal"]
    sections.append("Dynamic pricing: expected revenue per season, exact\n" + exact_table(values, base["optimal"]))

    # 3. The feature shop: DQN against baselines, on fresh shoppers never seen in training.
    dqn, curves["feature shop"]["DQN"] = fit("shop", "dqn")
    dqn.save(os.path.join(out, "shop_dqn.npz"), metadata={"env": "shop", "agent": "dqn"})
    popularity = make_agent("popularity", ShopEnv(), seed=seed)
    results = {}
    for name, agent in (("DQN", dqn), ("greedy (myopic oracle)", None), ("popularity", popularity),
                        ("random", None)):
        env = ShopEnv()
        agent = agent or make_agent(name.split()[0], env, seed=seed)
        results[name] = evaluate(agent, env, episodes, seed=10_000 + seed)
    lift = results["DQN"]["revenue_per_session"] / results["greedy (myopic oracle)"]["revenue_per_session"] - 1
    verdict = f"DQN earns {lift:+.1%} revenue per session against greedy"
    verdict += (f" after a quick run of {budget('shop', 'dqn'):,} steps, too few for it to learn "
                f"(the full budget is {RECIPES[('shop', 'dqn')].steps:,})." if quick else ".")
    sections.append(f"Feature shop: {episodes} fresh shoppers each (mean ± standard error)\n"
                    + metrics_table(results) + "\n" + verdict)

    # 4. Ranking: where does each agent rank the product a shopper actually bought?
    from .ranking import agent_scores, log_purchases, ranking_metrics
    log = log_purchases(ShopEnv(), visits=200 if quick else 2_000, seed=20_000 + seed)
    rows = []
    for name, agent in (("DQN", dqn), ("greedy (myopic oracle)", GreedyAgent(ShopEnv())),
                        ("popularity", popularity), ("random order", None)):
        scores = np.zeros(log.action_mask.shape) if agent is None else agent_scores(agent, log)
        m5, m10 = ranking_metrics(scores, log, 5), ranking_metrics(scores, log, 10)
        rows.append([name] + [f"{m[key]:.3f} ± {m[key + '_se']:.3f}" for m, key in
                              ((m5, "hit_rate@5"), (m5, "ndcg@5"), (m10, "hit_rate@10"), (m10, "ndcg@10"))])
    sections.append(f"Ranking: {len(log.bought):,} purchases logged under random recommendations; "
                    "where each agent ranks the product bought\n"
                    + text_table(["agent", "hit rate@5", "NDCG@5", "hit rate@10", "NDCG@10"], rows))

    try:
        plot_curves(curves, os.path.join(out, "curves.png"), references)
        wrote = "curves.png, "
    except ImportError:
        wrote = ""
    sections.append(f"Saved in {out}/: shop_dqn.npz (try `minidqn recommend --load {out}/shop_dqn.npz`), "
                    f"{wrote}curve_*.csv")
    return "\n\n".join(sections)

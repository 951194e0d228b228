"""Cold start for products: agents trained on one catalogue, judged on products they never saw.

Three catalogues of the feature shop (``CATALOGUES``): the training one (``ShopConfig()``, 100
products), 100 products never seen (``catalogue_seed=1``) and 1,000 new products
(``catalogue_seed=2, n_items=1000``). On each, the same fresh shoppers meet every agent, and
revenue per session is compared with the myopic oracle's (``GreedyAgent``, which knows every
shopper's true odds for every product, new ones included). How each agent meets a new catalogue:

* ``ItemDQNAgent``: ``set_items(env.item_features)``, no retraining; it is put back on the
  catalogue it came with afterwards (``set_items`` again, so a replay it holds loses its stored
  masks: see ``item_dqn.py``);
* ``DQNAgent`` (one output per product id): run by id where the catalogue has as many products
  as it has outputs, as if the new products were the old ones; otherwise it cannot score them;
* popularity: purchase counts from a log of random recommendations on the training catalogue; a
  new product has no count, so on new catalogues it recommends at random;
* random: uniform over the allowed products.

``compare_catalogues`` runs it, ``cold_start_table`` prints one run; ``benchmarks/cold_start.py``
trains the learners over seeds and ``minidqn compare --cold-start`` loads saved ones. Training
is not covered here.
"""
from __future__ import annotations

from .baselines import GreedyAgent, PopularityAgent, RandomAgent
from .envs.shop import ShopEnv
from .envs.shop_config import ShopConfig
from .experiments import make_agent
from .report import text_table
from .train import evaluate

# key -> (title, config); the keys name the figures in benchmarks/cold_start.py's JSON.
CATALOGUES = {"train": ("training (100 products)", ShopConfig()),
              "new 100": ("100 new products", ShopConfig(catalogue_seed=1)),
              "new 1000": ("1,000 new products", ShopConfig(catalogue_seed=2, n_items=1000))}
REFERENCE = "greedy"                        # the myopic oracle: every ratio is to its revenue
BASELINES = ("random", "popularity", "greedy")


def compare_catalogues(agents: dict, baselines=("popularity",), episodes: int = 500, seed: int = 12_345,
                       baseline_seed: int | None = None) -> dict:
    """Revenue per session of every agent on every catalogue of ``CATALOGUES``.

    ``agents``: name -> a learner trained on the training catalogue (``ItemDQNAgent`` or
    ``DQNAgent``); ``baselines``: names from ``BASELINES`` (the myopic oracle ``"greedy"`` is
    always run). Every agent on a catalogue meets the same ``episodes`` shoppers (``evaluate``'s
    ``seed``); ``baseline_seed`` (default: ``seed``) seeds the baselines' own draws (popularity's
    log of random recommendations, random choices, ties). Returns ``{catalogue key: {name:
    evaluate() metrics, or None where the agent cannot score that catalogue}}``, the oracle first.
    """
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"baselines: unknown {unknown}; the cold start compares {BASELINES} "
                         "(the exact oracle needs a finite shop)")
    originals = {name: agent.items.copy() for name, agent in agents.items() if hasattr(agent, "set_items")}
    b_seed = seed if baseline_seed is None else baseline_seed
    popularity = make_agent("popularity", ShopEnv(), seed=b_seed) if "popularity" in baselines else None
    results = {}
    try:
        for key, (_, config) in CATALOGUES.items():
            env = ShopEnv(config)
            rows = {REFERENCE: GreedyAgent(env, seed=b_seed)}
            for name in baselines:
                if name == "random":
                    rows[name] = RandomAgent.for_env(env, seed=b_seed)
                elif name == "popularity":
                    rows[name] = popularity if key == "train" else PopularityAgent.for_env(env, seed=b_seed)
            for name, agent in agents.items():
                if name in originals:
                    agent.set_items(env.item_features)
                    rows[name] = agent
                else:
                    rows[name] = agent if agent.n_actions == env.n_items else None
            results[key] = {name: None if agent is None else evaluate(agent, env, episodes, seed=seed)
                            for name, agent in rows.items()}
    finally:
        for name, items in originals.items():
            agents[name].set_items(items)
    return results


def cold_start_table(results: dict) -> str:
    """``compare_catalogues``' results as one table: a row per catalogue, the oracle's revenue
    per session, then each agent's revenue and its ratio to the oracle's; an agent that cannot
    score a catalogue shows why."""
    names = [n for n in next(iter(results.values())) if n != REFERENCE]
    rows = []
    for key, row in results.items():
        oracle = row[REFERENCE]["revenue_per_session"]
        cells = [CATALOGUES[key][0], f"{oracle:.3f}"]
        for name in names:
            m = row.get(name)
            cells.append("cannot score them" if m is None else
                         f"{m['revenue_per_session']:.3f} ({m['revenue_per_session'] / oracle:.2f}x)")
        rows.append(cells)
    return text_table(["catalogue", "myopic oracle"] + names, rows)


def flat_revenues(results: dict) -> dict:
    """``{"<catalogue>/<name>": revenue per session}`` for every agent that ran, and the oracle
    as ``"<catalogue>/oracle"``: the flat form ``benchmarks/cold_start.py`` writes per seed."""
    return {f"{key}/{'oracle' if name == REFERENCE else name}": m["revenue_per_session"]
            for key, row in results.items() for name, m in row.items() if m is not None}


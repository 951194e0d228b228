"""End-to-end: the learners, with their default settings and the budgets the demo uses, beat their baselines
(the item DQN on two fifths of its budget, on its catalogue and on products it never saw).

Seeds are fixed and budgets small; each assertion is a clear margin over a baseline computed
exactly (finite shops) or on fresh shoppers never seen in training.

Thresholds come from ``benchmarks/seeds.py`` (the same defaults and budgets over many seeds), not
from seed 0: the same seed on another CPU or NumPy rounds differently and lands elsewhere in that
spread (an earlier pricing DQN, seed 0: 0.985 here, 0.965 on another CPU, 0.954 under NumPy 1.22).
Each threshold sits below the minimum over seeds, and the comment beside it quotes the
distribution.
"""
import pytest

from minidqn.experiments import RECIPES, exact_share, make_agent, make_env
from minidqn.train import train


def trained(env_name, agent_name, seed=0):
    recipe = RECIPES[(env_name, agent_name)]
    env = make_env(env_name, seed=seed, agent=agent_name, num_envs=recipe.num_envs)
    agent = make_agent(agent_name, env, seed=seed)
    train(agent, env, recipe.steps, seed=seed, progress=False)
    return agent, make_env(env_name, seed=seed, agent=agent_name)


def test_dqn_with_default_settings_reaches_85_percent_of_the_tabular_shop_optimum():
    agent, env = trained("tabular-shop", "dqn")
    assert agent.one_hot
    _, share = exact_share(agent, env)
    # DQNAgent's defaults, 150,000 steps, 10 seeds: min 0.908, median 0.990, max 1.000 (seed 0:
    # 0.938). Threshold 0.85, still far above the myopic oracle's 0.741.
    assert share >= 0.85


def test_pricing_q_learning_comes_within_2_percent_and_beats_the_best_fixed_price():
    agent, env = trained("pricing", "q")
    value, share = exact_share(agent, env)
    # TabularQAgent's defaults, 10 seeds: share min 0.993, median 0.996, max 0.998, so value / best
    # fixed at least 1.12 (the best fixed price earns 0.886 of the optimum); thresholds 0.98, 1.10.
    assert share >= 0.98
    assert value >= 1.10 * env.baseline_values()["best_fixed"]


def test_pricing_dqn_comes_within_5_percent_and_beats_the_best_fixed_price_by_7_percent():
    agent, env = trained("pricing", "dqn")
    value, share = exact_share(agent, env)
    # DQNAgent's defaults, 50,000 steps, 10 seeds: share min 0.974, median 0.985, max 0.989 (seed 0:
    # 0.974); value / best fixed price min 1.100. Thresholds 0.95 and 1.07 (0.95 / 0.886 = 1.072).
    assert share >= 0.95
    assert value >= 1.07 * env.baseline_values()["best_fixed"]


def test_dqn_with_default_settings_earns_clearly_more_than_the_myopic_oracle_on_fresh_shoppers():
    from minidqn.baselines import GreedyAgent
    from minidqn.envs.shop import ShopEnv
    from minidqn.train import evaluate

    greedy_env = ShopEnv()
    greedy = evaluate(GreedyAgent(greedy_env, seed=0), greedy_env, 300, seed=10_000)
    agent, _ = trained("shop", "dqn")  # one shopper at a time, 100,000 steps
    learned = evaluate(agent, ShopEnv(), 300, seed=10_000)  # shoppers never seen in training
    # DQNAgent's defaults, 10 seeds: lift min 1.371, median 1.455, max 1.574 (seed 0: 1.382).
    # Threshold 1.20.
    assert learned["revenue_per_session"] >= 1.20 * greedy["revenue_per_session"]


def test_item_dqn_beats_random_on_its_catalogue_and_on_new_products_without_retraining():
    from minidqn.baselines import RandomAgent
    from minidqn.envs.shop import ShopConfig, ShopEnv
    from minidqn.train import evaluate

    recipe = RECIPES[("shop", "item-dqn")]
    env = make_env("shop", seed=0, agent="item-dqn", num_envs=recipe.num_envs)
    agent = make_agent("item-dqn", env, seed=0)
    train(agent, env, 40_000, seed=0, progress=False)
    lift = {}
    for name, config in (("training", ShopConfig()), ("new", ShopConfig(catalogue_seed=1))):
        env = ShopEnv(config)
        agent.set_items(env.item_features)  # the new products: by their features, no retraining
        learned = evaluate(agent, env, 200, seed=10_000)["revenue_per_session"]
        lift[name] = learned / evaluate(RandomAgent.for_env(env), env, 200, seed=10_000)["revenue_per_session"]
    # ItemDQNAgent's defaults (its recipe's settings until they became them), 40,000 steps (two fifths of the recipe's
    # budget), 10 seeds each under NumPy 2.4 and NumPy 1.22 (benchmarks/seeds.py, shop-items):
    # revenue / random's on the training catalogue min 3.22 and 2.96, median 3.99 and 3.83; on 100
    # products never seen min 1.81 and 1.93, median 2.65 and 2.46. (At 20,000 steps seed 0 gave 1.56
    # on new products under NumPy 2.4 and 0.97 under 1.22: too early to pin.) Popularity knows
    # nothing of new products: random is its bar there. Thresholds 2.5 and 1.4.
    assert lift["training"] >= 2.5, lift
    assert lift["new"] >= 1.4, lift


def test_dqn_with_the_control_task_settings_balances_cartpole():
    gym = pytest.importorskip("gymnasium")  # the optional `gym` extra
    from minidqn import DQNAgent, control_task_settings
    from minidqn.train import evaluate

    # The settings for control tasks (README, FAQ), which the shops do not tolerate as defaults.
    agent = DQNAgent.for_env(gym.make("CartPole-v1"), seed=0, **control_task_settings())
    train(agent, gym.make("CartPole-v1"), 50_000, seed=0, eval_env=gym.make("CartPole-v1"), eval_every=2_500,
          eval_episodes=10, keep_best=True, progress=False)
    mean_return = evaluate(agent, gym.make("CartPole-v1"), 20, seed=10_000)["mean_return"]
    # These settings, 10 seeds (benchmarks/seeds.py --dqn, cartpole): NumPy 2.4 min 366, median 488,
    # max 500 (seed 0: 500), 7 of 10 at 475 or more; NumPy 1.22 (Python 3.10) min 412, median 491
    # (seed 0: 499). The defaults: median 214; random: 23. Threshold 250.
    assert mean_return >= 250

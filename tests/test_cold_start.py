"""The cold-start comparison: the same shoppers for every agent, the oracle as the reference,
each agent put on a new catalogue the way it can (or not at all), and left as it was."""
import numpy as np
import pytest

from minidqn import DQNAgent, GreedyAgent, ItemDQNAgent, ShopEnv
from minidqn.cold_start import CATALOGUES, cold_start_table, compare_catalogues, flat_revenues
from minidqn.train import evaluate


@pytest.fixture(scope="module")
def results_and_agents():
    item = ItemDQNAgent.for_env(ShopEnv(), hidden=(8,), embed_dim=4, seed=1)
    dqn = DQNAgent.for_env(ShopEnv(), hidden=(8,), seed=2)
    results = compare_catalogues({"item": item, "dqn": dqn}, baselines=("random",), episodes=3, seed=5)
    return results, item, dqn


def test_every_catalogue_has_the_oracle_first_and_every_agent(results_and_agents):
    results, _, _ = results_and_agents
    assert list(results) == list(CATALOGUES)
    for row in results.values():
        assert list(row) == ["greedy", "random", "item", "dqn"]


def test_the_oracle_is_the_myopic_oracle_of_that_catalogue_on_the_same_shoppers(results_and_agents):
    results, _, _ = results_and_agents
    env = ShopEnv(CATALOGUES["new 1000"][1])
    expected = evaluate(GreedyAgent(env, seed=5), env, 3, seed=5)["revenue_per_session"]
    assert results["new 1000"]["greedy"]["revenue_per_session"] == expected


def test_the_item_dqn_scores_new_products_and_is_put_back_on_its_catalogue(results_and_agents):
    results, item, _ = results_and_agents
    assert item.n_actions == 100 and np.array_equal(item.items, ShopEnv().item_features)
    env = ShopEnv(CATALOGUES["new 100"][1])
    item.set_items(env.item_features)
    try:
        expected = evaluate(item, env, 3, seed=5)["revenue_per_session"]
    finally:
        item.set_items(ShopEnv().item_features)
    assert results["new 100"]["item"]["revenue_per_session"] == expected
    assert results["new 1000"]["item"]["coverage"] > 0


def test_a_dqn_runs_by_id_where_the_counts_match_and_not_elsewhere(results_and_agents):
    results, _, _ = results_and_agents
    assert results["new 100"]["dqn"] is not None and results["new 1000"]["dqn"] is None
    assert "cannot score them" in cold_start_table(results).splitlines()[-1]
    flat = flat_revenues(results)
    assert "new 1000/dqn" not in flat and flat["train/oracle"] == results["train"]["greedy"]["revenue_per_session"]


def test_the_exact_oracle_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown \['oracle'\]"):
        compare_catalogues({}, baselines=("oracle",), episodes=1)

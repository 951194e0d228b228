"""ShopConfig and the observation layout (``shop_config.py``), and what the defaults are for.

The calibration tests pin the purpose of the default ``ShopConfig``: the myopic oracle (highest
true expected immediate reward) clearly beats random and popularity, and is itself clearly beaten
by policies that look further, one using the hidden state and one using only what the agent
observes. The hand-made policies are in ``benchmarks/shop_calibration.py``, which prints the
table with more visits.
"""
from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import pytest

from minidqn.envs.shop import ShopEnv
from minidqn.envs.shop_config import (CLICK_RATE_DECAY, COUNT_SCALE, ShopConfig, as_shop_config,
                                      feature_names, observation_space)
from minidqn.envs.vector_shop import VectorShopEnv

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from shop_calibration import calibration as run_calibration  # noqa: E402


@pytest.fixture(scope="module")
def calibration():
    return run_calibration(episodes=3000)


@pytest.mark.parametrize("field, value, error", [
    ("n_items", 0, ValueError), ("n_items", 10.0, TypeError), ("n_categories", 200, ValueError),
    ("trap_fraction", 1.5, ValueError), ("mean_price", 0.0, ValueError),
    ("patience_min", 9.0, ValueError), ("satiation", float("nan"), ValueError),
    ("ignore_cost", -1.0, ValueError), ("taste_spread", 11.0, ValueError),
    ("click_bias", "high", TypeError), ("max_steps", 0, ValueError)])
def test_bad_config_names_the_field(field, value, error):
    with pytest.raises(error, match=field):
        ShopConfig(**{field: value})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ShopConfig().n_items = 3


def test_as_shop_config_gives_the_default_for_none_and_refuses_anything_else():
    config = ShopConfig(n_items=7, n_categories=2)
    assert as_shop_config(config) is config and as_shop_config(None) == ShopConfig()
    with pytest.raises(TypeError, match="config must be a ShopConfig or None, got dict"):
        as_shop_config({"n_items": 3})


def test_feature_names_and_bounds_follow_the_layout():
    names = feature_names(2)
    assert names == ["entry_0", "entry_1", "views_0", "views_1", "clicks_0", "clicks_1",
                     "purchases_0", "purchases_1", "last_price", "last_quality", "last_appeal",
                     "last_clicked", "last_purchased", "step", "click_rate"]
    config = ShopConfig(n_items=4, n_categories=2, max_steps=20, mean_price=2.0)
    space = observation_space(config, np.array([1.0, 5.0, 3.0, 2.0]))
    assert space.shape == (len(names),) and space.dtype == np.float32
    np.testing.assert_array_equal(space.low, 0.0)
    np.testing.assert_allclose(space.high, [1, 1, 2, 2, 2, 2, 2, 2, 2.5, 1, 1, 1, 1, 1, 1])
    assert COUNT_SCALE * config.max_steps == 2.0 and 0 < CLICK_RATE_DECAY < 1


def test_shop_py_still_exports_what_it_did():
    from minidqn.envs import shop
    assert (shop.ShopConfig, shop.VectorShopEnv) == (ShopConfig, VectorShopEnv)
    assert (shop.COUNT_SCALE, shop.CLICK_RATE_DECAY) == (COUNT_SCALE, CLICK_RATE_DECAY)
    assert ShopEnv().feature_names == feature_names(ShopConfig().n_categories)


# ---------------------------------------------------------------- calibration of the defaults
def test_traps_pay_most_now_and_disappoint_most():
    """The myopic trap: traps have the highest immediate expected revenue on average and the
    myopic oracle opens with one far more often than their share; and, for every shopper, every
    trap is likelier to end in a disappointing click than every other product of its category."""
    env = VectorShopEnv(2000, seed=0)
    env.reset(seed=1)
    trap, er = env.catalogue.is_trap, env.expected_reward()
    assert er[:, trap].mean() > 1.5 * er[:, ~trap].mean()
    assert trap[er.argmax(axis=1)].mean() > 2 * trap.mean()
    p_click, p_buy = env.choice_probs()
    disappoint = p_click * (1 - p_buy)
    for c in range(env.n_categories):
        mine = env.category == c
        assert np.all(disappoint[:, mine & trap].min(axis=1)
                      > disappoint[:, mine & ~trap].max(axis=1))


def test_myopic_oracle_clearly_beats_random_and_popularity(calibration):
    greedy = calibration["greedy"][0]
    assert greedy > 2.0 * calibration["random"][0]
    assert greedy > 1.3 * calibration["popularity"][0]


def test_looking_ahead_with_the_hidden_state_earns_far_more_than_the_myopic_oracle(calibration):
    assert calibration["lookahead"][0] > 2.0 * calibration["greedy"][0]
    assert calibration["lookahead"][2] > 2 * calibration["greedy"][2]     # longer visits


def test_the_advantage_is_reachable_from_the_observation_alone(calibration):
    assert calibration["observed"][0] > 1.3 * calibration["greedy"][0]
    assert calibration["landing page only"][0] > 1.25 * calibration["greedy"][0]


# ------------------------------------------------------------------ what the shop knows of its products
def test_item_features_are_what_the_shop_knows_of_each_product():
    env = ShopEnv(ShopConfig(n_categories=4, n_items=12))
    x, cat = env.item_features, env.catalogue
    assert x.shape == (12, 3 + 4) and x.dtype == np.float32
    assert env.item_feature_names == ["price", "quality", "appeal", "category_0", "category_1",
                                      "category_2", "category_3"]
    np.testing.assert_array_equal(x[:, 0], (cat.price / env.config.mean_price).astype(np.float32))
    np.testing.assert_array_equal(x[:, 1], cat.quality.astype(np.float32))
    np.testing.assert_array_equal(x[:, 2], cat.appeal.astype(np.float32))
    np.testing.assert_array_equal(x[:, 3:].argmax(axis=1), cat.category)
    np.testing.assert_array_equal(x[:, 3:].sum(axis=1), 1.0)
    # nothing about shoppers: the same after any number of shoppers, and read-only
    env.reset(seed=3)
    env.step(0)
    np.testing.assert_array_equal(env.item_features, x)
    with pytest.raises(ValueError):
        env.item_features[0, 0] = 2.0


def test_item_features_follow_the_catalogue_seed_and_are_shared_by_the_vector_shop():
    a, b = ShopEnv(ShopConfig(catalogue_seed=0)), ShopEnv(ShopConfig(catalogue_seed=1))
    assert a.item_features.shape == b.item_features.shape == (100, 13)
    assert not np.allclose(a.item_features[:, :3], b.item_features[:, :3])
    vec = VectorShopEnv(3, ShopConfig(catalogue_seed=1))
    np.testing.assert_array_equal(vec.item_features, b.item_features)
    assert vec.item_feature_names == b.item_feature_names


def test_a_large_catalogue_has_its_item_features():
    env = ShopEnv(ShopConfig(n_items=10_000))
    assert env.item_features.shape == (10_000, 13)
    kinds = env.catalogue.is_trap.sum(), env.catalogue.is_gem.sum()
    assert kinds == (2000, 1500)
    obs, info = env.reset(seed=0)
    assert env.step(9_999)[4]["action_mask"].shape == (10_000,)

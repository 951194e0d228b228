"""catalogue.py: the choice probabilities from a shopper state given as arrays, for one shopper
and for a batch (the catalogue's contents are tested through the envs in ``test_shop.py``)."""
from __future__ import annotations

import numpy as np

from minidqn.envs.catalogue import catalogue_choice_probs, draw_shoppers, make_catalogue
from minidqn.envs.shop_config import ShopConfig
from minidqn.envs.vector_shop import VectorShopEnv


def test_choice_probs_from_the_public_hidden_state_match_the_envs():
    env = VectorShopEnv(64, ShopConfig(n_items=12, n_categories=3), seed=0)
    rng = np.random.default_rng(1)
    env.reset()
    for _ in range(8):
        env.step(rng.integers(env.n_items, size=env.num_envs))
    h, cat = env.hidden_state(), env.catalogue
    buy_base = cat.buy_static - h["price_sensitivity"][:, None] * cat.log_rel_price
    p_click, p_buy = catalogue_choice_probs(env.config, cat, h["taste"], 1.0 - h["interest"],
                                            buy_base, h["bought"])
    want_click, want_buy = env.choice_probs()
    np.testing.assert_allclose(p_click, want_click, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(p_buy, want_buy, rtol=1e-12)
    assert h["bought"].any() and np.all(p_click[h["bought"]] == 0.0)
    one = catalogue_choice_probs(env.config, cat, h["taste"][5], 1.0 - h["interest"][5],
                                 buy_base[5], h["bought"][5])
    assert one[0].shape == (12,)
    np.testing.assert_array_equal(one[0], p_click[5])
    np.testing.assert_array_equal(one[1], p_buy[5])


def test_a_fresh_shopper_clicks_its_landing_category_most_at_equal_appeal():
    config = ShopConfig(click_appeal=0.0, n_items=30, n_categories=3)
    cat = make_catalogue(config)
    s = draw_shoppers(config, cat, np.random.default_rng(0), 50)
    p_click, _ = catalogue_choice_probs(config, cat, s.taste, np.zeros_like(s.taste), s.buy_base,
                                        np.zeros((50, 30), dtype=bool))
    assert np.all(cat.category[p_click.argmax(axis=1)] == s.entry)

"""SlateShopEnv: the shop's model with a page of k products, refused actions, determinism."""
import dataclasses

import numpy as np
import pytest

from minidqn.envs.shop import ShopConfig, ShopEnv
from minidqn.envs.slate_shop import SlateShopEnv, clicked_slot
from minidqn.slate_choice import slate_value
from minidqn.spaces import Slate


def test_choice_probabilities_with_no_click_sum_to_one_and_follow_the_slots():
    env = SlateShopEnv(seed=0)
    env.reset(seed=3)
    p, p0 = env.choice_probs([4, 17, 60])
    assert p.shape == (3,) and p.sum() + p0 == pytest.approx(1.0, abs=1e-12)
    q, _ = env.choice_probs([60, 17, 4])       # the same products the other way round
    assert p[0] / p[2] > q[2] / q[0]           # the top slot raises a product's share
    v, rho, _, _ = env.slate_model()
    np.testing.assert_allclose(rho, [0.0, -0.5, -1.0])
    w = np.exp(v[[4, 17, 60]] + rho)
    np.testing.assert_allclose(p, w / (1 + w.sum()), rtol=1e-12)


def test_one_slot_is_shopenv_click_and_purchase_model():
    env, shop = SlateShopEnv(slate_size=1, seed=0), ShopEnv(seed=0)
    env.reset(seed=5)
    shop.reset(seed=5)
    p_click, p_buy = shop.choice_probs()
    for i in (0, 13, 77):
        assert env.choice_probs([i])[0][0] == pytest.approx(p_click[i], rel=1e-12)
    _, _, r, _ = env.slate_model()
    np.testing.assert_allclose(r, p_buy * shop.price, rtol=1e-12)
    np.testing.assert_array_equal(env.hidden_state()["taste"], shop.hidden_state()["taste"])


def test_empirical_click_shares_match_the_model():
    env = SlateShopEnv(seed=0)
    slate = np.array([10, 20, 30])
    env.reset(seed=1)
    p, p0 = env.choice_probs(slate)
    counts = np.zeros(4)
    for s in range(4000):
        env.reset(seed=1)                      # the same shopper each time, fresh draws below
        env._rng = np.random.default_rng(s)
        counts[env.step(slate)[4]["clicked"]] += 1   # -1 (no click) lands in counts[3]
    np.testing.assert_allclose(counts / 4000, [*p, p0], atol=0.025)


def test_step_moves_patience_and_records_the_click_in_the_observation():
    env = SlateShopEnv(seed=0)
    env.reset(seed=2)
    cfg, K = env.config, env.n_categories
    for _ in range(50):
        before = env.hidden_state()["patience"]
        slate = env.action_space.sample(env.action_masks())
        obs, reward, terminated, truncated, info = env.step(slate)
        j, i = info["clicked"], info["item"]
        assert clicked_slot(obs, 3) == j and (i == -1 if j < 0 else i == slate[j])
        after = env.hidden_state()["patience"]
        if j < 0:
            assert after == pytest.approx(before - cfg.ignore_cost) and reward == 0.0
            assert np.all(obs[4 * K:4 * K + 3] == 0)
        elif not info["purchased"]:
            assert after == pytest.approx(before - env.catalogue.letdown[i])
        else:
            assert reward == pytest.approx(env.price[i]) and not info["action_mask"][i]
            assert obs[4 * K] == pytest.approx(env.price[i], rel=1e-6)
        if terminated or truncated:
            break
    assert obs in env.observation_space


def test_bad_slates_are_refused_clearly_and_change_nothing():
    env = SlateShopEnv(seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step([0, 1, 2])
    env.reset(seed=0)
    state = env.hidden_state()
    for bad, err, msg in (([1, 1, 2], ValueError, "distinct"), ([0, 1], ValueError, r"shape \(3,\)"),
                          ([0, 1, 100], ValueError, r"\[0, 100\)"), ([0, -1, 2], ValueError, "-1"),
                          ([0.0, 1.0, 2.0], TypeError, "integer"), (5, ValueError, "shape")):
        with pytest.raises(err, match=msg):
            env.step(bad)
    assert env.hidden_state()["patience"] == state["patience"]
    env._bought[7] = True
    with pytest.raises(ValueError, match=r"forbids.*\[7\]"):
        env.step(np.array([3, 7, 9], np.int32))
    with pytest.raises(ValueError, match="slate_size"):
        SlateShopEnv(ShopConfig(n_items=4, n_categories=2), slate_size=5)


def test_same_seed_same_visits():
    def run(seed):
        env = SlateShopEnv(seed=seed)
        obs, info = env.reset()
        out, rng = [obs], np.random.default_rng(0)
        for _ in range(200):
            obs, r, term, trunc, info = env.step(rng.choice(np.flatnonzero(info["action_mask"]), 3, replace=False))
            out.append(np.append(obs, r))
            if term or trunc:
                obs, info = env.reset()
        return np.concatenate(out)
    np.testing.assert_array_equal(run(4), run(4))
    assert not np.array_equal(run(4), run(5))


def test_a_small_catalogue_sells_out():
    cfg = dataclasses.replace(ShopConfig(n_items=4, n_categories=2), patience_min=1e5, patience_max=1e5,
                              buy_bias=20.0, click_bias=20.0)
    env = SlateShopEnv(cfg, slate_size=3, seed=0)
    _, info = env.reset(seed=0)
    obs, r, terminated, truncated, info = env.step(np.array([0, 1, 2]))
    assert info["purchased"] and not terminated                  # 3 products left: one more page
    obs, r, terminated, truncated, info = env.step(np.flatnonzero(info["action_mask"]))
    assert info["purchased"] and terminated and info["sold_out"] and not info["left"]


def test_spaces_and_expected_reward_of_a_slate():
    env = SlateShopEnv(slate_size=2, seed=0)
    assert env.action_space == Slate(100, 2) and env.observation_space.shape == (4 * 10 + 7 + 2,)
    assert env.action_space.contains(np.array([3, 4])) and not env.action_space.contains(np.array([3, 3]))
    env.reset(seed=9)
    v, rho, r, mask = env.slate_model()
    p, _ = env.choice_probs([5, 6])
    assert slate_value(v, r, rho, [5, 6]) == pytest.approx(p @ r[[5, 6]], rel=1e-12)


def test_slate_space_samples_distinct_allowed_ids_by_seed_and_refuses_the_rest():
    space = Slate(6, 3, seed=0)
    mask = np.array([1, 0, 1, 1, 0, 1], bool)
    draws = [space.sample(mask) for _ in range(50)]
    assert all(np.unique(d).size == 3 and mask[d].all() and d.dtype == np.int64 for d in draws)
    space.seed(0)
    np.testing.assert_array_equal(np.array(draws), [space.sample(mask) for _ in range(50)])
    for bad in ([0, 1], [0, 1, 6], [0, 0, 1], [0.0, 1.0, 2.0], [True, False, True]):
        assert np.asarray(bad) not in space
    assert np.array([5, 0, 2]) in space and np.array_equal(space.nvec, [6, 6, 6])
    with pytest.raises(ValueError, match="k must be <= 6"):
        Slate(6, 7)

"""ShopEnv: the contract, and the sign of every dynamic of the shop's model.

``VectorShopEnv`` has its own file (``test_vector_shop.py``, which also checks that one shopper
replays this env exactly), ``ShopConfig`` and the calibration of its defaults theirs
(``test_shop_config.py``). ``rollout`` and ``SMALL`` are shared with ``test_vector_shop.py``.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidqn.envs.shop import ShopConfig, ShopEnv

SMALL = ShopConfig(n_items=12, n_categories=3)


def rollout(env, steps, seed=0):
    """Random actions on a single env, resetting at episode ends; yields every transition with
    the hidden state before and after it."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        before = env.hidden_state()
        a = int(rng.integers(env.n_items))
        next_obs, r, term, trunc, info = env.step(a)
        yield obs, a, r, term, trunc, info, before, env.hidden_state(), next_obs
        obs = env.reset()[0] if term or trunc else next_obs


# ---------------------------------------------------------------- the contract
def test_reset_gives_obs_in_space_with_named_features_and_full_mask():
    env = ShopEnv(seed=0)
    obs, info = env.reset(seed=1)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
    assert env.observation_space.contains(obs)
    assert len(env.feature_names) == obs.size == 4 * env.n_categories + 7
    assert info["action_mask"].dtype == bool and info["action_mask"].all()
    assert env.action_space.n == env.n_items == env.price.size == env.category.size


def test_catalogue_is_fixed_by_the_config_not_by_the_env_seed():
    a, b = ShopEnv(seed=1), ShopEnv(seed=2)
    for name in ("price", "quality", "appeal", "category"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    c = ShopEnv(ShopConfig(catalogue_seed=1))
    assert not np.array_equal(a.price, c.price)
    with pytest.raises(ValueError, match="read-only"):
        a.price[0] = 1.0


def test_catalogue_has_expensive_tempting_traps_and_plain_gems():
    cat = ShopEnv().catalogue
    assert cat.appeal[cat.is_trap].min() > cat.appeal[~cat.is_trap].max() - 0.2
    assert cat.quality[cat.is_trap].max() < cat.quality[~cat.is_trap].min()
    assert np.median(cat.price[cat.is_trap]) > 2 * np.median(cat.price[~cat.is_trap])
    assert cat.appeal[cat.is_gem].max() < cat.appeal[~cat.is_gem & ~cat.is_trap].min()
    assert np.bincount(cat.category).min() == 10


def test_same_seed_same_visit_and_different_seeds_different_shoppers():
    runs = [[t[2] for t in rollout(ShopEnv(SMALL), 300, seed=s)] for s in (3, 3, 4)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    env = ShopEnv(seed=5)
    tastes = [env.reset()[0] is not None and env.hidden_state()["taste"] for _ in range(2)]
    assert not np.allclose(*tastes)


def test_step_out_of_order_raises_runtime_error():
    env = ShopEnv(ShopConfig(max_steps=1))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(RuntimeError, match="ended"):
        env.step(0)


@pytest.mark.parametrize("action, error", [(100, ValueError), (-1, ValueError), (1.0, TypeError),
                                           (True, TypeError), ("3", TypeError)])
def test_bad_action_is_refused_with_its_name_and_value(action, error):
    env = ShopEnv()
    env.reset(seed=0)
    with pytest.raises(error, match=f"action.*{action!r}" if error is TypeError else
                       f"action.*got {action}"):
        env.step(action)
    env.step(np.int64(3))   # NumPy integers are fine


def test_env_takes_only_a_shop_config():
    with pytest.raises(TypeError, match="config"):
        ShopEnv({"n_items": 3})


def test_observation_records_exactly_what_the_shop_saw():
    env = ShopEnv()
    k, cfg = env.n_categories, env.config
    for obs, a, r, term, trunc, info, before, after, nxt in rollout(env, 400, seed=2):
        if obs[4 * k + 5] == 0:                    # first step of a visit: only the landing page
            seen, rate, t = np.zeros((3, k)), 0.0, 0
            assert obs[:k].sum() == 1 and not obs[k:].any()
            assert obs[:k].argmax() == before["taste"].argmax()     # lands on its favourite
        seen[:, env.category[a]] += (1, info["clicked"], info["purchased"])
        rate += 0.3 * (info["clicked"] - rate)
        t += 1
        expect = np.concatenate([obs[:k], 0.1 * seen.ravel(),
                                 [env.price[a] / cfg.mean_price, env.quality[a], env.appeal[a],
                                  info["clicked"], info["purchased"], t / cfg.max_steps, rate]])
        np.testing.assert_allclose(nxt, expect.astype(np.float32), rtol=1e-6, atol=1e-7)
        assert env.observation_space.contains(nxt)


def test_events_are_consistent_and_revenue_is_the_price_of_a_purchase():
    env = ShopEnv(ShopConfig(click_reward=0.1))
    for obs, a, r, term, trunc, info, before, after, nxt in rollout(env, 2000, seed=4):
        assert not (info["purchased"] and not info["clicked"])
        assert info["revenue"] == (env.price[a] if info["purchased"] else 0.0)
        assert r == pytest.approx(info["revenue"] + 0.1 * info["clicked"])
        assert info["left"] == term and not (term and trunc)


# ---------------------------------------------------------------- the sign of every dynamic
def test_patience_falls_when_ignored_falls_more_when_let_down_and_purchase_restores_it():
    env = ShopEnv()
    cfg, cat = env.config, env.catalogue
    assert cfg.purchase_boost > 0 and cfg.ignore_cost > 0 and np.all(cat.letdown > cfg.ignore_cost)
    assert cat.letdown[cat.is_trap].min() > cat.letdown[~cat.is_trap].max()   # poorer: worse
    np.testing.assert_allclose(cat.letdown,
                               cfg.ignore_cost + cfg.disappoint_cost * (1 - env.quality))
    seen = set()
    for obs, a, r, term, trunc, info, before, after, nxt in rollout(env, 3000, seed=5):
        if info["purchased"]:
            want, kind = min(before["patience"] + cfg.purchase_boost,
                             before["initial_patience"]), "bought"
        elif info["clicked"]:
            want, kind = before["patience"] - cat.letdown[a], "let down"
        else:
            want, kind = before["patience"] - cfg.ignore_cost, "ignored"
        assert after["patience"] == pytest.approx(want), kind
        seen.add(kind)
    assert seen == {"bought", "let down", "ignored"}


def test_shopper_leaves_exactly_when_patience_runs_out_and_visits_are_cut_at_max_steps():
    for *_, term, trunc, info, before, after, nxt in rollout(ShopEnv(), 3000, seed=6):
        assert term == (after["patience"] <= 0)
    env = ShopEnv(ShopConfig(ignore_cost=0.0, disappoint_cost=0.0, max_steps=7))   # no leaving
    env.reset(seed=0)
    ends = [env.step(0)[2:4] for _ in range(7)]
    assert ends[-1] == (False, True) and all(e == (False, False) for e in ends[:-1])


def test_purchase_satiates_its_category_which_then_recovers():
    env = ShopEnv()
    cfg, signs = env.config, set()
    for *_, a, r, term, trunc, info, before, after, nxt in rollout(env, 3000, seed=7):
        c = env.category[a]
        want = 1 - (1 - before["interest"]) * (1 - cfg.recovery)
        if info["purchased"]:
            want[c] *= cfg.satiation
            assert after["interest"][c] < before["interest"][c]              # satiated: falls
            signs.add("falls")
        others = np.arange(env.n_categories) != c
        lost = others & (before["interest"] < 1)
        assert np.all(after["interest"][lost] > before["interest"][lost])   # recovers: rises
        if lost.any():
            signs.add("rises")
        np.testing.assert_allclose(after["interest"], want, rtol=1e-12)
    assert signs == {"falls", "rises"}


def test_satiation_lowers_the_expected_reward_of_the_rest_of_the_category():
    env = ShopEnv()
    for seed in range(200):
        env.reset(seed=seed)
        a = int(np.argmax(env.expected_reward()))
        before = env.expected_reward()
        _, r, term, trunc, info = env.step(a)
        if info["purchased"] and not term:
            same = env.category == env.category[a]
            same[a] = False
            after = env.expected_reward()
            assert np.all(after[same] < before[same])
            assert np.all(after[~same & (np.arange(env.n_items) != a)]
                          == before[~same & (np.arange(env.n_items) != a)])
            return
    pytest.fail("no purchase in 200 visits")


def test_click_rises_with_appeal_and_taste_purchase_with_quality_and_falls_with_price():
    env = ShopEnv()
    env.reset(seed=3)
    p_click, p_buy = env.choice_probs()
    taste = env.hidden_state()["taste"]
    for c in range(env.n_categories):                 # same category: same match
        i = np.flatnonzero(env.category == c)
        assert np.all(np.diff(p_click[i][np.argsort(env.appeal[i])]) > 0)
    same_appeal = ShopEnv(ShopConfig(click_appeal=0.0))
    same_appeal.reset(seed=3)
    by_taste = same_appeal.choice_probs()[0]
    assert np.all(np.diff(by_taste[np.argsort(taste[env.category], kind="stable")]) >= 0)
    for cfg, key, sign in [(ShopConfig(price_sensitivity=0.0, buy_taste=0.0), env.quality, 1),
                           (ShopConfig(buy_quality=0.0, buy_taste=0.0), env.price, -1)]:
        e = ShopEnv(cfg)
        e.reset(seed=3)
        assert np.all(sign * np.diff(e.choice_probs()[1][np.argsort(key)]) > 0)


def test_a_bought_product_is_masked_never_clicked_nor_bought_again():
    bought_in_visit, repeats = set(), 0
    for obs, a, r, term, trunc, info, before, after, nxt in rollout(ShopEnv(SMALL), 4000, seed=8):
        if obs[-2] == 0:                                     # step 0: a new visit
            bought_in_visit = set()
        if a in bought_in_visit:
            repeats += 1
            assert not info["clicked"] and r == 0.0 and not info["action_mask"][a]
        if info["purchased"]:
            bought_in_visit.add(a)
        assert set(np.flatnonzero(~info["action_mask"])) == bought_in_visit
    assert repeats > 50


def test_single_env_probabilities_and_expected_reward_agree():
    env = ShopEnv()
    env.reset(seed=2)
    p_click, p_buy = env.choice_probs()
    assert np.all((0 < p_buy) & (p_buy < 1)) and np.all((0 <= p_click) & (p_click < 1))
    np.testing.assert_allclose(env.expected_reward(), p_click * p_buy * env.price)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31), n_items=st.integers(1, 30), k=st.integers(1, 6),
       spread=st.floats(0.0, 10.0))
def test_any_valid_config_keeps_obs_in_space_and_finite(seed, n_items, k, spread):
    k = min(k, n_items)
    cfg = ShopConfig(n_items=n_items, n_categories=k, taste_spread=spread, catalogue_seed=seed)
    for obs, a, r, term, trunc, info, *_ , nxt in rollout(ShopEnv(cfg), 60, seed=seed):
        assert ShopEnv(cfg).observation_space.contains(nxt) and np.isfinite(r)

"""ShopEnv and VectorShopEnv: the contract, the sign of every dynamic, and the calibration.

The calibration tests pin what the defaults are for: the myopic oracle (highest true expected
immediate reward) clearly beats random and popularity, and is itself clearly beaten by policies
that look further, one using the hidden state and one using only what the agent observes. The
hand-made policies live here, not in the library. ``python tests/test_shop.py`` prints the
calibration table with more episodes.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidqn.envs.shop import ShopConfig, ShopEnv
from minidqn.envs.vector_shop import VectorShopEnv
from minidqn.envs.pricing import PricingEnv
from minidqn.envs.tabular_shop import TabularShop

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


# ---------------------------------------------------------------- policies for the calibration
def run_policy(env, policy, episodes, seed):
    """``(mean revenue per visit, its s.e., mean visit length, its s.e.)`` on a ``VectorShopEnv``.

    Each of the ``num_envs`` slots contributes its first ``ceil(episodes / num_envs)`` visits:
    taking the first visits to *end* overall would favour short visits.
    """
    quota = -(-episodes // env.num_envs)
    obs, info = env.reset(seed=seed)
    ret, length = np.zeros(env.num_envs), np.zeros(env.num_envs, dtype=np.int64)
    count = np.zeros(env.num_envs, dtype=np.int64)
    rets, lens = [], []
    while count.min() < quota:
        obs, rew, term, trunc, info = env.step(policy(env, obs, info))
        ret += rew
        length += 1
        done = term | trunc
        keep = done & (count < quota)
        rets.extend(ret[keep])
        lens.extend(length[keep])
        count += done
        ret[done], length[done] = 0.0, 0
    r, n = np.array(rets), np.array(lens, dtype=float)
    return r.mean(), r.std(ddof=1) / np.sqrt(r.size), n.mean(), n.std(ddof=1) / np.sqrt(n.size)


def masked_argmax(score, mask):
    return np.where(mask, score, -np.inf).argmax(axis=1)


def random_policy(seed):
    rng = np.random.default_rng(seed)
    return lambda env, obs, info: rng.integers(env.n_items, size=env.num_envs)


def popularity_policy(config, episodes=2000, seed=0):
    """Count purchases under random recommendations; then the most bought product not yet bought."""
    env, rng = VectorShopEnv(256, config, seed=seed), np.random.default_rng(seed)
    counts = np.zeros(env.n_items)
    env.reset()
    for _ in range(episodes * 12 // env.num_envs):
        a = rng.integers(env.n_items, size=env.num_envs)
        info = env.step(a)[-1]
        np.add.at(counts, a[info["purchased"]], 1)
    rank = np.argsort(-counts, kind="stable")
    return lambda env, obs, info: rank[info["action_mask"][:, rank].argmax(axis=1)]


def greedy_policy(env, obs, info):
    """The myopic oracle: highest true expected immediate reward among products not bought."""
    return masked_argmax(env.expected_reward(), info["action_mask"])


def lookahead_policy(value_of_patience=0.3):
    """Hidden-state policy: expected reward plus the value of the expected change in patience,
    ``E[r_i] + lambda * mean_price * E[dP_i]`` (a purchase refills at most to ``P_0``)."""
    def policy(env, obs, info):
        cfg, h = env.config, env.hidden_state()
        p_click, p_buy = env.choice_probs()
        headroom = np.minimum(cfg.purchase_boost, h["initial_patience"] - h["patience"])[:, None]
        d_patience = (-(1 - p_click) * cfg.ignore_cost
                      - p_click * (1 - p_buy) * env.catalogue.letdown + p_click * p_buy * headroom)
        score = p_click * (cfg.click_reward + p_buy * env.price)
        return masked_argmax(score + value_of_patience * cfg.mean_price * d_patience,
                             info["action_mask"])
    return policy


def observed_policy(use_clicks=True, value_of_patience=0.1, min_quality=0.3):
    """Observation-only policy (what a learner could find): guess the taste from the landing
    category (and, ``use_clicks``, from the clicks and ignores per category), skip low-rated
    products, and score the rest as ``lookahead_policy`` does, with that guess and the median
    shopper in place of the hidden state."""
    def policy(env, obs, info):
        cfg, cat, k = env.config, env.catalogue, env.n_categories
        entry, views, clicks, buys = (obs[:, i * k:(i + 1) * k].astype(float) for i in range(4))
        views, clicks, buys = views * 10, clicks * 10, buys * 10          # undo COUNT_SCALE
        w = 3.0 * cat.popularity + 10.0 * entry
        if use_clicks:
            w = (w + 2.0 * clicks) * np.exp(-0.3 * (views - clicks))
        m = k * (w / w.sum(axis=1, keepdims=True) * cfg.satiation ** buys)[:, cat.category]
        t = np.log(cfg.match_floor + m)
        p_click = 0.5 + 0.5 * np.tanh(0.5 * (cat.click_static + cfg.click_taste * t))
        p_buy = 0.5 + 0.5 * np.tanh(0.5 * (cat.buy_static + cfg.buy_taste * t
                                           - cfg.price_sensitivity * cat.log_rel_price))
        d_patience = (-(1 - p_click) * cfg.ignore_cost
                      - p_click * (1 - p_buy) * env.catalogue.letdown
                      + p_click * p_buy * cfg.purchase_boost)
        score = p_click * p_buy * env.price + value_of_patience * cfg.mean_price * d_patience
        score = np.where(env.quality < min_quality, -np.inf, score)
        return masked_argmax(score, info["action_mask"])
    return policy


POLICIES = {"random": lambda: random_policy(1),
            "popularity": lambda: popularity_policy(ShopConfig()),
            "greedy": lambda: greedy_policy,
            "lookahead": lookahead_policy,
            "observed": observed_policy,
            "landing page only": lambda: observed_policy(use_clicks=False)}


@pytest.fixture(scope="module")
def calibration():
    env = VectorShopEnv(1024, seed=0)
    return {name: run_policy(env, make(), 3000, seed=7) for name, make in POLICIES.items()}


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
    with pytest.raises(RuntimeError, match="reset"):
        VectorShopEnv(2).step(np.array([0, 0]))


@pytest.mark.parametrize("action, error", [(100, ValueError), (-1, ValueError), (1.0, TypeError),
                                           (True, TypeError), ("3", TypeError)])
def test_bad_action_is_refused_with_its_name_and_value(action, error):
    env = ShopEnv()
    env.reset(seed=0)
    with pytest.raises(error, match=f"action.*{action!r}" if error is TypeError else
                       f"action.*got {action}"):
        env.step(action)
    env.step(np.int64(3))   # NumPy integers are fine


@pytest.mark.parametrize("actions, error", [(np.array([0, 100]), ValueError),
                                            (np.array([0, 1, 2]), ValueError),
                                            (np.array([0.0, 1.0]), TypeError),
                                            (np.array([[0, 1]]), ValueError)])
def test_vector_bad_actions_are_refused(actions, error):
    env = VectorShopEnv(2)
    env.reset(seed=0)
    with pytest.raises(error, match="actions"):
        env.step(actions)


@pytest.mark.parametrize("field, value, error", [
    ("n_items", 0, ValueError), ("n_items", 10.0, TypeError), ("n_categories", 200, ValueError),
    ("trap_fraction", 1.5, ValueError), ("mean_price", 0.0, ValueError),
    ("patience_min", 9.0, ValueError), ("satiation", float("nan"), ValueError),
    ("ignore_cost", -1.0, ValueError), ("taste_spread", 11.0, ValueError),
    ("click_bias", "high", TypeError), ("max_steps", 0, ValueError)])
def test_bad_config_names_the_field(field, value, error):
    with pytest.raises(error, match=field):
        ShopConfig(**{field: value})


def test_config_is_frozen_and_env_takes_only_a_shop_config():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ShopConfig().n_items = 3
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


@pytest.mark.parametrize("history", [0, 3])
def test_expected_reward_is_the_mean_reward(history):
    """Over many shoppers, ``reward - expected_reward()[action]`` has mean 0 (checked within 4
    standard errors), for the greedy action, the worst one and a random one."""
    env, rng = VectorShopEnv(20000, ShopConfig(click_reward=0.2), seed=0), np.random.default_rng(1)
    env.reset(seed=1)
    for _ in range(history):
        env.step(rng.integers(env.n_items, size=env.num_envs))
    er, rows = env.expected_reward(), np.arange(env.num_envs)
    for a in (er.argmax(axis=1), er.argmin(axis=1), rng.integers(env.n_items, size=env.num_envs)):
        err = env.step(a)[1] - er[rows, a]
        assert abs(err.mean()) < 4 * err.std() / np.sqrt(err.size)
        er = env.expected_reward()


def test_single_env_probabilities_and_expected_reward_agree():
    env = ShopEnv()
    env.reset(seed=2)
    p_click, p_buy = env.choice_probs()
    assert np.all((0 < p_buy) & (p_buy < 1)) and np.all((0 <= p_click) & (p_click < 1))
    np.testing.assert_allclose(env.expected_reward(), p_click * p_buy * env.price)


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


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31), n_items=st.integers(1, 30), k=st.integers(1, 6),
       spread=st.floats(0.0, 10.0))
def test_any_valid_config_keeps_obs_in_space_and_finite(seed, n_items, k, spread):
    k = min(k, n_items)
    cfg = ShopConfig(n_items=n_items, n_categories=k, taste_spread=spread, catalogue_seed=seed)
    for obs, a, r, term, trunc, info, *_ , nxt in rollout(ShopEnv(cfg), 60, seed=seed):
        assert ShopEnv(cfg).observation_space.contains(nxt) and np.isfinite(r)


# ---------------------------------------------------------------- the batched env
def test_vector_env_with_one_shopper_replays_the_single_env_exactly():
    single, vector, rng = ShopEnv(seed=3), VectorShopEnv(1, seed=3), np.random.default_rng(0)
    obs, info = single.reset()
    vobs, vinfo = vector.reset()
    ends = 0
    for _ in range(3000):
        np.testing.assert_array_equal(obs, vobs[0])
        np.testing.assert_array_equal(info["action_mask"], vinfo["action_mask"][0])
        np.testing.assert_allclose(single.expected_reward(), vector.expected_reward()[0],
                                   rtol=1e-12)
        a = int(rng.integers(single.n_items))
        obs, r, term, trunc, info = single.step(a)
        vobs, vr, vterm, vtrunc, vinfo = vector.step(np.array([a]))
        assert (r, term, trunc) == (vr[0], vterm[0], vtrunc[0])
        for key in ("clicked", "purchased", "revenue", "left"):
            assert info[key] == vinfo[key][0], key
        if term or trunc:
            np.testing.assert_array_equal(obs, vinfo["final_obs"][0])
            np.testing.assert_array_equal(info["action_mask"], vinfo["final_action_mask"][0])
            obs, info = single.reset()
            ends += 1
    assert ends > 100


def test_vector_env_shapes_and_spaces_follow_gymnasium():
    env = ShopEnv.vector(4, SMALL, seed=0)
    assert isinstance(env, VectorShopEnv) and env.num_envs == 4
    obs, info = env.reset()
    d = len(env.feature_names)
    assert obs.shape == (4, d) and obs.dtype == np.float32
    assert env.single_observation_space.shape == (d,) and env.single_action_space.n == 12
    obs, rew, term, trunc, info = env.step(np.arange(4))
    assert rew.shape == term.shape == trunc.shape == (4,) and rew.dtype == np.float64
    assert info["action_mask"].shape == (4, 12) and info["final_obs"].shape == (4, d)
    assert env.expected_reward().shape == (4, 12)


def test_vector_autoreset_is_same_step():
    env, k = VectorShopEnv(64, seed=0), VectorShopEnv(1).n_categories
    obs, info = env.reset(seed=1)
    rng, done_seen = np.random.default_rng(0), 0
    for _ in range(60):
        prev_step = obs[:, 4 * k + 5].copy()
        obs, rew, term, trunc, info = env.step(rng.integers(env.n_items, size=64))
        done = term | trunc
        np.testing.assert_array_equal(info["_final_obs"], done)
        np.testing.assert_array_equal(info["left"], term)
        # Where the visit goes on, final_obs is just the next observation.
        np.testing.assert_array_equal(info["final_obs"][~done], obs[~done])
        # Where it ended, final_obs is the end of that visit and obs a new shopper's start.
        assert np.all(info["final_obs"][done, 4 * k + 5] > prev_step[done])
        assert np.all(obs[done, 4 * k:].sum(axis=1) == 0) and np.all(obs[done, :k].sum(axis=1) == 1)
        assert np.all(info["action_mask"][done])
        np.testing.assert_array_equal(info["final_action_mask"][~done], info["action_mask"][~done])
        done_seen += done.sum()
    assert done_seen > 64


def test_vector_env_is_reproducible_and_its_shoppers_differ():
    runs = []
    for _ in range(2):
        env, rng = VectorShopEnv(8, SMALL, seed=5), np.random.default_rng(0)
        env.reset(seed=5)
        runs.append([env.step(rng.integers(12, size=8))[1] for _ in range(50)])
    np.testing.assert_array_equal(runs[0], runs[1])
    taste = env.hidden_state()["taste"]
    assert len({tuple(np.round(t, 6)) for t in taste}) == 8


def test_single_and_batched_envs_agree_in_distribution():
    """Random policy: revenue per visit and visit length agree within 4 standard errors."""
    rets, lens, ret, n = [], [], 0.0, 0
    for obs, a, r, term, trunc, *_ in rollout(ShopEnv(), 25000, seed=9):
        ret, n = ret + r, n + 1
        if term or trunc:
            rets.append(ret), lens.append(n)
            ret, n = 0.0, 0
    rets, lens = np.array(rets), np.array(lens, dtype=float)
    single = (rets.mean(), rets.std() / np.sqrt(rets.size),
              lens.mean(), lens.std() / np.sqrt(lens.size))
    batched = run_policy(VectorShopEnv(512, seed=10), random_policy(11), rets.size, seed=10)
    assert abs(single[0] - batched[0]) < 4 * np.hypot(single[1], batched[1])     # revenue
    assert abs(single[2] - batched[2]) < 4 * np.hypot(single[3], batched[3])     # length


# ---------------------------------------------------------------- calibration of the defaults
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


if __name__ == "__main__":
    import time
    env, episodes, results = VectorShopEnv(1024, seed=0), 20000, {}
    for name, make in POLICIES.items():
        start = time.perf_counter()
        results[name] = run_policy(env, make(), episodes, seed=7) + (time.perf_counter() - start,)
    print(f"{episodes} visits per policy, default ShopConfig; mean ± standard error")
    print(f"{'policy':18s} {'revenue/visit':>15s} {'x greedy':>9s} {'visit length':>14s}")
    for name, (mean, se, length, length_se, seconds) in results.items():
        print(f"{name:18s} {mean:7.3f} ± {se:.3f} {mean / results['greedy'][0]:9.2f}"
              f" {length:7.2f} ± {length_se:.2f}   ({seconds:.1f} s)")


@pytest.mark.parametrize("make", [ShopEnv, TabularShop, PricingEnv, lambda: PricingEnv(obs_mode="features"),
                                  lambda: VectorShopEnv(2)])
def test_every_env_has_gymnasiums_reset_options_close_and_metadata(make):
    env = make()
    first, _ = env.reset(seed=3, options={"anything": 1})
    again, _ = env.reset(seed=3, options=None)
    np.testing.assert_array_equal(first, again)  # options change nothing
    assert env.metadata["render_modes"] == []
    assert env.close() is None
    if hasattr(env, "num_envs"):
        assert env.metadata["autoreset_mode"] == "SameStep"  # gymnasium.vector.AutoresetMode's value


def test_to_gymnasium_without_gymnasium_names_the_extra_to_install(monkeypatch):
    import sys

    from minidqn.envs import to_gymnasium
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"minidqn\[gym\]"):
        to_gymnasium(ShopEnv())

"""VectorShopEnv: same-step autoreset, exact replay of ``ShopEnv`` with one shopper, agreement
in distribution with it, bad input, and the guard on its size."""
from __future__ import annotations

import os
import sys
import tracemalloc

import numpy as np
import pytest

from minidqn.envs.shop import ShopConfig, ShopEnv
from minidqn.envs.vector_shop import MAX_BYTES, VectorShopEnv, estimated_bytes
from test_shop import SMALL, rollout

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from shop_calibration import random_policy, run_policy  # noqa: E402


def test_step_before_reset_raises_runtime_error():
    with pytest.raises(RuntimeError, match="reset"):
        VectorShopEnv(2).step(np.array([0, 0]))


def test_env_takes_only_a_shop_config():
    with pytest.raises(TypeError, match="config"):
        VectorShopEnv(2, {"n_items": 3})


@pytest.mark.parametrize("actions, error", [(np.array([0, 100]), ValueError),
                                            (np.array([0, 1, 2]), ValueError),
                                            (np.array([0.0, 1.0]), TypeError),
                                            (np.array([[0, 1]]), ValueError)])
def test_vector_bad_actions_are_refused(actions, error):
    env = VectorShopEnv(2)
    env.reset(seed=0)
    with pytest.raises(error, match="actions"):
        env.step(actions)


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


# ---------------------------------------------------------------- the size guard
@pytest.mark.parametrize("n_items, k", [(100, 10), (12, 3), (400, 10), (50, 50)])
def test_estimated_bytes_is_the_measured_peak(n_items, k):
    """The estimate is the peak of steps that replace every shopper (``max_steps=1``); visits
    that go on need less."""
    for max_steps, low, high in [(1, 0.95, 1.05), (50, 1.0, 1.5)]:
        config = ShopConfig(n_items=n_items, n_categories=k, max_steps=max_steps)
        tracemalloc.start()
        env = VectorShopEnv(2000, config, seed=0)
        env.reset()
        for a in np.random.default_rng(0).integers(n_items, size=(6, env.num_envs)):
            env.step(a)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert low < estimated_bytes(env.num_envs, config) / peak < high, max_steps


@pytest.mark.parametrize("num_envs, config", [(10**7, None), (10**3, ShopConfig(n_items=10**6)),
                                              (10**12, SMALL)])
def test_a_batch_too_large_for_memory_is_refused_before_allocating(num_envs, config):
    need = estimated_bytes(num_envs, config or ShopConfig())
    assert need > MAX_BYTES
    tracemalloc.start()
    message = f"num_envs={num_envs} .* {need} bytes; at most {MAX_BYTES}"
    with pytest.raises(ValueError, match=message):
        VectorShopEnv(num_envs, config, seed=0)
    allocated = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert allocated < 100_000   # not even the catalogue: refused before building anything


def test_the_ceiling_is_exact_and_a_large_batch_under_it_works():
    n = MAX_BYTES // estimated_bytes(1, SMALL)
    assert estimated_bytes(n, SMALL) <= MAX_BYTES < estimated_bytes(n + 1, SMALL)
    with pytest.raises(ValueError, match="num_envs"):
        VectorShopEnv(n + 1, SMALL)
    env = VectorShopEnv(100_000, ShopConfig(n_items=40, n_categories=4), seed=0)   # large, fine
    obs, info = env.reset()
    obs, rew, term, trunc, info = env.step(np.zeros(env.num_envs, dtype=np.int64))
    assert obs.shape == (100_000, 23) and np.isfinite(rew).all()

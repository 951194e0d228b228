"""TabularShop: its exact model agrees with its simulator, and thinking ahead pays."""
import numpy as np
import pytest

from minidqn.envs.tabular_shop import (BUY_PROB, MAX_PATIENCE, PRICES, START_PATIENCE,
                                       TabularShop)
from minidqn.spaces import Discrete
from minidqn.tabular import policy_evaluation, value_iteration


@pytest.fixture(scope="module")
def exact():
    env = TabularShop()
    P, R = env.model()
    d0 = env.initial_distribution()
    Q, V = value_iteration(P, R, 1.0, tol=1e-12)
    return P, R, d0, Q, V


def test_spaces_and_model_shapes():
    env = TabularShop()
    assert env.observation_space == Discrete(12) and env.action_space == Discrete(5)
    P, R = env.model()
    assert P.shape == (12, 5, 12) and R.shape == (12, 5)
    assert (P >= 0).all() and (P.sum(axis=2) <= 1 + 1e-12).all()
    d0 = env.initial_distribution()
    assert d0.sum() == pytest.approx(1.0) and d0.shape == (12,)
    for s in range(12):
        assert env.state_index(*env.decode(s)) == s


def test_myopic_policy_earns_at_most_85_percent_of_the_optimum_exactly(exact):
    P, R, d0, Q, V = exact
    optimum = d0 @ V
    greedy = d0 @ policy_evaluation(P, R, R.argmax(axis=1), 1.0)
    uniform = d0 @ policy_evaluation(P, R, np.full((12, 5), 0.2), 1.0)
    assert greedy <= 0.85 * optimum
    # the figures the module docstring quotes
    assert (round(optimum, 2), round(greedy, 2), round(uniform, 2)) == (36.82, 27.29, 16.13)
    assert round(100 * greedy / optimum) == 74


@pytest.mark.parametrize("gamma", [0.9, 0.95, 0.99])
def test_the_gap_holds_for_discounted_objectives_too(exact, gamma):
    P, R, d0, _, _ = exact
    V = value_iteration(P, R, gamma, tol=1e-12)[1]
    assert d0 @ policy_evaluation(P, R, R.argmax(axis=1), gamma) <= 0.85 * (d0 @ V)


def test_optimum_plays_safe_when_patience_is_low_and_gambles_at_the_last_chance(exact):
    Q = exact[3]
    env = TabularShop()
    big_spender = [int(Q[env.state_index(2, k)].argmax()) for k in range(1, MAX_PATIENCE + 1)]
    assert big_spender == [4, 1, 3, 3]  # watch at the last chance, t-shirt at 2, jacket when patient


def simulate(n_steps, seed):
    """Random actions; counts of (s, a, s') with s' = 12 meaning "left", and reward sums."""
    env, rng = TabularShop(seed=seed), np.random.default_rng(seed)
    counts, rewards = np.zeros((12, 5, 13)), np.zeros((12, 5))
    s, _ = env.reset()
    for a in rng.integers(5, size=n_steps).tolist():
        s_next, r, terminated, truncated, info = env.step(a)
        assert info["left"] == terminated and info["revenue"] == r and info["purchased"] == (r > 0)
        counts[s, a, 12 if terminated else s_next] += 1
        rewards[s, a] += r
        s = env.reset()[0] if terminated or truncated else s_next
    return counts, rewards


def test_model_matches_simulated_frequencies(exact):
    P, R = exact[:2]
    counts, rewards = simulate(60_000, seed=0)
    n = counts.sum(axis=2)
    probs = np.concatenate([P, 1 - P.sum(axis=2, keepdims=True)], axis=2)
    # Pearson chi-square over every visited (s, a) row, on the outcomes the model allows
    visited = n >= 30
    assert visited.sum() >= 45
    expected = n[..., None] * probs
    allowed = expected > 0
    assert (counts[~allowed] == 0).all()  # nothing the model forbids ever happens
    chi2 = (((counts - expected) ** 2 / np.where(allowed, expected, 1))[visited]).sum()
    dof = (allowed[visited].sum(axis=1) - 1).sum()
    assert chi2 < dof + 5 * np.sqrt(2 * dof)  # mean + 5 sd of chi-square(dof)
    # mean reward per visited (s, a) within 5 standard errors of R
    mean_r = rewards[visited] / n[visited]
    sd = np.sqrt(R[visited] * (np.broadcast_to(PRICES, R.shape)[visited] - R[visited]))
    assert (np.abs(mean_r - R[visited]) <= 5 * sd / np.sqrt(n[visited]) + 1e-12).all()


def test_start_distribution_matches_reset():
    env = TabularShop(seed=0)
    starts = np.bincount([env.reset()[0] for _ in range(5000)], minlength=12) / 5000
    d0 = env.initial_distribution()
    assert np.abs(starts - d0).max() < 0.03  # sd <= 0.007
    assert set(np.flatnonzero(starts)) == {env.state_index(g, START_PATIENCE) for g in range(3)}


def test_expected_reward_is_the_model_row_of_the_current_state(exact):
    env = TabularShop(seed=0)
    s, info = env.reset()
    np.testing.assert_array_equal(env.expected_reward(), exact[1][s])
    np.testing.assert_array_equal(env.expected_reward(), BUY_PROB[info["segment"]] * PRICES)


def trajectory(env, seed, n=200):
    actions = np.random.default_rng(99).integers(5, size=n).tolist()
    out = [env.reset(seed=seed)[0]]
    for a in actions:
        s, r, terminated, truncated, _ = env.step(a)
        out.append((s, r, terminated))
        if terminated or truncated:
            out.append(env.reset()[0])
    return out


def test_same_seed_same_trajectory_different_seed_different_one():
    assert trajectory(TabularShop(), 5) == trajectory(TabularShop(seed=123), 5)
    assert trajectory(TabularShop(), 5) != trajectory(TabularShop(), 6)
    a, b = TabularShop(seed=7), TabularShop(seed=7)
    assert [a.reset()[0] for _ in range(50)] == [b.reset()[0] for _ in range(50)]


def test_purchase_restores_patience_and_a_miss_costs_the_product_s_patience():
    env, rng = TabularShop(seed=0), np.random.default_rng(0)
    seen = set()
    for a in rng.integers(5, size=2000).tolist():
        s, info = env.reset()
        patience = info["patience"]
        s2, r, terminated, _, info = env.step(a)
        if info["purchased"]:
            assert info["patience"] == MAX_PATIENCE and r == PRICES[a]
        else:
            assert info["patience"] == max(patience - [1, 1, 2, 2, 3][a], 0) and r == 0.0
            assert terminated == (info["patience"] == 0)
        if not terminated:
            assert env.decode(s2) == (info["segment"], info["patience"])
        seen.add((a, info["purchased"], terminated))
    assert len(seen) >= 12


def test_truncation_at_max_steps_is_not_termination():
    env = TabularShop(seed=0, max_steps=1)
    for _ in range(100):
        env.reset()
        _, _, terminated, truncated, info = env.step(0)
        assert truncated == (not info["left"]) and terminated == info["left"]


def test_errors_name_the_problem():
    env = TabularShop(seed=0)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    with pytest.raises(RuntimeError, match="before reset"):
        env.expected_reward()
    env.reset()
    for action, error in ((5, ValueError), (-1, ValueError), (1.0, TypeError), (True, TypeError),
                          ("1", TypeError), (np.array([1]), TypeError)):
        with pytest.raises(error, match="action"):
            env.step(action)
    for action in (np.int64(1), np.array(0, dtype=np.int32)):
        env.reset()
        assert env.step(action)[4]["patience"] in range(5)
    env.reset()
    while True:
        if any(env.step(4)[2:4]):
            break
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)
    with pytest.raises(ValueError, match="max_steps"):
        TabularShop(max_steps=0)
    with pytest.raises(TypeError, match="seed"):
        TabularShop(seed=1.5)

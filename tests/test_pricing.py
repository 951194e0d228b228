"""PricingEnv: the simulator agrees with its exact model, and the calibrated gaps hold.

Independent references used here: Poisson probabilities from ``math.lgamma`` (not the env's
recurrence), a plain value-iteration loop (not the env's backward induction), and sampling.
Statistical checks use 5 standard errors: a false alarm rate below 1e-6 per comparison.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidqn.envs.pricing import PricingConfig, PricingEnv
from minidqn.spaces import Box, Discrete

# Figures of the default problem (exact; pinned so a change to the defaults is deliberate).
OPTIMAL = 390.81426090658255
BEST_FIXED_ACTION, BEST_FIXED = 2, 346.34395237725846
MYOPIC = 284.1973397172703
RANDOM = 259.28203856765043


def poisson_pmf(k: int, mu: float) -> float:
    return math.exp(k * math.log(mu) - mu - math.lgamma(k + 1))


def value_iteration(P, R, tol=1e-12):
    """Undiscounted value iteration until the values stop moving (a reference, not the env's)."""
    V = np.zeros(P.shape[0])
    for _ in range(10_000):
        Q = R + P @ V
        V_new = Q.max(axis=1)
        if np.max(np.abs(V_new - V)) < tol:
            return Q, V_new
        V = V_new
    raise AssertionError("value iteration did not converge")


def put(env: PricingEnv, period: int, stock: int) -> None:
    """Place a running episode in state (period, stock); test-only access to the env's state."""
    env.reset()
    env._t, env._n = period, stock


def run_episode(env: PricingEnv, policy, seed):
    obs, _ = env.reset(seed=seed)
    total, infos, done = 0.0, [], False
    while not done:
        obs, r, done, truncated, info = env.step(int(policy[obs]))
        assert truncated is False
        total += r
        infos.append(info)
    return total, infos


@pytest.fixture(scope="module")
def env():
    return PricingEnv(seed=0)


# ----- exact model against independent formulas ----------------------------------------------

@settings(max_examples=25)
@given(periods=st.integers(1, 5), stock=st.integers(1, 5), n_prices=st.integers(1, 4),
       amp=st.floats(0.0, 1.0), v0=st.floats(1.0, 40.0), v1=st.floats(1.0, 40.0),
       rate=st.floats(0.1, 15.0))
def test_model_matches_formulas_and_value_iteration(periods, stock, n_prices, amp, v0, v1, rate):
    prices = tuple(10.0 * (i + 1) for i in range(n_prices))
    e = PricingEnv(periods=periods, stock=stock, prices=prices, arrival_rate=rate,
                   season_amplitude=amp, valuation_start=v0, valuation_end=v1)
    P, R = e.model()
    S, A = e.n_states, e.n_prices
    assert P.shape == (S, A, S) and R.shape == (S, A)
    assert np.all(P >= 0) and np.all(P.sum(axis=2) <= 1 + 1e-12)
    assert not P[e.ended_index].any() and not P[:, :, e.ended_index].any()
    assert not R[e.ended_index].any()
    for s in range(e.ended_index):
        t, n = e.state_of(s)
        for a in range(A):
            mu = e.demand_rate[t, a]
            pmf = [poisson_pmf(k, mu) for k in range(400)]
            expected_sales = sum(min(k, n) * q for k, q in enumerate(pmf))
            assert R[s, a] == pytest.approx(prices[a] * expected_sales, rel=1e-9, abs=1e-12)
            ending = 1.0 if t == periods - 1 else 1.0 - sum(pmf[:n])   # season over / sold out
            assert 1.0 - P[s, a].sum() == pytest.approx(ending, abs=1e-12)
            if t + 1 < periods:                                          # sell k < n units
                nxt = [e.state_index(t + 1, n - k) for k in range(n)]
                np.testing.assert_allclose(P[s, a, nxt], pmf[:n], rtol=1e-9, atol=1e-300)
    Q_ref, V_ref = value_iteration(P, R)
    Q, V = e.optimal_values()
    np.testing.assert_allclose(Q, Q_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(V, V_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(e.policy_values(e.optimal_policy()), V, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("period,stock,action", [(0, 12, 2), (0, 12, 4), (5, 3, 1), (5, 2, 0),
                                                 (10, 12, 3), (11, 4, 2)])
def test_simulated_transitions_and_rewards_match_model(env, period, stock, action):
    P, R = env.model()
    s, M = env.state_index(period, stock), 10_000
    sim = PricingEnv(seed=123)
    counts = np.zeros(env.n_states + 1)          # last slot: the episode ended
    rewards = np.empty(M)
    for i in range(M):
        put(sim, period, stock)
        obs, rewards[i], done, _, _ = sim.step(action)
        counts[-1 if done else obs] += 1
    p = np.append(P[s, action], 1.0 - P[s, action].sum())
    se = np.sqrt(p * (1 - p) / M)
    assert np.all(np.abs(counts / M - p) <= 5 * se + 1e-3), (counts / M, p)
    assert abs(rewards.mean() - R[s, action]) <= 5 * rewards.std() / np.sqrt(M) + 1e-9


# ----- exact values and calibration ----------------------------------------------------------

def test_calibrated_values_are_pinned(env):
    b = env.baseline_values()
    assert b["optimal"] == pytest.approx(OPTIMAL, rel=1e-9)
    assert b["best_fixed_action"] == BEST_FIXED_ACTION
    assert b["best_fixed"] == pytest.approx(BEST_FIXED, rel=1e-9)
    assert b["myopic"] == pytest.approx(MYOPIC, rel=1e-9)
    assert b["random"] == pytest.approx(RANDOM, rel=1e-9)
    assert BEST_FIXED / OPTIMAL < 0.89        # optimum beats the best fixed price by > 11 %
    assert MYOPIC / OPTIMAL < 0.75            # myopic pricing leaves > 25 % on the table
    assert MYOPIC < BEST_FIXED


def test_optimal_dominates_every_baseline_in_every_state(env):
    V = env.optimal_values()[1]
    rng = np.random.default_rng(0)
    policies = [env.fixed_price_policy(a) for a in range(env.n_prices)]
    policies += [env.myopic_policy()] + [rng.integers(env.n_prices, size=env.n_states)
                                         for _ in range(20)]
    for pol in policies:
        assert np.all(env.policy_values(pol) <= V + 1e-9)
    np.testing.assert_allclose(env.fixed_price_values(), [env.expected_return(p)
                                                          for p in policies[:env.n_prices]])


def test_myopic_policy_maximises_immediate_revenue(env):
    _, R = env.model()
    pol = env.myopic_policy()
    assert np.all(R[np.arange(env.n_states), pol] == R.max(axis=1))


def test_monte_carlo_return_of_optimal_policy_matches_exact_value(env):
    pol = env.optimal_policy()
    sim = PricingEnv(seed=7)
    returns = np.array([run_episode(sim, pol, seed=None)[0] for _ in range(3000)])
    se = returns.std() / np.sqrt(returns.size)
    assert abs(returns.mean() - OPTIMAL) <= 5 * se


def test_myopic_sells_out_too_early_and_too_cheaply(env):
    """Why the myopic rule loses: it prices low early, when shoppers would pay more, and runs
    out of stock about halfway through the season (the optimum lasts nearly all of it)."""
    N = env.max_stock
    opt, myo = env.optimal_policy(), env.myopic_policy()
    early = [env.state_index(t, N) for t in range(3)]
    assert np.all(myo[early] < opt[early])
    sim = PricingEnv(seed=4)
    lengths = {name: [len(run_episode(sim, pol, seed=None)[1]) for _ in range(500)]
               for name, pol in (("optimal", opt), ("myopic", myo))}
    assert np.mean(lengths["myopic"]) < 6.0 < 9.0 < np.mean(lengths["optimal"])


# ----- signs: price and season ---------------------------------------------------------------

def test_higher_price_sells_fewer_units_in_every_state(env):
    _, R = env.model()
    sales = R[:env.ended_index] / env.prices            # E[min(D, n)]
    assert np.all(np.diff(sales, axis=1) < 0)
    assert np.all(np.diff(env.demand_rate, axis=1) < 0)


def test_demand_follows_season_shape(env):
    lam, T = env.arrival_rates, env.periods
    assert int(np.argmax(lam)) in (T // 2 - 1, T // 2)           # peaks mid-season
    np.testing.assert_allclose(lam, lam[::-1])                    # symmetric bump
    assert np.all(np.diff(env.valuations) < 0)                    # willingness to pay falls
    flat = PricingEnv(season_amplitude=0.0)
    np.testing.assert_allclose(flat.arrival_rates, flat.config.arrival_rate)


def test_simulated_demand_follows_the_season(env):
    sim, M, a = PricingEnv(seed=5), 2000, 1
    for t in (0, 6, 11):
        demand = np.empty(M)
        for i in range(M):
            put(sim, t, env.max_stock)
            demand[i] = sim.step(a)[4]["demand"]
        mu = env.demand_rate[t, a]
        assert abs(demand.mean() - mu) <= 5 * math.sqrt(mu / M)


# ----- episodes, observations, info ----------------------------------------------------------

def test_same_seed_same_trajectory():
    pol = np.random.default_rng(1).integers(5, size=PricingEnv().n_states)

    def trajectories(env, seed):
        return [run_episode(env, pol, seed=seed if i == 0 else None)[1] for i in range(5)]

    a = trajectories(PricingEnv(seed=11), None)
    assert a == trajectories(PricingEnv(), 11)                       # reset(seed) == seed=
    assert a == trajectories(PricingEnv(seed=np.random.default_rng(11)), None)
    assert a != trajectories(PricingEnv(seed=12), None)


def test_info_and_episode_bookkeeping(env):
    pol = env.myopic_policy()
    sim = PricingEnv(seed=3)
    for _ in range(50):
        total, infos = run_episode(sim, pol, seed=None)
        stock = env.max_stock
        for t, info in enumerate(infos):
            assert info["period"] == t
            assert info["sold"] == min(info["demand"], stock)
            stock -= info["sold"]
            assert info["stock"] == stock
            assert info["revenue"] == info["price"] * info["sold"]
            assert info["purchased"] == (info["sold"] > 0)
        assert total == sum(i["revenue"] for i in infos)
        assert stock == 0 or len(infos) == env.periods          # sold out or season over
        assert stock > 0 or len(infos) <= env.periods


def test_index_observations_and_state_mapping(env):
    obs, info = PricingEnv(seed=0).reset()
    assert obs == env.state_index(0, env.max_stock) and info == {"period": 0, "stock": 12}
    assert env.initial_distribution()[obs] == 1.0 and env.initial_distribution().sum() == 1.0
    assert env.observation_space == Discrete(env.n_states)
    assert env.action_space == Discrete(env.n_prices)
    for s in range(env.n_states - 1):
        assert env.state_index(*env.state_of(s)) == s
    assert env.state_of(env.ended_index) == (env.periods, 0)
    sim = PricingEnv(seed=0)
    sim.reset()
    done = False
    while not done:
        obs, _, done, _, _ = sim.step(0)                  # cheapest price: sells out fast
        assert env.observation_space.contains(obs)
    assert obs == env.ended_index


def test_feature_observations():
    e = PricingEnv(obs_mode="features", seed=0)
    assert isinstance(e.observation_space, Box)
    assert e.observation_space.shape == (len(e.feature_names),) == (4,)
    obs, _ = e.reset()
    assert obs.dtype == np.float32
    np.testing.assert_allclose(obs, [1.0, 1.0, e.arrival_rates[0] / 10.0, 1.0], rtol=1e-6)
    done = False
    while not done:
        obs, _, done, _, info = e.step(4)                 # dearest price: the season runs out
        assert e.observation_space.contains(obs)
        t, n = info["period"] + 1, info["stock"]
        assert obs[0] == pytest.approx((12 - t) / 12) and obs[1] == pytest.approx(n / 12)


def test_expected_reward_is_the_current_row_of_R(env):
    _, R = env.model()
    sim = PricingEnv(seed=2)
    obs, _ = sim.reset()
    for _ in range(4):
        np.testing.assert_array_equal(sim.expected_reward(), R[obs])
        obs, _, done, _, _ = sim.step(3)
        if done:
            break


def test_model_returns_copies(env):
    P, R = env.model()
    P[:] = 0
    R[:] = 0
    assert env.model()[1].any()


def test_config_and_keyword_overrides_combine():
    e = PricingEnv(PricingConfig(periods=5), stock=3, seed=0)
    assert (e.periods, e.max_stock, e.n_states) == (5, 3, 16)
    assert e.config.prices == (10.0, 20.0, 30.0, 40.0, 50.0)


# ----- errors ------------------------------------------------------------------------------

def test_step_out_of_order_raises():
    e = PricingEnv(seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        e.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        e.expected_reward()
    e.reset()
    done = False
    while not done:
        done = e.step(0)[2]
    with pytest.raises(RuntimeError, match="reset"):
        e.step(0)


@pytest.mark.parametrize("action,err", [(-1, ValueError), (5, ValueError), (1.0, TypeError),
                                        (True, TypeError), ("0", TypeError), (None, TypeError),
                                        (np.array([1]), TypeError)])
def test_bad_action_raises_and_changes_nothing(action, err):
    e = PricingEnv(seed=0)
    e.reset()
    with pytest.raises(err, match="action"):
        e.step(action)
    assert e.step(np.int64(1))[4]["period"] == 0          # still the first period
    assert e.step(np.array(2))[4]["period"] == 1          # 0-d integer arrays are accepted


@pytest.mark.parametrize("kw,err,match", [
    ({"periods": 0}, ValueError, "periods"), ({"stock": -1}, ValueError, "stock"),
    ({"periods": 2.0}, TypeError, "periods"), ({"prices": ()}, ValueError, "prices"),
    ({"prices": (10.0, 10.0)}, ValueError, "increasing"), ({"prices": (0.0, 1.0)}, ValueError,
                                                          r"prices\[0\]"),
    ({"prices": (1.0, float("nan"))}, ValueError, r"prices\[1\]"),
    ({"prices": "abc"}, TypeError, "prices"), ({"arrival_rate": 0.0}, ValueError, "arrival_rate"),
    ({"season_amplitude": 1.5}, ValueError, "season_amplitude"),
    ({"valuation_end": -1.0}, ValueError, "valuation_end"),
    ({"obs_mode": "pixels"}, ValueError, "obs_mode"), ({"colour": 1}, TypeError, "colour"),
    ({"seed": -3}, ValueError, "seed"), ({"seed": 1.5}, TypeError, "seed"),
])
def test_bad_parameters_raise(kw, err, match):
    with pytest.raises(err, match=match):
        PricingEnv(**kw)


def test_bad_config_policy_and_state_raise(env):
    with pytest.raises(TypeError, match="config"):
        PricingEnv({"periods": 3})
    with pytest.raises(ValueError, match="policy"):
        env.policy_values(np.zeros(env.n_states - 1, dtype=int))
    with pytest.raises(ValueError, match="policy"):
        env.policy_values(np.zeros(env.n_states))                    # floats
    with pytest.raises(ValueError, match=r"policy\[3\]"):
        env.policy_values(np.where(np.arange(env.n_states) == 3, 9, 0))
    with pytest.raises(ValueError, match="stock"):
        env.state_index(0, 0)
    with pytest.raises(ValueError, match="period"):
        env.state_index(12, 1)
    with pytest.raises(ValueError, match="index"):
        env.state_of(env.n_states)


def test_agrees_with_the_librarys_value_iteration_and_policy_evaluation(env):
    tabular = pytest.importorskip("minidqn.tabular")
    P, R = env.model()
    Q_star, V_star = tabular.value_iteration(P, R, gamma=1.0, tol=1e-10)
    np.testing.assert_allclose(Q_star, env.optimal_values()[0], rtol=1e-9, atol=1e-9)
    myopic = env.myopic_policy()
    np.testing.assert_allclose(tabular.policy_evaluation(P, R, myopic, gamma=1.0),
                               env.policy_values(myopic), rtol=1e-9, atol=1e-9)


def test_features_of_matches_the_features_observation():
    env = PricingEnv(obs_mode="features", seed=3)
    index_env = PricingEnv(obs_mode="index", seed=3)
    obs, _ = env.reset(seed=3)
    s, _ = index_env.reset(seed=3)
    for action in [4, 2, 2, 0]:
        np.testing.assert_array_equal(env.features_of(s), obs)
        obs, _, done, _, _ = env.step(action)
        s, *_ = index_env.step(action)
        if done:
            break
    assert index_env.features_of(index_env.ended_index)[2] == 0.0  # no arrivals once ended

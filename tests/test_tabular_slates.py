"""The finite slate shop: its exact model, SlateQ's decomposition and the slate optimiser against the truth."""
import numpy as np
import pytest

from minidqn.dynamic_programming import policy_evaluation, value_iteration
from minidqn.envs.tabular_slates import TabularSlateShop
from minidqn.slate_choice import best_slate, enumerate_best_slate, greedy_slate, slate_value, top_k_slate


@pytest.fixture(scope="module")
def truth():
    env = TabularSlateShop()
    P, R = env.model()
    Q, V = value_iteration(P, R, gamma=1.0, tol=1e-13)
    P_item, R_item = env.item_model()
    Q_bar = R_item + P_item @ V                 # (6, 5): value of each choice, then acting optimally
    return env, P, R, Q, V, Q_bar


def test_model_is_a_proper_sub_stochastic_model_and_matches_simulation(truth):
    env, P, R, *_ = truth
    assert P.shape == (6, 12, 6) and R.shape == (6, 12)
    assert np.all(P >= 0) and np.all(P.sum(axis=2) <= 1 + 1e-12) and np.all(P.sum(axis=2) < 1)
    np.testing.assert_allclose(env.choice().sum(axis=2), 1.0, atol=1e-12)
    # simulate state 5 (big spender, patience 3) under slate (3, 2): next-state frequencies and mean reward
    a = 11
    np.testing.assert_array_equal(env.slates[a], [3, 2])
    counts, rewards, n = np.zeros(7), 0.0, 20_000
    rng = np.random.default_rng(0)
    for _ in range(n):
        env.reset(seed=rng)
        env._segment, env._patience, env._s = 1, 3, 5
        s, r, term, _, _ = env.step(env.slates[a])
        counts[6 if term else s] += 1
        rewards += r
    np.testing.assert_allclose(counts[:6] / n, P[5, a], atol=0.012)
    assert rewards / n == pytest.approx(R[5, a], rel=0.05)


def test_slateq_decomposition_equals_the_full_slate_value(truth):
    env, P, R, Q, V, Q_bar = truth
    C = env.choice()                            # (6, 12, 5): P(i | s, A), last = no click
    np.testing.assert_allclose(np.einsum("sai,si->sa", C, Q_bar), Q, rtol=0, atol=1e-9)
    v = env.utilities()
    for s in range(6):
        for a, A in enumerate(env.slates):
            assert slate_value(v[s], Q_bar[s, :4], env.rho, A, 0.0, Q_bar[s, 4]) == pytest.approx(Q[s, a], abs=1e-9)


def test_slate_optimisers_against_the_optimum(truth):
    env, P, R, Q, V, Q_bar = truth
    v = env.utilities()
    slates, values = best_slate(v, Q_bar[:, :4], env.rho, None, 0.0, Q_bar[:, 4])
    np.testing.assert_allclose(values, V, atol=1e-9)                    # exact: the optimal value
    for s in range(6):
        assert enumerate_best_slate(v[s], Q_bar[s, :4], env.rho, None, 0.0, Q_bar[s, 4])[1] == pytest.approx(V[s], abs=1e-9)
    # the greedy policy in Q* built from the decomposition is optimal
    actions = [int(np.flatnonzero((env.slates == A).all(axis=1))[0]) for A in slates]
    np.testing.assert_allclose(policy_evaluation(P, R, np.array(actions), 1.0), V, atol=1e-8)
    # the heuristics: never above the optimum; here greedy is optimal and top-k loses in some states
    top = slate_value(v, Q_bar[:, :4], env.rho, top_k_slate(v, Q_bar[:, :4], env.rho), 0.0, Q_bar[:, 4])
    greedy = slate_value(v, Q_bar[:, :4], env.rho, greedy_slate(v, Q_bar[:, :4], env.rho, None, 0.0, Q_bar[:, 4]),
                         0.0, Q_bar[:, 4])
    assert np.all(top <= V + 1e-9) and np.all(greedy <= V + 1e-9)
    np.testing.assert_allclose(greedy, V, atol=1e-9)
    assert (V - top).max() > 3.0                 # state 2: top-k 11.85, the optimum 15.02


def test_thinking_ahead_pays_here(truth):
    env, P, R, Q, V, Q_bar = truth
    start = np.zeros(6)
    start[[2, 5]] = [0.6, 0.4]                  # patience 3, by segment
    myopic = policy_evaluation(P, R, R.argmax(axis=1), 1.0)
    assert start @ V == pytest.approx(22.824, abs=1e-3) and start @ myopic == pytest.approx(21.562, abs=1e-3)

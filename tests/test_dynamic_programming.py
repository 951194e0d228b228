"""Exact dynamic programming: Bellman optimality, policy values solved by hand, refusals."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import random_mdp
from minidqn.dynamic_programming import policy_evaluation, value_iteration


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 6), st.integers(1, 4), st.floats(0, 0.95))
def test_value_iteration_satisfies_bellman_optimality_and_matches_policy_evaluation(seed, S, A, gamma):
    P, R = random_mdp(seed, S, A, end=0.0)
    tol = 1e-9
    Q, V = value_iteration(P, R, gamma, tol=tol)
    assert Q.shape == (S, A) and V.shape == (S,)
    np.testing.assert_array_equal(V, Q.max(axis=1))
    assert np.abs(R + gamma * P @ Q.max(axis=1) - Q).max() <= tol
    V_pi = policy_evaluation(P, R, Q.argmax(axis=1), gamma)
    np.testing.assert_allclose(V_pi, V, rtol=0, atol=tol / (1 - gamma) + 1e-9)


def test_undiscounted_values_when_every_policy_ends():
    P, R = random_mdp(3, 5, 3, end=0.2)
    Q, V = value_iteration(P, R, 1.0, tol=1e-12)
    np.testing.assert_allclose(policy_evaluation(P, R, Q.argmax(1), 1.0), V, atol=1e-9)


def test_policy_evaluation_of_a_stochastic_policy_and_a_hand_solved_chain():
    # one state, stay with prob 0.5, reward 1: V = 1 / (1 - 0.5 * gamma)
    P, R = np.array([[[0.5], [0.0]]]), np.array([[1.0, 3.0]])
    assert policy_evaluation(P, R, np.array([0]), 0.9)[0] == pytest.approx(1 / (1 - 0.45))
    # half/half: V = 2 + 0.9 * 0.25 * V
    assert policy_evaluation(P, R, np.array([[0.5, 0.5]]), 0.9)[0] == pytest.approx(2 / (1 - 0.225))


def test_improper_policy_with_gamma_one_is_refused():
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = P[1, 0, 0] = 1.0  # a loop that never ends
    with pytest.raises(ValueError, match=r"never ends from states \[0, 1\]"):
        policy_evaluation(P, np.ones((2, 1)), np.array([0, 0]), 1.0)
    with pytest.raises(ValueError, match="did not converge"):
        value_iteration(P, np.ones((2, 1)), 1.0, max_iter=50)


@pytest.mark.parametrize("P, R, text", [
    (np.full((2, 1, 2), 0.6), np.zeros((2, 1)), "sum to <= 1"),
    (-np.ones((2, 1, 2)), np.zeros((2, 1)), "non-negative"),
    (np.zeros((2, 1, 3)), np.zeros((2, 1)), "shape"),
    (np.zeros((2, 1, 2)), np.zeros((1, 2)), "R must have shape"),
])
def test_bad_models_are_refused(P, R, text):
    with pytest.raises(ValueError, match=text):
        value_iteration(P, R, 0.9)

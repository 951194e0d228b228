"""The slate choice model: probabilities sum to one with no click, and the slate optimiser is exact."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minidqn.slate_choice import (best_slate, enumerate_best_slate, greedy_slate, slate_probs, slate_value,
                                  top_k_slate)


def _problem(seed, n_items, k):
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 2, n_items)
    q = rng.exponential(1.0, n_items) * rng.choice([1.0, -0.5], n_items)
    rho = np.sort(rng.normal(0, 1, k))[::-1]
    mask = rng.random(n_items) < 0.8
    mask[rng.choice(n_items, k, replace=False)] = True
    return v, q, rho, mask, float(rng.normal()), float(rng.normal())


@given(st.integers(0, 10_000), st.integers(1, 6), st.floats(-30, 30))
def test_slate_probabilities_with_no_click_sum_to_one(seed, k, v0):
    rng = np.random.default_rng(seed)
    p, p0 = slate_probs(rng.normal(0, 5, (7, k)), -0.5 * np.arange(k), v0)
    assert p.shape == (7, k) and p0.shape == (7,)
    np.testing.assert_allclose(p.sum(axis=1) + p0, 1.0, rtol=0, atol=1e-12)
    assert np.all(p >= 0) and np.all(p0 >= 0)


def test_slate_probabilities_are_the_logit_formula_and_survive_huge_utilities():
    v, rho = np.array([0.3, -1.0]), np.array([0.0, -0.5])
    w = np.exp(v + rho)
    p, p0 = slate_probs(v, rho)
    np.testing.assert_allclose(p, w / (1 + w.sum()), rtol=1e-14)
    np.testing.assert_allclose(p0, 1 / (1 + w.sum()), rtol=1e-14)
    p, p0 = slate_probs(np.array([1000.0, 990.0]), rho)          # exp(1000) overflows unshifted
    assert np.isfinite(p).all() and p0 == 0.0 and p[0] > p[1]


@given(st.integers(0, 10_000), st.integers(2, 7), st.integers(1, 3))
def test_best_slate_equals_brute_force_enumeration(seed, n_items, k):
    k = min(k, n_items)
    v, q, rho, mask, v0, q0 = _problem(seed, n_items, k)
    if mask.sum() < k:
        return
    slate, value = best_slate(v, q, rho, mask, v0, q0)
    _, best = enumerate_best_slate(v, q, rho, mask, v0, q0)
    assert value == pytest.approx(best, rel=1e-12, abs=1e-12)
    assert slate_value(v, q, rho, slate, v0, q0) == pytest.approx(best, rel=1e-12, abs=1e-12)
    assert mask[slate].all() and np.unique(slate).size == k


def test_best_slate_is_not_top_k_and_beats_both_heuristics_on_rows():
    # An attractive, worthless item steals clicks: top-k by a*q puts it on the page, the optimum not.
    v, q, rho = np.array([3.0, 0.0, 0.0, -0.5]), np.array([0.4, 1.0, 0.9, 1.0]), np.array([0.0, -0.5])
    top = top_k_slate(v, q, rho)
    best, value = best_slate(v, q, rho)
    assert 0 in top and 0 not in best
    assert value > slate_value(v, q, rho, top) + 0.1
    rows = [_problem(s, 8, 3) for s in range(40)]
    V, Q = np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
    M, V0, Q0 = np.stack([r[3] for r in rows]), np.array([r[4] for r in rows]), np.array([r[5] for r in rows])
    rho = rows[0][2]
    slates, values = best_slate(V, Q, rho, M, V0, Q0)
    for i in range(40):  # the batched answer is each row's own
        assert values[i] == pytest.approx(enumerate_best_slate(V[i], Q[i], rho, M[i], V0[i], Q0[i])[1], abs=1e-12)
    for heuristic in (top_k_slate(V, Q, rho, M), greedy_slate(V, Q, rho, M, V0, Q0)):
        assert np.all(np.take_along_axis(M, heuristic, 1))
        assert np.all(slate_value(V, Q, rho, heuristic, V0, Q0) <= values + 1e-12)


def test_greedy_fills_slots_with_the_best_marginal_item():
    v, q, rho = np.zeros(3), np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0])
    # slot 0 first: item 2 alone is best (V = 1.5); then slot 1 takes item 1 (V = 1.58, item 0: 1.42)
    np.testing.assert_array_equal(greedy_slate(v, q, rho), [2, 1])


@pytest.mark.parametrize("optimiser", [best_slate, greedy_slate, top_k_slate, enumerate_best_slate])
def test_optimisers_refuse_a_mask_with_fewer_allowed_items_than_slots(optimiser):
    v, q, rho = np.zeros(5), np.arange(5.0), np.array([0.0, -0.5, -1.0])
    mask = np.array([True, False, True, False, False])             # 2 of 5 allowed, k = 3
    with pytest.raises(ValueError, match=r"mask row 0 allows 2 items, fewer than the slate's k=3"):
        optimiser(v, q, rho, mask)
    rows = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 0, 0]], bool)       # only the second row is short
    if optimiser is not enumerate_best_slate:                      # (one row only, by design)
        with pytest.raises(ValueError, match=r"mask row 1 allows 2 items"):
            optimiser(np.zeros((2, 5)), np.ones((2, 5)), rho, rows)
        rows[1, 4] = True
        slates = optimiser(np.zeros((2, 5)), np.ones((2, 5)), rho, rows)
        slates = slates[0] if optimiser is best_slate else slates          # best_slate: (slates, values)
        assert all(rows[r][slates[r]].all() and np.unique(slates[r]).size == 3 for r in range(2))

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from conftest import assert_grad_close, numerical_grad
from minidqn.losses import cql_penalty, huber, mse

values = arrays(np.float64, st.integers(1, 20), elements=st.floats(-5, 5))


def test_mse_by_hand():
    loss, grad = mse(np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0]))
    assert loss == pytest.approx((0 + 4 + 9) / 3)
    np.testing.assert_allclose(grad, [0.0, 2 * 2 / 3, 2 * 3 / 3])


def test_huber_by_hand_both_branches():
    # d = 0.5 (quadratic: 0.125), d = -3 (linear: 3 - 0.5 = 2.5), d = 1 exactly (both give 0.5)
    loss, grad = huber(np.array([0.5, -3.0, 1.0]), np.zeros(3))
    assert loss == pytest.approx((0.125 + 2.5 + 0.5) / 3)
    np.testing.assert_allclose(grad, [0.5 / 3, -1 / 3, 1 / 3])


def test_huber_delta_scales_the_band():
    loss, grad = huber(np.array([3.0]), np.array([0.0]), delta=2.0)  # 2 * (3 - 1) = 4
    assert loss == pytest.approx(4.0)
    np.testing.assert_allclose(grad, [2.0])
    loss, _ = huber(np.array([1.5]), np.array([0.0]), delta=2.0)  # inside: 1.5**2 / 2
    assert loss == pytest.approx(1.125)


@given(pred=values, seed=st.integers(0, 1000), delta=st.floats(0.1, 3.0))
def test_gradients_match_central_differences(pred, seed, delta):
    target = pred + np.random.default_rng(seed).normal(0, 2, pred.shape)
    for name, fn in [("mse", mse), ("huber", lambda p, t: huber(p, t, delta))]:
        _, grad = fn(pred, target)
        # away from the kink |d| = delta, where the second derivative jumps
        if name == "huber" and np.any(np.abs(np.abs(pred - target) - delta) < 1e-4):
            continue
        numeric = numerical_grad(lambda: fn(pred, target)[0], pred)
        assert_grad_close(grad, numeric, what=name)


@given(pred=values)
def test_huber_is_mse_halved_inside_the_band(pred):
    target = pred + 0.5 * np.sin(np.arange(pred.size))  # |d| <= 0.5 < delta
    assert huber(pred, target)[0] == pytest.approx(mse(pred, target)[0] / 2, rel=1e-12)


def test_float32_in_float32_out():
    _, grad = huber(np.ones(4, np.float32), np.zeros(4, np.float32))
    assert grad.dtype == np.float32
    _, grad = mse(np.ones(4, np.float32), np.zeros(4, np.float32))
    assert grad.dtype == np.float32


@pytest.mark.parametrize("fn", [mse, huber])
def test_shape_trap_and_bad_values_are_refused(fn):
    with pytest.raises(ValueError, match=r"pred \(4, 1\) and target \(4,\)"):
        fn(np.zeros((4, 1)), np.zeros(4))
    assert np.isnan(fn(np.zeros(2), np.array([0.0, np.nan]))[0])  # a divergence, for the caller to report
    with pytest.raises(TypeError, match="target must hold real numbers"):
        fn(np.zeros(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros(0), np.zeros(0))


def test_bad_delta():
    with pytest.raises(ValueError, match="delta must be > 0"):
        huber(np.zeros(2), np.zeros(2), delta=0)


# ---------------------------------------------------------------------------------- CQL's penalty
def test_cql_penalty_by_hand():
    # row 0: all allowed, log(e^0 + e^1 + e^2) - Q[a=2]; row 1: action 2 masked out, log(e^3 + e^3) - Q[a=0]
    q = np.array([[0.0, 1.0, 2.0], [3.0, 3.0, 50.0]])
    mask = np.array([[True, True, True], [True, True, False]])
    loss, dq = cql_penalty(q, np.array([2, 0]), 0.5, mask)
    lse0 = np.log(1 + np.e + np.e ** 2)
    assert loss == pytest.approx(0.5 * ((lse0 - 2.0) + (3.0 + np.log(2.0) - 3.0)) / 2, rel=1e-14)
    soft0 = np.exp([0.0, 1.0, 2.0] - lse0)
    np.testing.assert_allclose(dq, 0.5 / 2 * np.array([soft0 - [0, 0, 1], [0.5 - 1, 0.5, 0.0]]), rtol=1e-14)


def test_cql_penalty_is_zero_only_when_the_logged_action_is_the_one_allowed():
    loss, dq = cql_penalty(np.array([[7.0, -2.0]]), np.array([0]), 3.0, np.array([[True, False]]))
    assert loss == 0.0 and not dq.any()
    loss, _ = cql_penalty(np.array([[7.0, -2.0]]), np.array([0]), 3.0)  # the other action counts: > 0
    assert loss == pytest.approx(3.0 * np.log1p(np.exp(-9.0)), rel=1e-12)


@given(seed=st.integers(0, 10_000), B=st.integers(1, 6), A=st.integers(1, 5), masked=st.booleans(),
       alpha=st.floats(0.01, 5.0))
def test_cql_gradient_matches_central_differences(seed, B, A, masked, alpha):
    rng = np.random.default_rng(seed)
    q, actions = rng.normal(0, 3, (B, A)), rng.integers(A, size=B)
    mask = None
    if masked:
        mask = rng.random((B, A)) < 0.5
        mask[np.arange(B), actions] = True  # the logged action is allowed where it was taken
    _, dq = cql_penalty(q, actions, alpha, mask)
    numeric = numerical_grad(lambda: cql_penalty(q, actions, alpha, mask)[0], q)
    assert_grad_close(dq, numeric, what="cql")
    if masked:
        assert not dq[~mask].any()  # masked actions get no gradient at all


def test_cql_penalty_is_stable_for_large_q_and_keeps_the_dtype():
    q = np.array([[1000.0, 999.0]], np.float32)
    loss, dq = cql_penalty(q, np.array([1]), 1.0)
    # float32 holds 1000 to 6e-5: no overflow from exp(1000), and an answer to that precision
    assert loss == pytest.approx(1.0 + np.log1p(np.exp(-1.0)), abs=1e-4) and dq.dtype == np.float32
    loss, _ = cql_penalty(np.array([[np.inf, 0.0]]), np.array([1]), 1.0)  # a diverged Q: NaN out, no warning
    assert not np.isfinite(loss)

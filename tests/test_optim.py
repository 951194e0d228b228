import numpy as np
import pytest
from hypothesis import given, strategies as st

from minidqn.optim import SGD, Adam, clip_grad_norm


def test_adam_first_step_moves_by_lr_times_sign():
    p = np.array([1.0, -2.0, 3.0, 0.5])
    g = np.array([0.3, -40.0, 1e-3, -2.0])
    Adam(p, lr=0.01).step(g)
    np.testing.assert_allclose(p, np.array([1.0, -2.0, 3.0, 0.5]) - 0.01 * np.sign(g), rtol=0, atol=1e-7)


@given(seed=st.integers(0, 10_000), steps=st.integers(1, 6), lr=st.floats(1e-4, 0.5),
       b1=st.floats(0.0, 0.99), b2=st.floats(0.5, 0.9999), eps=st.floats(1e-10, 1e-2))
def test_adam_equals_the_closed_form(seed, steps, lr, b1, b2, eps):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=5)
    expected, m, v = p.copy(), np.zeros(5), np.zeros(5)
    opt = Adam(p, lr=lr, betas=(b1, b2), eps=eps)
    for t in range(1, steps + 1):
        g = rng.normal(size=5)
        opt.step(g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        expected -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)
    assert opt.t == steps


@pytest.mark.parametrize("make", [lambda p: Adam(p, lr=0.05), lambda p: SGD(p, lr=0.05),
                                  lambda p: SGD(p, lr=0.02, momentum=0.9)])
def test_minimises_a_convex_quadratic(make):
    # f(p) = 1/2 (p - c)^T A (p - c), A positive definite; gradient A (p - c)
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 4))
    A, c = M @ M.T / 4 + np.eye(4), rng.normal(size=4)
    p = np.zeros(4)
    opt = make(p)
    for _ in range(2000):
        opt.step(A @ (p - c))
    np.testing.assert_allclose(p, c, atol=1e-4)


def test_sgd_without_and_with_momentum_by_hand():
    p = np.array([1.0, 2.0])
    SGD(p, lr=0.1).step(np.array([1.0, -1.0]))
    np.testing.assert_allclose(p, [0.9, 2.1])
    p = np.array([0.0])
    opt = SGD(p, lr=0.1, momentum=0.5)
    for _ in range(3):
        opt.step(np.array([1.0]))  # buf: 1, 1.5, 1.75
    np.testing.assert_allclose(p, [-0.1 * (1 + 1.5 + 1.75)])


@pytest.mark.parametrize("make", [lambda p: Adam(p, lr=0.01), lambda p: SGD(p, lr=0.1, momentum=0.9)])
def test_state_round_trip_resumes_exactly(make):
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(6, 3))
    p1 = np.ones(3)
    o1 = make(p1)
    for g in grads:
        o1.step(g)
    p2 = np.ones(3)
    o2 = make(p2)
    for g in grads[:3]:
        o2.step(g)
    p3 = p2.copy()
    o3 = make(p3)
    o3.load_state_dict(o2.state_dict())
    for g in grads[3:]:
        o3.step(g)
    np.testing.assert_array_equal(p3, p1)


def test_clip_grad_norm_leaves_small_and_rescales_large():
    g = np.array([3.0, 4.0])
    assert clip_grad_norm(g, 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])
    assert clip_grad_norm(g, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(g, [0.6, 0.8])
    assert np.linalg.norm(g) == pytest.approx(1.0)
    bad = np.array([np.nan, 1.0])
    assert np.isnan(clip_grad_norm(bad, 1.0))


@pytest.mark.parametrize("call, error, match", [
    (lambda: Adam(np.zeros(3), lr=-1e-3), ValueError, "lr must be > 0"),
    (lambda: Adam(np.zeros(3), lr=0), ValueError, "lr must be > 0"),
    (lambda: Adam(np.zeros(3), betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
    (lambda: Adam(np.zeros(3), betas=0.9), ValueError, "betas"),
    (lambda: Adam(np.zeros(3), eps=float("nan")), ValueError, "eps must be finite"),
    (lambda: Adam([0.0, 1.0]), TypeError, "params"),
    (lambda: Adam(np.zeros((2, 2))), TypeError, "params"),
    (lambda: Adam(np.zeros(3, dtype=np.int64)), TypeError, "params"),
    (lambda: SGD(np.zeros(3), lr=0.1, momentum=1.0), ValueError, "momentum"),
    (lambda: Adam(np.zeros(3)).step(np.zeros(4)), ValueError, r"grads must be an array of shape \(3,\)"),
    (lambda: clip_grad_norm(np.zeros(3), 0.0), ValueError, "max_norm"),
    (lambda: clip_grad_norm([1.0], 1.0), TypeError, "grads"),
])
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_load_state_dict_refuses_wrong_shapes_and_leaves_state_alone():
    opt = Adam(np.zeros(3))
    opt.step(np.ones(3))
    m_before = opt.m.copy()
    state = opt.state_dict()
    state["v"] = np.zeros(4)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(state)
    np.testing.assert_array_equal(opt.m, m_before)
    assert opt.t == 1

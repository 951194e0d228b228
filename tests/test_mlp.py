import pickle

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st

from conftest import assert_grad_close, numerical_grad
from minidqn.mlp import MLP

sizes_st = st.lists(st.integers(1, 12), min_size=2, max_size=6)  # input, 0-4 hidden, output


def min_abs_pre_activation(net, x):
    """The smallest ``|Z|`` of any hidden unit on ``x``, computed from the public weight views."""
    smallest, A = np.inf, x
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        Z = A @ W + b
        smallest, A = min(smallest, np.abs(Z).min()), np.maximum(Z, 0)
    return smallest


@settings(max_examples=250)
@given(sizes=sizes_st, batch=st.integers(1, 8), activation=st.sampled_from(["relu", "tanh"]),
       seed=st.integers(0, 2**31 - 1))
@example(sizes=[10, 10, 3, 6, 3, 10], batch=8, activation="relu", seed=719955)  # |L| = 89: rounding
def test_backward_matches_central_differences(sizes, batch, activation, seed):
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activation, seed=seed, dtype=np.float64)
    net.params += rng.normal(0, 0.1, net.params.shape)  # non-zero biases too
    x = rng.normal(size=(batch, sizes[0]))
    R = rng.normal(size=(batch, sizes[-1]))  # L = sum(out * R), so dL/dout = R
    if activation == "relu":  # a difference quotient across ReLU's kink is not its derivative
        assume(min_abs_pre_activation(net, x) > 1e-4)

    net.forward(x)
    dX = net.backward(R)

    def loss():
        return float(np.sum(net.predict(x) * R))

    # A central difference with step 1e-6 carries a rounding error of about 1e-16 * |L| / 1e-6.
    atol = 1e-8 * max(1.0, abs(loss()))
    assert_grad_close(net.grads, numerical_grad(loss, net.params), atol=atol, what="params")
    assert_grad_close(dX, numerical_grad(loss, x), atol=atol, what="input")


def test_backward_writes_rather_than_accumulates():
    net = MLP([3, 5, 2], seed=1, dtype=np.float64)
    x, R = np.ones((4, 3)), np.ones((4, 2))
    net.forward(x)
    net.backward(R)
    first = net.grads.copy()
    net.backward(R)
    np.testing.assert_array_equal(net.grads, first)


def test_input_grad_false_still_writes_param_grads():
    net = MLP([3, 5, 2], seed=1, dtype=np.float64)
    x, R = np.arange(12.0).reshape(4, 3), np.ones((4, 2))
    net.forward(x)
    dX = net.backward(R)
    full = net.grads.copy()
    net.grads[:] = 0
    assert net.backward(R, input_grad=False) is None
    np.testing.assert_array_equal(net.grads, full)
    assert dX.shape == (4, 3)


def test_layers_are_views_into_the_flat_buffer():
    net = MLP([4, 6, 3], seed=0)
    assert net.params.ndim == 1 and net.params.flags.c_contiguous
    assert net.params.size == 4 * 6 + 6 + 6 * 3 + 3
    net.weights[1][2, 1] = 7.0
    assert net.params[4 * 6 + 6 + 2 * 3 + 1] == 7.0
    net.params[4 * 6] = -3.0  # first bias of layer 0
    assert net.biases[0][0] == -3.0
    for W, b in zip(net.weights, net.biases):
        assert np.shares_memory(W, net.params) and np.shares_memory(b, net.params)


def test_shapes_linear_output_and_predict():
    net = MLP([5, 8, 8, 3], seed=0)
    x = np.random.default_rng(0).normal(size=(7, 5))
    out = net.forward(x)
    assert out.shape == (7, 3) and out.dtype == np.float32
    np.testing.assert_allclose(net.predict(x), out, rtol=1e-6)
    np.testing.assert_allclose(net.predict(x[0]), out[0], rtol=1e-6)
    net.biases[-1][:] = -100.0  # the output layer is linear: it can go negative
    assert np.all(net.predict(x) < 0)


def test_forward_copies_its_input_and_outputs_are_not_reused():
    net = MLP([2, 4, 1], seed=0, dtype=np.float64)
    net.forward(np.ones((3, 2)))
    net.backward(np.ones((3, 1)))
    g_expected = net.grads.copy()
    x = np.ones((3, 2))
    out1 = net.forward(x)
    x[:] = 5.0  # the caller reuses its array before backward
    net.backward(np.ones((3, 1)))
    np.testing.assert_array_equal(net.grads, g_expected)
    out2 = net.forward(np.zeros((3, 2)))
    assert not np.shares_memory(out1, out2)
    net.forward(np.ones((3, 2)))
    net.predict(np.full((3, 2), 9.0))  # predict between forward and backward changes nothing
    net.backward(np.ones((3, 1)))
    np.testing.assert_array_equal(net.grads, g_expected)


def test_backward_survives_many_batch_sizes_cycling_through_the_workspace_cache():
    net = MLP([2, 3, 1], seed=0, dtype=np.float64)
    net.forward(np.ones((4, 2)))
    net.backward(np.ones((4, 1)))
    expected = net.grads.copy()
    net.forward(np.ones((4, 2)))
    for b in range(1, 20):
        net.predict(np.ones((b, 2)))
    net.backward(np.ones((4, 1)))
    np.testing.assert_array_equal(net.grads, expected)


def test_values_that_overflow_float32_are_refused():
    with pytest.raises(ValueError, match="x must be finite"):
        MLP([1, 2]).forward(np.array([[1e39]]))


def test_initialisation_scales_and_seeding():
    relu = MLP([400, 300, 10], "relu", seed=3, dtype=np.float64)
    assert relu.weights[0].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    tanh = MLP([400, 300, 10], "tanh", seed=3, dtype=np.float64)
    bound = np.sqrt(6 / 700)
    assert np.abs(tanh.weights[0]).max() <= bound
    assert tanh.weights[0].std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
    assert all(np.all(b == 0) for b in relu.biases)
    np.testing.assert_array_equal(MLP([3, 4, 2], seed=5).params, MLP([3, 4, 2], seed=5).params)
    assert not np.array_equal(MLP([3, 4, 2], seed=5).params, MLP([3, 4, 2], seed=6).params)


def test_inputs_are_converted_without_upcasting_the_network():
    net = MLP([3, 4, 2], seed=0)
    out = net.forward(np.ones((2, 3), dtype=np.float64))
    assert out.dtype == np.float32 and net.params.dtype == np.float32
    assert net.forward(np.ones((2, 3), dtype=np.int64)).dtype == np.float32


def test_copy_is_independent():
    net = MLP([3, 4, 2], seed=0)
    twin = net.copy()
    np.testing.assert_array_equal(twin.params, net.params)
    twin.params[:] = 0
    assert np.any(net.params != 0)
    twin.params[:] = net.params  # how a target network is synced
    np.testing.assert_array_equal(twin.predict(np.ones((1, 3))), net.predict(np.ones((1, 3))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_save_load_round_trip_is_exact(tmp_path, dtype, activation):
    net = MLP([3, 7, 5, 2], activation, seed=4, dtype=dtype)
    path = tmp_path / "net.npz"
    net.save(path)
    back = MLP.load(path)
    assert back.sizes == net.sizes and back.activation == activation and back.dtype == net.dtype
    np.testing.assert_array_equal(back.params, net.params)


def test_load_refuses_pickles_corrupt_and_foreign_files(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, params=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        MLP.load(pickled)
    raw_pickle = tmp_path / "raw.npz"
    raw_pickle.write_bytes(pickle.dumps({"params": [1.0]}))
    with pytest.raises(ValueError):
        MLP.load(raw_pickle)
    net = MLP([3, 4, 2], seed=0)
    good = tmp_path / "good.npz"
    net.save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.npz"):
        MLP.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minidqn checkpoint"):
        MLP.load(foreign)
    state = net.state_dict()
    state["params"] = state["params"][:-1]
    from minidqn._checkpoint import save_arrays
    save_arrays(tmp_path / "short.npz", "MLP", state)
    with pytest.raises(ValueError, match=r"short.npz.*params.*\(25,\).*sizes need \(26,\)"):
        MLP.load(tmp_path / "short.npz")


@pytest.mark.parametrize("sizes, activation, dtype, error, match", [
    ([3], "relu", np.float32, ValueError, "at least"),
    ([3, 0, 2], "relu", np.float32, ValueError, r"sizes\[1\]"),
    ([3, 2.5, 2], "relu", np.float32, TypeError, r"sizes\[1\]"),
    ("32", "relu", np.float32, TypeError, "sizes"),
    ([3, 2], "sigmoid", np.float32, ValueError, "sigmoid"),
    ([3, 2], "relu", np.int32, TypeError, "dtype"),
])
def test_bad_construction_is_refused(sizes, activation, dtype, error, match):
    with pytest.raises(error, match=match):
        MLP(sizes, activation, dtype=dtype)


def test_bad_calls_are_refused_with_clear_messages():
    net = MLP([3, 4, 2], seed=0)
    with pytest.raises(RuntimeError, match="before forward"):
        net.backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 3\)"):
        net.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="x must be finite"):
        net.forward(np.array([[1.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="x must be finite"):
        net.predict(np.array([1.0, np.inf, 0.0]))
    with pytest.raises(TypeError, match="x must hold real numbers"):
        net.forward(np.array([["a", "b", "c"]]))
    net.forward(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(5, 2\)"):
        net.backward(np.ones((5,)))
    with pytest.raises(ValueError, match="grad_out must be finite"):
        net.backward(np.full((5, 2), np.nan))


def test_bind_moves_parameters_and_gradients_into_given_buffers():
    net = MLP([3, 4, 2], seed=1, dtype=np.float64)
    before = net.params.copy()
    x = np.random.default_rng(0).normal(size=(5, 3))
    out = net.forward(x)
    net.backward(np.ones_like(out))
    grads = net.grads.copy()
    flat, gflat = np.zeros(net.n_params + 3), np.zeros(net.n_params + 3)
    net.bind(flat[3:], gflat[3:])
    np.testing.assert_array_equal(flat[3:], before)
    assert np.shares_memory(net.weights[0], flat) and np.shares_memory(net.biases[1], flat)
    np.testing.assert_array_equal(net.forward(x), out)
    net.backward(np.ones_like(out))
    np.testing.assert_array_equal(gflat[3:], grads)
    flat[3:] = 0.0                                   # writes go through to the network
    np.testing.assert_array_equal(net.predict(x), 0.0)
    with pytest.raises(ValueError, match="params"):
        net.bind(np.zeros(net.n_params, np.float32), gflat[3:])
    with pytest.raises(ValueError, match="grads"):
        net.bind(flat[3:], np.zeros(net.n_params + 1))

"""The dueling Q-network: gradients by finite differences, the masked mean by hand, its use by DQN."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from conftest import assert_grad_close, numerical_grad
from minidqn.dqn import DQNAgent
from minidqn.dueling import DuelingQNet
from minidqn.mlp import MLP

sizes_st = st.lists(st.integers(1, 9), min_size=2, max_size=5)  # input, 0-3 hidden, output


def min_abs_pre_activation(net, x):
    """The smallest ``|Z|`` of any hidden unit on ``x`` (a difference quotient across ReLU's kink
    is not its derivative), from the public weight views of the MLP underneath."""
    smallest, A = np.inf, x
    for W, b in zip(net.mlp.weights[:-1], net.mlp.biases[:-1]):
        Z = A @ W + b
        smallest, A = min(smallest, np.abs(Z).min()), np.maximum(Z, 0)
    return smallest


@settings(max_examples=150)
@given(sizes=sizes_st, batch=st.integers(1, 6), activation=st.sampled_from(["relu", "tanh"]),
       masked=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_backward_matches_central_differences_for_every_parameter_and_the_input(sizes, batch, activation, masked,
                                                                                 seed):
    rng = np.random.default_rng(seed)
    net = DuelingQNet(sizes, activation, seed=seed, dtype=np.float64)
    net.params += rng.normal(0, 0.1, net.params.shape)  # non-zero biases too
    x = rng.normal(size=(batch, sizes[0]))
    mask = rng.random((batch, sizes[-1])) < 0.5 if masked else None  # empty rows included
    R = rng.normal(size=(batch, sizes[-1]))  # L = sum(Q * R), so dL/dQ = R
    if activation == "relu":
        assume(min_abs_pre_activation(net, x) > 1e-4)

    net.forward(x, mask)
    dX = net.backward(R)

    def loss():
        return float(np.sum(net.predict(x, mask) * R))

    atol = 1e-8 * max(1.0, abs(loss()))  # rounding of a central difference with step 1e-6
    assert_grad_close(net.grads, numerical_grad(loss, net.params), atol=atol, what="params")
    assert_grad_close(dX, numerical_grad(loss, x), atol=atol, what="input")


@given(sizes=sizes_st)
def test_the_parameter_count_is_known_before_allocating(sizes):
    assert DuelingQNet.count_params(sizes, "here") == DuelingQNet(sizes).n_params


def linear_net(b_V, b_A):
    """No hidden layer and zero weights: ``V = b_V`` and ``A = b_A`` whatever the input."""
    net = DuelingQNet([2, len(b_A)], seed=0, dtype=np.float64)
    assert net.mlp.sizes == [2, 1 + len(b_A)] and net.params is net.mlp.params  # column 0 is V, the rest A
    net.mlp.weights[0][:] = 0.0
    net.mlp.biases[0][:] = [b_V, *b_A]
    return net


def test_the_mean_runs_over_the_allowed_actions_worked_out_by_hand():
    net = linear_net(2.0, [1.0, 4.0, 10.0])
    x = np.zeros((4, 2))
    mask = np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1], [0, 0, 0]], bool)
    # Q = V + A - mean of A over allowed: (1 + 4) / 2 = 2.5; 15 / 3 = 5; 10; nothing allowed: over all, 5
    np.testing.assert_array_equal(net.forward(x, mask), [[0.5, 3.5, 9.5], [-2.0, 1.0, 7.0], [-7.0, -4.0, 2.0],
                                                         [-2.0, 1.0, 7.0]])
    np.testing.assert_array_equal(net.predict(x), np.tile([-2.0, 1.0, 7.0], (4, 1)))  # no mask: all allowed
    # dL/dQ = 1 on action 0 in every row: dV = 1, dA_b = [b = 0] - w_b, w = mask / (number allowed);
    # the bias gradient [dV, dA_0, dA_1, dA_2] sums the rows (bias: the last 4 entries of the flat vector)
    net.backward(np.tile([1.0, 0.0, 0.0], (4, 1)))
    np.testing.assert_allclose(net.grads[-4:], [4.0, (1 - 0.5) + (1 - 1 / 3) + (1 - 0) + (1 - 1 / 3),
                                                -0.5 - 1 / 3 - 0 - 1 / 3, 0 - 1 / 3 - 1 - 1 / 3], rtol=1e-15)


def test_a_mask_allowing_everything_gives_the_values_and_gradients_of_no_mask_bit_for_bit():
    # acting (no mask from an env without masks) and training (the replay's all-True masks) agree exactly
    net = DuelingQNet([3, 8, 7], seed=0)  # 1/7 is not exact in binary: a weighted mean would round otherwise
    x, R = np.random.default_rng(1).normal(size=(5, 3)), np.random.default_rng(2).normal(size=(5, 7))
    everything = np.ones((5, 7), bool)
    np.testing.assert_array_equal(net.predict(x, everything), net.predict(x))
    np.testing.assert_array_equal(net.forward(x, everything), net.forward(x))
    dX = net.backward(R.astype(np.float32))
    grads = net.grads.copy()
    net.forward(x, everything)
    np.testing.assert_array_equal(net.backward(R.astype(np.float32)), dX)
    np.testing.assert_array_equal(net.grads, grads)


def test_input_grad_false_writes_the_same_parameter_gradients():
    net = DuelingQNet([3, 4, 5, 2], seed=1, dtype=np.float64)
    x, R = np.arange(6.0).reshape(2, 3), np.ones((2, 2))
    net.forward(x, np.array([[1, 0], [1, 1]]))
    assert net.backward(R).shape == (2, 3)
    full = net.grads.copy()
    net.grads[:] = 0
    assert net.backward(R, input_grad=False) is None
    np.testing.assert_array_equal(net.grads, full)  # written, not accumulated


def test_bad_calls_are_refused_and_nothing_is_kept():
    net = DuelingQNet([2, 3, 3, 3], seed=0)
    with pytest.raises(RuntimeError, match="before forward"):
        net.backward(np.ones((1, 3), np.float32))
    net.forward(np.ones((4, 2)))
    kept = net._last
    for mask, error, match in [(np.ones((4, 2), bool), ValueError, r"mask must have shape \(4, 3\)"),
                               (np.ones((4, 3)), TypeError, "mask must be a bool or integer 0/1"),
                               (np.full((4, 3), 2), ValueError, "only 0 and 1")]:
        with pytest.raises(error, match=match):
            net.forward(np.zeros((4, 2)), mask)
        assert net._last is kept
    with pytest.raises(ValueError, match="x must be finite"):
        net.forward(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(4, 3\)"):
        net.backward(np.ones((4, 2)))
    with pytest.raises(TypeError, match="sizes must be a sequence"):
        DuelingQNet(5)
    with pytest.raises(ValueError, match="activation"):
        DuelingQNet([2, 3], activation="gelu")


def test_copy_is_independent_and_predict_takes_one_observation():
    net = DuelingQNet([2, 4, 4, 3], seed=0, dtype=np.float64)
    twin = net.copy()
    np.testing.assert_array_equal(twin.params, net.params)
    twin.params[0] += 1.0
    assert twin.params[0] != net.params[0]
    x, mask = np.array([0.3, -1.0]), np.array([1, 0, 1], np.int8)  # Gymnasium's int8 masks too
    np.testing.assert_array_equal(net.predict(x, mask), net.predict(x[None], mask[None].astype(bool))[0])
    np.testing.assert_allclose(net.forward(x[None], mask[None]), net.predict(x[None], mask[None]), rtol=1e-15)


# --- in the DQN agent -----------------------------------------------------------------------------


def test_a_dueling_agent_values_acts_and_recommends_with_the_mask_of_the_observation():
    agent = DQNAgent(3, 4, dueling=True, seed=0, reward_scale=0.5, dtype=np.float64)
    assert isinstance(agent.online, DuelingQNet) and isinstance(agent.target, DuelingQNet)
    x, mask = np.array([0.5, -1.0, 2.0]), np.array([1, 0, 1, 1], np.int8)
    q = agent.q_values(x, action_mask=mask)
    np.testing.assert_array_equal(q, agent.online.predict(x, mask.astype(bool)) / 0.5)
    unmasked = agent.q_values(x)
    assert not np.allclose(q, unmasked)  # a mask moves Q(s, .) by a constant; the ranking stays
    np.testing.assert_allclose(q - unmasked, np.full(4, q[0] - unmasked[0]), rtol=1e-12)
    best = [0, 2, 3][int(np.argmax(q[[0, 2, 3]]))]
    assert agent.act(x, explore=False, action_mask=mask) == best == agent.recommend(x, 1, action_mask=mask)[0]
    np.testing.assert_allclose(agent.q_values(np.stack([x, x]), action_mask=np.stack([mask, mask]))[1], q, rtol=1e-12)
    plain = DQNAgent(3, 4, seed=0)  # a plain network's values do not depend on the mask
    np.testing.assert_array_equal(plain.q_values(x, action_mask=mask), plain.q_values(x))


def test_observe_stores_the_mask_of_obs_for_a_dueling_agent_and_refuses_bad_ones_with_nothing_changed():
    agent = DQNAgent(2, 3, dueling=True, learning_starts=10 ** 9, seed=0)
    agent.observe(np.zeros(2), 2, 1.0, np.ones(2), False, action_mask=[0, 0, 1])
    agent.observe(np.zeros((2, 2)), [0, 1], [1.0, 2.0], np.ones((2, 2)), [False, True])  # no mask: all allowed
    np.testing.assert_array_equal(agent.buffer.action_mask[:3], [[False, False, True], [True] * 3, [True] * 3])
    before = (agent.steps, agent.buffer.size, agent.buffer.action_mask.copy())
    for kw, error, match in [(dict(action_mask=[1, 1, 0]), ValueError, "action 2 is not, in row 0"),
                             (dict(action_mask=[0, 0, 0]), ValueError, "action_mask allows no action"),
                             (dict(action_mask=[1.0, 1.0, 1.0]), TypeError, "action_mask must be a bool or integer"),
                             (dict(action_mask=[[1, 1, 1]]), ValueError, r"action_mask must have shape \(3,\)")]:
        with pytest.raises(error, match=match):
            agent.observe(np.zeros(2), 2, 1.0, np.ones(2), False, **kw)
        assert (agent.steps, agent.buffer.size) == before[:2]
        np.testing.assert_array_equal(agent.buffer.action_mask, before[2])
    plain = DQNAgent(2, 3, learning_starts=10 ** 9, seed=0)  # checks the mask of obs too, keeps none
    with pytest.raises(ValueError, match="action 2 is not"):
        plain.observe(np.zeros(2), 2, 1.0, np.ones(2), False, action_mask=[1, 1, 0])
    assert plain.buffer.action_mask is None and plain.steps == 0


def test_save_and_load_round_trip_is_bit_exact_and_dueling_cannot_be_overridden(tmp_path):
    agent = DQNAgent(3, 4, dueling=True, hidden=(8, 8), learning_starts=20, batch_size=8, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(40):
        mask = rng.random(4) < 0.6
        mask[rng.integers(4)] = True
        obs = rng.normal(size=3)
        agent.observe(obs, agent.act(obs, action_mask=mask), float(obs[0]), rng.normal(size=3), False,
                      action_mask=mask, next_action_mask=mask)
    agent.save(tmp_path / "a.npz", include_buffer=True)
    loaded = DQNAgent.load(tmp_path / "a.npz")
    assert loaded.config.dueling and isinstance(loaded.online, DuelingQNet) and loaded.updates == agent.updates
    for net in ("online", "target"):
        np.testing.assert_array_equal(getattr(loaded, net).params, getattr(agent, net).params)
    np.testing.assert_array_equal(loaded.buffer.action_mask, agent.buffer.action_mask)
    x = rng.normal(size=3)
    np.testing.assert_array_equal(loaded.q_values(x, action_mask=mask), agent.q_values(x, action_mask=mask))
    loaded.train_step(), agent.train_step()  # and training goes on identically
    np.testing.assert_array_equal(loaded.online.params, agent.online.params)
    with pytest.raises(TypeError, match=r"\['dueling'\] cannot be overridden"):
        DQNAgent.load(tmp_path / "a.npz", dueling=False)


def test_a_file_whose_config_disagrees_with_its_network_is_refused(tmp_path):
    import json
    from minidqn._checkpoint import load_arrays, save_arrays
    DQNAgent(3, 2, dueling=True, seed=0).save(tmp_path / "a.npz")
    arrays = load_arrays(tmp_path / "a.npz", "DQNAgent")
    meta = json.loads(str(arrays["meta"]))
    meta["config"]["dueling"] = False  # a plain MLP of these sizes has fewer parameters
    save_arrays(tmp_path / "b.npz", "DQNAgent", {**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.raises(ValueError, match="b.npz"):
        DQNAgent.load(tmp_path / "b.npz")
    meta["config"]["dueling"] = "yes"
    save_arrays(tmp_path / "c.npz", "DQNAgent", {**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.raises(ValueError, match="dueling must be a bool"):
        DQNAgent.load(tmp_path / "c.npz")


def test_a_file_from_before_dueling_loads_as_a_plain_network(tmp_path):
    import json
    from minidqn._checkpoint import load_arrays, save_arrays
    agent = DQNAgent(3, 2, seed=0)
    agent.save(tmp_path / "a.npz")
    arrays = load_arrays(tmp_path / "a.npz", "DQNAgent")
    meta = json.loads(str(arrays["meta"]))
    del meta["config"]["dueling"]
    save_arrays(tmp_path / "old.npz", "DQNAgent", {**arrays, "meta": np.array(json.dumps(meta))})
    loaded = DQNAgent.load(tmp_path / "old.npz")
    assert loaded.config.dueling is False and isinstance(loaded.online, MLP)
    np.testing.assert_array_equal(loaded.online.params, agent.online.params)


def test_keep_best_restores_a_dueling_dqn_to_its_best_evaluation_exactly():
    from minidqn.envs.tabular_shop import TabularShop
    from minidqn.train import evaluate, train
    env, eval_env = TabularShop(seed=0), TabularShop(seed=1)
    agent = DQNAgent.for_env(env, dueling=True, seed=0, learning_starts=100, hidden=(16, 16))
    h = train(agent, env, 1_500, seed=0, eval_env=eval_env, eval_every=300, eval_episodes=10, keep_best=True,
              progress=False)
    assert h.best_eval["mean_return"] == max(m["mean_return"] for _, m in h.evals)
    assert evaluate(agent, eval_env, 10, seed=0)["mean_return"] == h.best_eval["mean_return"]
    snap = agent.snapshot()
    agent.online.params[:] = 0.0
    agent.restore(snap)
    np.testing.assert_array_equal(agent.online.params, snap["online"])


def test_dueling_dqn_with_default_settings_learns_the_tabular_shop():
    from minidqn.envs.tabular_shop import TabularShop
    from minidqn.experiments import exact_share
    from minidqn.train import train
    agent = DQNAgent.for_env(TabularShop(), dueling=True, seed=0)
    train(agent, TabularShop(seed=0), 30_000, seed=0, progress=False)
    _, share = exact_share(agent, TabularShop(seed=0))
    # Seeds 0-9 (this code, 30k steps): min 0.832, median 0.984, max 0.993 (seed 0: 0.993; two seeds
    # below 0.9: 0.832, 0.855). Rounding alone reshuffles single seeds: the same network with the
    # plain mean summed another way gave min 0.832, median 0.982 (seed 0: 0.989). Plain DQN the same
    # way: min 0.950, median 0.987. Threshold 0.80: below the worst seed, above the myopic 0.741.
    assert share >= 0.80


@pytest.mark.parametrize("n_steps, vector", [(1, False), (3, True)])
def test_trained_by_train_on_the_shop_every_stored_transition_keeps_the_mask_its_action_was_chosen_under(n_steps,
                                                                                                       vector):
    from minidqn.envs.shop import ShopEnv
    from minidqn.train import train
    env = ShopEnv.vector(4, seed=0) if vector else ShopEnv(seed=0)
    agent = DQNAgent.for_env(env, dueling=True, n_steps=n_steps, learning_starts=200, batch_size=16, seed=0)
    train(agent, env, 2_000, seed=0, progress=False)
    buf = agent.buffer
    masks, actions = buf.action_mask[:buf.size], buf.actions[:buf.size]
    assert agent.updates > 0 and not masks.all()  # bought products were masked out, and learned with
    assert masks[np.arange(buf.size), actions].all()

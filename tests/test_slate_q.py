"""SlateQAgent and its choice model: gradients, the vectorized update against a loop, slates, files."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import assert_grad_close, numerical_grad
from minidqn.conditional_logit import ConditionalLogit
from minidqn.envs.shop import ShopConfig, ShopEnv
from minidqn.envs.slate_shop import SlateShopEnv
from minidqn.envs.tabular_slates import TabularSlateShop
from minidqn.losses import huber
from minidqn.slate_choice import enumerate_best_slate, slate_probs, slate_value
from minidqn.slate_q import SlateQAgent


def _choices(seed, B=12, obs_dim=3, n_items=6, k=3):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(B, obs_dim))
    A = np.array([rng.choice(n_items, k, replace=False) for _ in range(B)])
    c = rng.integers(-1, k, B)
    return S, A, c, rng.normal(size=(n_items, 2))


@given(st.integers(0, 1000))
def test_choice_model_gradient_matches_finite_differences(seed):
    S, A, c, X = _choices(seed)
    model = ConditionalLogit(3, X, 3)
    model.params[:] = np.random.default_rng(seed + 1).normal(0, 0.5, model.params.size)
    model.params[model.W.size] = 0.0
    model.loss_and_grad(S, A, c)
    numeric = numerical_grad(lambda: model.loss_and_grad(S, A, c), model.params)
    numeric[model.W.size] = 0.0                  # rho_0 is fixed at 0
    model.loss_and_grad(S, A, c)
    assert_grad_close(model.grads, numeric, rtol=1e-6, atol=1e-9, what="conditional logit")


def test_choice_model_recovers_a_known_logit_from_clicks():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    truth = ConditionalLogit(2, X, 3)
    truth.params[:] = rng.normal(0, 0.7, truth.params.size)
    truth.rho[:] = [0.0, -0.5, -1.0]
    n = 5_000
    S = rng.normal(size=(n, 2))
    A = np.array([rng.choice(8, 3, replace=False) for _ in range(n)])
    p, p0 = truth.probs(S, A)
    cum = np.cumsum(np.concatenate([p, p0[:, None]], axis=1), axis=1)
    c = (rng.random(n)[:, None] > cum).sum(axis=1)
    c[c == 3] = -1
    model = ConditionalLogit(2, X, 3, lr=0.1)
    for epoch in range(150):
        model.update(S, A, c)
    np.testing.assert_allclose(model.rho, truth.rho, atol=0.1)
    q, _ = model.probs(S[:500], A[:500])
    assert np.abs(q - p[:500]).max() < 0.05


def _agent(**kw):
    env = SlateShopEnv(ShopConfig(n_items=7, n_categories=2), slate_size=2, seed=0)
    agent = SlateQAgent.for_env(env, hidden=(8,), batch_size=16, learning_starts=10**9, dtype=np.float64,
                                seed=0, reward_scale=0.5, **kw)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(60):
        A = rng.choice(np.flatnonzero(info["action_mask"]), 2, replace=False)
        nxt, r, term, trunc, info = env.step(A)
        agent.observe(obs, A, r, nxt, term, next_action_mask=info["action_mask"])
        obs = nxt
        if term or trunc:
            obs, info = env.reset()
    agent.choice.params[:] = rng.normal(0, 0.3, agent.choice.params.size)
    agent.choice.params[agent.choice.W.size] = 0.0
    agent.target.params[:] += rng.normal(0, 0.1, agent.target.params.size)
    return env, agent


@pytest.mark.parametrize("double", [True, False])
def test_vectorized_update_equals_a_per_sample_loop(double):
    env, agent = _agent(double=double)
    buf, N, gamma = agent.buffer, agent.n_items, agent.config.gamma
    idx = np.arange(16) * 3
    agent._loss_and_grads(idx)
    fast = agent.online.grads.copy()
    total = np.zeros_like(fast)
    for b in idx:                                # one transition at a time, optimum by enumeration
        x2 = buf.next_obs[b:b + 1]
        v2 = agent.choice.utilities(x2)[0]
        qt = agent.target.predict(x2)[0]
        qp = agent.online.predict(x2)[0] if double else qt
        mask = buf.next_mask[b] | buf.terminated[b]
        A2, _ = enumerate_best_slate(v2, qp[:N], agent.choice.rho, mask, 0.0, qp[N])
        next_q = slate_value(v2, qt[:N], agent.choice.rho, A2, 0.0, qt[N])
        y = buf.rewards[b] * 0.5 + (0.0 if buf.terminated[b] else gamma * next_q)
        c = buf.clicked[b]
        i = buf.slates[b, c] if c >= 0 else N
        q = agent.online.forward(buf.obs[b:b + 1])
        _, dq = huber(q[:, i], np.array([y]))
        grad_out = np.zeros_like(q)
        grad_out[0, i] = dq[0] / len(idx)
        agent.online.backward(grad_out, input_grad=False)
        total += agent.online.grads
    np.testing.assert_allclose(fast, total, rtol=0, atol=1e-10)
    assert np.abs(fast).max() > 1e-3


def test_acting_gives_masked_slates_by_each_optimiser_and_the_decomposition():
    for how in ("exact", "top-k", "greedy"):
        env, agent = _agent(slate_optimizer=how, epsilon=0.0)
        obs, _ = env.reset(seed=3)
        mask = np.array([1, 0, 1, 1, 0, 1, 1], np.int8)
        A = agent.act(obs, action_mask=mask)
        assert A.shape == (2,) and mask[A].all() and A[0] != A[1]
    q = agent.q_values(obs)
    v = agent.choice.utilities(agent.encode(obs))[0]
    p, p0 = slate_probs(v[[2, 5]], agent.choice.rho)
    assert agent.slate_value(obs, [2, 5]) == pytest.approx(p @ q[[2, 5]] + p0 * q[-1], rel=1e-12)
    env, agent = _agent(epsilon=0.0)
    A = agent.act(obs)
    best, _ = enumerate_best_slate(v, q[:-1], agent.choice.rho, None, 0.0, q[-1])
    assert agent.slate_value(obs, A) == pytest.approx(agent.slate_value(obs, best), rel=1e-12)


def test_bad_input_is_refused():
    env, agent = _agent()
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="distinct"):
        agent.observe(obs, [1, 1], 0.0, obs, False)
    with pytest.raises(ValueError, match="clicked must be <= 1"):
        agent.observe(obs, [1, 2], 0.0, obs, False, clicked=2)
    with pytest.raises(ValueError, match="fewer than a slate"):
        agent.act(obs, action_mask=np.eye(7, dtype=bool)[0])
    with pytest.raises(ValueError, match="next_action_mask allows 1 products, fewer than a slate of 2"):
        agent.observe(obs, [1, 2], 0.0, obs, False, next_action_mask=np.eye(7, dtype=bool)[0])
    agent.observe(obs, [1, 2], 0.0, obs, True, next_action_mask=np.eye(7, dtype=bool)[0])  # ended: any mask
    with pytest.raises(ValueError, match="slate_optimizer"):
        SlateQAgent.for_env(env, slate_optimizer="best")
    with pytest.raises(TypeError, match="Slate"):
        SlateQAgent.for_env(ShopEnv())
    tab = SlateQAgent.for_env(TabularSlateShop())
    with pytest.raises(TypeError, match="clicked="):
        tab.observe(0, [0, 1], 0.0, 1, False)
    tab.observe(0, [0, 1], 5.0, 1, False, clicked=0)
    assert tab.buffer.size == 1 and tab.one_hot
    box = SlateQAgent(env.observation_space.shape[0], env.item_features, 2)  # any Box env: obs are not read
    with pytest.raises(TypeError, match="needs clicked="):
        box.observe(obs, [0, 1], 0.0, obs, False)


def test_save_and_load_round_trip_and_refuse_foreign_files(tmp_path):
    env, agent = _agent(epsilon=0.0)
    agent.config.learning_starts = 0
    agent.train_step()
    path = tmp_path / "slateq.npz"
    agent.save(path)
    twin = SlateQAgent.load(path)
    obs, _ = env.reset(seed=5)
    np.testing.assert_array_equal(twin.online.params, agent.online.params)
    np.testing.assert_array_equal(twin.choice.params, agent.choice.params)
    np.testing.assert_array_equal(twin.q_values(obs), agent.q_values(obs))
    np.testing.assert_array_equal(twin.act(obs), agent.act(obs))
    assert (twin.steps, twin.updates, twin.reward_scale) == (agent.steps, agent.updates, 0.5)
    assert twin.opt.t == agent.opt.t == 1 and twin.choice.opt.t == 1
    assert twin.clicked_in_obs and agent.clicked_in_obs      # built for a SlateShopEnv: obs report clicks
    assert SlateQAgent.load(path, lr=1e-2).config.lr == 1e-2
    with pytest.raises(ValueError, match="hidden"):
        SlateQAgent.load(path, hidden=(4,))
    with pytest.raises(TypeError, match="takes no seed: a loaded agent continues the random state"):
        SlateQAgent.load(path, seed=123)
    agent.online.save(tmp_path / "mlp.npz")
    with pytest.raises(ValueError, match="'MLP' checkpoint, expected 'SlateQAgent'"):
        SlateQAgent.load(tmp_path / "mlp.npz")


def test_snapshot_and_restore_bring_back_what_was_learned():
    env, agent = _agent()
    snap = agent.snapshot()
    agent.config.learning_starts = 0
    agent.train_step()
    assert not np.array_equal(agent.online.params, snap["online"])
    agent.restore(snap)
    for key, arr in (("online", agent.online.params), ("target", agent.target.params),
                     ("choice", agent.choice.params)):
        np.testing.assert_array_equal(arr, snap[key])


@pytest.mark.parametrize("blow_up", ["q nan", "q overflow", "choice nan"])
def test_divergence_is_a_floating_point_error_and_nothing_is_updated(blow_up):
    env, agent = _agent()
    if blow_up == "q nan":
        agent.online.params[:] = np.nan
    elif blow_up == "q overflow":                 # float64 here: two layers of 1e160 overflow Q
        agent.online.params[:] = agent.online.params * 1e160 + 1e160
    else:
        agent.choice.params[:] = np.nan
    before = {name: arr.copy() for name, arr in (("online", agent.online.params), ("target", agent.target.params),
                                                  ("choice", agent.choice.params))}
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="SlateQ diverged at update 1 .*"
                                                  "nothing was updated. Try a smaller lr"):
        agent.train_step()
    for name, arr in (("online", agent.online.params), ("target", agent.target.params),
                      ("choice", agent.choice.params)):
        np.testing.assert_array_equal(arr, before[name], err_msg=name)
    assert agent.updates == 0 and agent.opt.t == 0 and agent.choice.opt.t == 0
    assert not agent.choice.opt.m.any() and not agent.opt.m.any()

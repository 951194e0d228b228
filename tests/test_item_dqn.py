"""ItemDQNAgent and its networks: the batched update against a loop, gradients against finite
differences, masks, catalogue changes, bad input and checkpoints."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import assert_grad_close, numerical_grad
from minidqn import DQNAgent, ItemDQNAgent, ShopConfig, ShopEnv, VectorShopEnv, train
from minidqn.item_networks import ConcatQ, TwoTowerQ
from minidqn.losses import huber, mse


def catalogue(n=7, d=3, seed=2):
    return np.random.default_rng(seed).normal(size=(n, d))


def filled_agent(n=200, obs_dim=4, n_items=7, d_item=3, masks=False, **kw):
    kw = {"learning_starts": 10 ** 9, "batch_size": 16, "seed": 0, "reward_scale": 1.0, "hidden": (6,),
          "embed_dim": 4, "item_noise": 0.0, **kw}
    agent = ItemDQNAgent(obs_dim, catalogue(n_items, d_item), **kw)
    rng = np.random.default_rng(1)
    mask = None
    if masks:
        mask = rng.random((n, n_items)) < 0.6
        mask[np.arange(n), rng.integers(n_items, size=n)] = True
    obs, act, rew, next_obs, term = (rng.normal(size=(n, obs_dim)), rng.integers(n_items, size=n),
                                     rng.normal(size=n) * 3, rng.normal(size=(n, obs_dim)), rng.random(n) < 0.2)
    if agent.nstep is None:
        agent.observe(obs, act, rew, next_obs, term, next_action_mask=mask)
    else:
        for i in range(n):
            agent.observe(obs[i], act[i], rew[i], next_obs[i], term[i], truncated=i % 7 == 6,
                          next_action_mask=None if mask is None else mask[i])
    agent.online.params += rng.normal(0, 0.05, agent.online.params.shape)  # online != target
    return agent


def q_pair(net, s, x) -> float:
    """Q(s, x) of one state and one product, from single-row passes of the network's parts."""
    if isinstance(net, TwoTowerQ):
        phi, r = net.state_net.predict(s), net.item_net.predict(x)
        return float(phi @ r[:-1] + r[-1])
    return float(net.net.predict(np.concatenate([s, x]))[0])


def reference_step(agent, idx, item_x=None):
    """The update one transition and one product at a time (``item_x``: the products' features
    the loss sees, by default the stored ones)."""
    cfg, buf = agent.config, agent.buffer
    loss_fn = {"huber": huber, "mse": mse}[cfg.loss]
    grads, losses = np.zeros_like(agent.online.params), []
    for j, i in enumerate(idx):
        next_q_target = np.array([q_pair(agent.target, buf.next_obs[i], x) for x in agent.items])
        chooser = (np.array([q_pair(agent.online, buf.next_obs[i], x) for x in agent.items])
                   if cfg.double else next_q_target)
        allowed = np.flatnonzero(buf.next_action_mask[i])
        best = allowed[np.argmax(chooser[allowed])]
        y = buf.rewards[i] + (0.0 if buf.terminated[i] else buf.discounts[i] * next_q_target[best])
        x = buf.item_x[i] if item_x is None else item_x[j]
        q = agent.online.forward_pairs(buf.obs[i][None], x[None])
        loss, dq = loss_fn(q, np.array([y]))
        agent.online.backward_pairs(dq / idx.size)  # per-sample loss, averaged over the batch
        grads += agent.online.grads
        losses.append(loss)
    return float(np.mean(losses)), grads


@pytest.mark.parametrize("architecture", ["two-tower", "concat"])
@pytest.mark.parametrize("double", [True, False])
@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("masks, n_steps", [(False, 1), (True, 1), (True, 3)])
def test_vectorized_step_equals_per_sample_loop(architecture, double, loss, masks, n_steps):
    agent = filled_agent(architecture=architecture, double=double, loss=loss, masks=masks, n_steps=n_steps,
                         dtype=np.float64, max_grad_norm=None)
    buf = agent.buffer
    np.testing.assert_array_equal(buf.item_x[:buf.size], agent.items[buf.actions[:buf.size]])
    state = buf.rng.bit_generator.state
    idx = buf.sample_indices(agent.config.batch_size)
    buf.rng.bit_generator.state = state  # train_step draws the same indices
    ref_loss, ref_grads = reference_step(agent, idx)
    got = agent.train_step()
    assert abs(got - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    np.testing.assert_allclose(agent.online.grads, ref_grads, rtol=1e-10, atol=1e-12)


def test_item_noise_perturbs_the_shown_products_features_in_the_loss_only():
    agent = filled_agent(item_noise=0.3, dtype=np.float64, max_grad_norm=None, masks=True)
    buf = agent.buffer
    state, noise_state = buf.rng.bit_generator.state, agent.rng.bit_generator.state
    idx = buf.sample_indices(agent.config.batch_size)
    buf.rng.bit_generator.state = state
    eps = agent.rng.standard_normal((idx.size, 3))
    agent.rng.bit_generator.state = noise_state  # train_step draws the same noise
    sd = agent.items.std(axis=0)
    noisy = buf.item_x[idx] + 0.3 * sd * eps               # the target's max stays on the clean catalogue
    ref_loss, ref_grads = reference_step(agent, idx, noisy)
    got = agent.train_step()
    assert abs(got - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    np.testing.assert_allclose(agent.online.grads, ref_grads, rtol=1e-10, atol=1e-12)
    clean_loss, _ = reference_step(filled_agent(item_noise=0.3, dtype=np.float64, masks=True), idx)
    assert abs(got - clean_loss) > 1e-6                       # the noise did change the loss


def test_item_noise_defaults_on_is_checked_and_survives_save_and_load(tmp_path):
    agent = ItemDQNAgent(4, catalogue())
    assert agent.item_noise == 0.05
    for bad in (-0.1, 11.0, float("nan")):
        with pytest.raises(ValueError, match="item_noise"):
            ItemDQNAgent(4, catalogue(), item_noise=bad)
    agent = filled_agent(item_noise=0.25)
    agent.save(tmp_path / "a.npz")
    assert ItemDQNAgent.load(tmp_path / "a.npz").item_noise == 0.25
    assert ItemDQNAgent.load(tmp_path / "a.npz", item_noise=0.0).item_noise == 0.0
    np.testing.assert_allclose(agent._item_sd, agent.items.std(axis=0))
    agent.set_items(catalogue(50, 3, seed=9) * 4)              # the noise's scale follows the catalogue
    np.testing.assert_allclose(agent._item_sd, agent.items.std(axis=0))


@settings(max_examples=15)
@given(obs_dim=st.integers(1, 4), d_item=st.integers(1, 4), k=st.integers(1, 3), hidden=st.integers(1, 4),
       B=st.integers(1, 5), seed=st.integers(0, 1000), architecture=st.sampled_from(["two-tower", "concat"]))
def test_pair_gradients_match_finite_differences(obs_dim, d_item, k, hidden, B, seed, architecture):
    cls = {"two-tower": TwoTowerQ, "concat": ConcatQ}[architecture]
    net = cls(obs_dim, d_item, (hidden,), k, "tanh", np.float64, seed=seed)
    rng = np.random.default_rng(seed + 1)
    S, X, w = rng.normal(size=(B, obs_dim)), rng.normal(size=(B, d_item)), rng.normal(size=B)

    def f():  # a weighted sum of the B pair values
        return float(w @ net.forward_pairs(S, X))

    f()
    dS, dX = net.backward_pairs(w.copy(), input_grad=True)
    analytic = net.grads.copy()
    assert_grad_close(analytic, numerical_grad(f, net.params), what="params")
    assert_grad_close(dS, numerical_grad(f, S), what="dS")
    assert_grad_close(dX, numerical_grad(f, X), what="dX")


def test_scores_of_every_pair_equal_the_pairs_one_at_a_time():
    for cls in (TwoTowerQ, ConcatQ):
        net = cls(4, 3, (5,), 2, "relu", np.float64, seed=3)
        S, X = np.random.default_rng(0).normal(size=(3, 4)), catalogue(6)
        Q = net.scores(S, net.embed(X))
        assert Q.shape == (3, 6)
        np.testing.assert_allclose(Q, [[q_pair(net, s, x) for x in X] for s in S], rtol=1e-12)
        np.testing.assert_allclose(net.forward_pairs(S, X[:3]), np.diag(Q[:, :3]), rtol=1e-12)


def test_set_items_scores_new_products_at_once_and_keeps_what_was_shown():
    agent = filled_agent(masks=True, dtype=np.float64)
    obs = np.random.default_rng(5).normal(size=4)
    old_q, shown = agent.q_values(obs), agent.buffer.item_x[:agent.buffer.size].copy()
    new = np.vstack([catalogue(4, seed=9), agent.items[2]])  # four new products and an old one
    agent.set_items(new)
    q = agent.q_values(obs)
    assert q.shape == (5,) and agent.n_actions == 5
    np.testing.assert_allclose(q, [q_pair(agent.online, obs, x) for x in new], rtol=1e-12)
    assert q[4] == pytest.approx(old_q[2], rel=1e-12)            # the same product, the same value
    np.testing.assert_allclose(agent.q_values(obs[None])[0], q)   # a batch of one agrees
    perm = np.array([3, 0, 4, 1, 2])
    agent.set_items(new[perm])
    np.testing.assert_allclose(agent.q_values(obs), q[perm], rtol=1e-12)
    # stored transitions keep the product shown; masks of the old catalogue are gone
    np.testing.assert_array_equal(agent.buffer.item_x[:agent.buffer.size], shown)
    assert agent.buffer.next_action_mask.shape == (agent.buffer.capacity, 5) and agent.buffer.next_action_mask.all()
    assert np.isfinite(agent.train_step())
    assert agent.recommend(obs, 5).tolist() == np.argsort(-agent.q_values(obs), kind="stable").tolist()


def test_q_values_follow_every_update_and_restore():
    agent = filled_agent()
    obs = np.ones(4)
    before, snap = agent.q_values(obs), agent.snapshot()
    agent.train_step()
    after = agent.q_values(obs)
    assert not np.allclose(before, after)  # the cached catalogue embedding was refreshed
    agent.restore(snap)
    np.testing.assert_array_equal(agent.q_values(obs), before)


def test_acting_and_recommending_respect_masks():
    agent = filled_agent(n_items=9)
    mask = np.zeros(9, np.int8)
    mask[[2, 7]] = 1
    chosen = {agent.act(np.zeros(4), explore=True, action_mask=mask) for _ in range(50)}
    assert chosen == {2, 7}  # explore at epsilon 1 early on: uniform over the allowed ones
    assert agent.act(np.zeros(4), explore=False, action_mask=mask) in (2, 7)
    assert set(agent.recommend(np.zeros(4), 2, action_mask=mask).tolist()) == {2, 7}
    acts = agent.act(np.zeros((3, 4)), explore=False, action_mask=np.tile(mask, (3, 1)))
    assert set(acts.tolist()) <= {2, 7}


def test_for_env_trains_on_the_shop_and_its_vector_version():
    env = VectorShopEnv(2, ShopConfig(n_items=30), seed=0)
    agent = ItemDQNAgent.for_env(env, learning_starts=64, batch_size=16, seed=0)
    assert (agent.obs_dim, agent.n_actions, agent.d_item) == (len(env.feature_names), 30, 13)
    h = train(agent, env, 400, seed=0, progress=False)
    assert agent.updates > 50 and np.isfinite(h.losses).all()  # one update per 4 transitions (the default)
    single = ShopEnv(ShopConfig(n_items=30))
    agent2 = ItemDQNAgent.for_env(single, learning_starts=64, batch_size=16, seed=0)
    train(agent2, single, 200, seed=0, progress=False)
    assert agent2.updates > 0


@pytest.mark.parametrize("args, kw, error, match", [
    ((4, np.ones(5)), {}, ValueError, "item_features"),
    ((4, np.ones((0, 3))), {}, ValueError, "item_features"),
    ((4, [[1.0, np.nan]]), {}, ValueError, "item_features"),
    ((4, [["a", "b"]]), {}, TypeError, "item_features"),
    ((4, np.ones((3, 2))), {"architecture": "deep"}, ValueError, "architecture"),
    ((4, np.ones((3, 2))), {"embed_dim": 0}, ValueError, "embed_dim"),
    ((0, np.ones((3, 2))), {}, ValueError, "obs_dim"),
    ((4, np.ones((3, 2))), {"lr": -1.0}, ValueError, "lr"),
    ((4, np.ones((3, 2))), {"dueling": True}, ValueError, "dueling"),
    ((4, np.ones((3, 2))), {"cql_alpha": 1.0}, ValueError, "cql_alpha=1.0 is not available for ItemDQNAgent")])
def test_bad_construction_is_refused(args, kw, error, match):
    with pytest.raises(error, match=match):
        ItemDQNAgent(*args, **kw)


def test_bad_calls_are_refused_and_change_nothing():
    agent = filled_agent()
    items, q = agent.items.copy(), agent.q_values(np.zeros(4))
    with pytest.raises(ValueError, match="item_features"):
        agent.set_items(np.ones((5, 2)))  # another number of feature columns
    with pytest.raises(ValueError, match="item_features"):
        agent.set_items(np.full((5, 3), np.inf))
    np.testing.assert_array_equal(agent.items, items)
    np.testing.assert_array_equal(agent.q_values(np.zeros(4)), q)
    size = agent.buffer.size
    with pytest.raises(ValueError, match="action"):
        agent.observe(np.zeros(4), 7, 1.0, np.zeros(4), False)  # 7 products: ids 0..6
    with pytest.raises(ValueError, match="next_action_mask"):
        agent.observe(np.zeros(4), 1, 1.0, np.zeros(4), False, next_action_mask=np.ones(8, bool))
    assert agent.buffer.size == size
    with pytest.raises(ValueError, match="obs"):
        agent.q_values(np.zeros(5))
    with pytest.raises(TypeError, match="item_features"):
        ItemDQNAgent.for_env(type("Env", (), {"observation_space": ShopEnv().observation_space})())


@pytest.mark.parametrize("include_buffer", [False, True])
def test_save_load_round_trip(tmp_path, include_buffer):
    agent = filled_agent(masks=True, n_steps=2, learning_starts=0)
    for _ in range(5):
        agent.train_step()
    path = tmp_path / "item.npz"
    agent.save(path, include_buffer=include_buffer, metadata={"env": "shop"})
    twin = ItemDQNAgent.load(path)
    assert (twin.architecture, twin.embed_dim, twin.metadata, twin.updates, twin.steps) == \
        ("two-tower", 4, {"env": "shop"}, agent.updates, agent.steps)
    np.testing.assert_array_equal(twin.items, agent.items)
    np.testing.assert_array_equal(twin.target.params, agent.target.params)
    obs = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_array_equal(twin.q_values(obs), agent.q_values(obs))
    if include_buffer:  # training resumes exactly
        np.testing.assert_array_equal(twin.buffer.item_x, agent.buffer.item_x)
        assert [twin.train_step() for _ in range(3)] == [agent.train_step() for _ in range(3)]
        np.testing.assert_array_equal(twin.online.params, agent.online.params)
    assert ItemDQNAgent.load(path, lr=1e-2).optimizer.lr == 1e-2


def test_load_refuses_other_files_and_network_overrides(tmp_path):
    agent = filled_agent()
    path, other = tmp_path / "a.npz", tmp_path / "dqn.npz"
    agent.save(path)
    DQNAgent(4, 7).save(other)
    with pytest.raises(ValueError, match="DQNAgent"):
        ItemDQNAgent.load(other)
    with pytest.raises(TypeError, match="embed_dim"):
        ItemDQNAgent.load(path, embed_dim=8)
    with pytest.raises(TypeError, match="seed"):
        ItemDQNAgent.load(path, seed=3)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        ItemDQNAgent.load(tmp_path / "cut.npz")


def test_explain_attributes_to_the_state_and_the_products_features():
    from minidqn import explain
    from minidqn.report import explain_lines
    env = ShopEnv(ShopConfig(n_items=20))
    agent = ItemDQNAgent.for_env(env, seed=0, dtype=np.float64)
    agent.online.params += np.random.default_rng(0).normal(0, 0.1, agent.online.params.size)
    obs, _ = env.reset(seed=1)
    names = env.feature_names + env.item_feature_names
    got = explain(agent, obs, k=3, feature_names=names, top_features=40)
    q = agent.q_values(obs)
    assert [e.action for e in got] == np.argsort(-q, kind="stable")[:3].tolist()
    X, G = agent.pair_input_gradients(obs, [e.action for e in got])
    for e, x, g in zip(got, X, G):
        assert e.q == pytest.approx(q[e.action])
        # each listed attribution is gradient times input of that action's row [s, x_a]
        for name, value, attribution in e.features:
            j = names.index(name)
            assert (value, attribution) == pytest.approx((x[j], g[j] * x[j]))
        np.testing.assert_array_equal(x[len(obs):], agent.items[e.action])
    # the gradient w.r.t. the product's features, by finite differences of Q(s, x_a)
    a, eps = got[0].action, 1e-6
    for j in range(agent.d_item):
        up, down = agent.items.copy(), agent.items.copy()
        up[a, j] += eps
        down[a, j] -= eps
        agent.set_items(up)
        q_up = agent.q_values(obs)[a]
        agent.set_items(down)
        q_down = agent.q_values(obs)[a]
        assert G[0, len(obs) + j] == pytest.approx((q_up - q_down) / (2 * eps), rel=1e-5, abs=1e-8)
    assert any("category_" in line or "price" in line or "quality" in line or "appeal" in line
               for line in explain_lines(agent, env, obs, 3))

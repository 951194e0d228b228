import numpy as np
import pytest

from minidqn.dqn import DQNAgent
from minidqn.losses import huber, mse
from minidqn.schedules import LinearSchedule


def filled_agent(n=200, obs_dim=4, n_actions=3, masks=False, **kw):
    kw = {"learning_starts": 10 ** 9, "batch_size": 16, "seed": 0, "reward_scale": 1.0, **kw}
    agent = DQNAgent(obs_dim, n_actions, **kw)
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(n, obs_dim))
    mask = obs_mask = None
    if masks:
        mask = rng.random((n, n_actions)) < 0.6
        mask[np.arange(n), rng.integers(n_actions, size=n)] = True
    act, rew, next_obs, term = (rng.integers(n_actions, size=n), rng.normal(size=n) * 3,
                                rng.normal(size=(n, obs_dim)), rng.random(n) < 0.2)
    if masks:  # the mask of obs allows the action taken (drawn apart: the draws above stay as they were)
        obs_mask = np.random.default_rng(2).random((n, n_actions)) < 0.5
        obs_mask[np.arange(n), act] = True
    if agent.nstep is None:
        agent.observe(obs, act, rew, next_obs, term, next_action_mask=mask, action_mask=obs_mask)
    else:  # one env, one step at a time (a batch would be n env copies); every 7th step a time limit
        for i in range(n):
            agent.observe(obs[i], act[i], rew[i], next_obs[i], term[i], truncated=i % 7 == 6,
                          next_action_mask=None if mask is None else mask[i],
                          action_mask=None if obs_mask is None else obs_mask[i])
    agent.online.params += rng.normal(0, 0.05, agent.online.params.shape)  # online != target
    return agent


def reference_step(agent, idx):
    """The same update written the slow, obvious way: one transition at a time. A dueling
    network's Q(s, .) takes the mask of s, its Q(s', .) the mask of s'."""
    cfg, buf = agent.config, agent.buffer
    loss_fn = {"huber": huber, "mse": mse}[cfg.loss]
    at = (lambda mask: {"mask": mask}) if cfg.dueling else (lambda mask: {})
    B = idx.size
    grads, losses = np.zeros_like(agent.online.params), []
    for i in idx:
        next_q_target = agent.target.predict(buf.next_obs[i], **at(buf.next_action_mask[i]))
        chooser = agent.online.predict(buf.next_obs[i], **at(buf.next_action_mask[i])) if cfg.double else next_q_target
        allowed = np.flatnonzero(buf.next_action_mask[i])
        best = allowed[np.argmax(chooser[allowed])]
        y = buf.rewards[i] + (0.0 if buf.terminated[i] else buf.discounts[i] * next_q_target[best])
        q = agent.online.forward(buf.obs[i][None], **at(None if buf.action_mask is None else buf.action_mask[i][None]))
        a = buf.actions[i]
        loss, dq = loss_fn(q[0, a:a + 1], np.array([y]))
        grad_out = np.zeros_like(q)
        grad_out[0, a] = dq[0] / B  # per-sample loss, averaged over the batch
        if cfg.cql_alpha:  # + alpha (log sum_{b allowed in s} e^Q(s, b) - Q(s, a)); gradient softmax - one-hot
            allowed_s = np.arange(q.shape[1]) if buf.action_mask is None else np.flatnonzero(buf.action_mask[i])
            w = np.exp(q[0, allowed_s])
            loss += cfg.cql_alpha * (np.log(w.sum()) - q[0, a])
            grad_out[0, allowed_s] += cfg.cql_alpha * (w / w.sum()) / B
            grad_out[0, a] -= cfg.cql_alpha / B
        agent.online.backward(grad_out)
        grads += agent.online.grads
        losses.append(loss)
    return float(np.mean(losses)), grads


@pytest.mark.parametrize("double", [True, False])
@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("masks", [False, True])
@pytest.mark.parametrize("n_steps", [1, 3])
@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("cql_alpha", [0.0, 0.7])
def test_vectorized_step_equals_per_sample_loop(double, loss, masks, n_steps, dueling, cql_alpha):
    agent = filled_agent(double=double, loss=loss, masks=masks, dtype=np.float64, max_grad_norm=None, n_steps=n_steps,
                         dueling=dueling, cql_alpha=cql_alpha)
    if (dueling or cql_alpha) and masks:  # the masks of s were stored, and differ from those of s'
        assert not agent.buffer.action_mask.all() and (agent.buffer.action_mask != agent.buffer.next_action_mask).any()
    if n_steps > 1:  # a mix of discounts: full windows and windows cut by ends
        g = agent.config.gamma
        np.testing.assert_allclose(np.unique(agent.buffer.discounts[:agent.buffer.size]), [g ** 3, g ** 2, g],
                                   rtol=1e-15)
    rng_state = agent.buffer.rng.bit_generator.state
    idx = agent.buffer.sample_indices(agent.config.batch_size)
    agent.buffer.rng.bit_generator.state = rng_state  # train_step will draw the same indices
    ref_loss, ref_grads = reference_step(agent, idx)
    got = agent.train_step()
    assert abs(got - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    np.testing.assert_allclose(agent.online.grads, ref_grads, rtol=1e-10, atol=1e-12)


def linear_agent(**kw):
    """No hidden layer: Q(s) = s @ W + b, so targets can be worked out by hand."""
    agent = DQNAgent(2, 2, hidden=(), dtype=np.float64, gamma=0.5, **kw)
    agent.online.weights[0][:] = [[1.0, 0.0], [0.0, 1.0]]    # Q_online(s) = s
    agent.target.weights[0][:] = [[0.0, 10.0], [20.0, 0.0]]  # Q_target(s) = (20 s1, 10 s0)
    agent.online.biases[0][:] = agent.target.biases[0][:] = 0.0
    return agent


def test_train_step_clips_the_gradient_norm():
    agent = filled_agent(max_grad_norm=1e-3, dtype=np.float64)
    agent.train_step()
    assert np.linalg.norm(agent.online.grads) == pytest.approx(1e-3, rel=1e-9)


def test_reward_scale_is_the_same_as_scaling_rewards():
    def run(scale, reward_factor):
        agent = DQNAgent(2, 2, learning_starts=8, batch_size=4, dtype=np.float64, reward_scale=scale, seed=1,
                         loss="mse")
        rng = np.random.default_rng(0)
        for _ in range(30):
            agent.observe(rng.normal(size=2), int(rng.integers(2)), reward_factor * rng.normal(),
                          rng.normal(size=2), False)
        return agent
    a, b = run(4.0, 1.0), run(1.0, 4.0)
    np.testing.assert_allclose(a.online.params, b.online.params, rtol=1e-12)
    np.testing.assert_allclose(a.q_values(np.ones(2)) * 4.0, b.q_values(np.ones(2)), rtol=1e-12)


def test_default_reward_scale_is_fixed_from_the_first_non_zero_rewards(tmp_path):
    agent = DQNAgent(2, 2, learning_starts=4, batch_size=2, train_freq=1, seed=0)
    for _ in range(6):
        agent.observe(np.ones(2), 0, 0.0, np.ones(2), False)
    assert agent.updates == 3 and agent.reward_scale == 1.0 and agent._reward_scale is None
    agent.observe(np.ones(2), 1, -250.0, np.ones(2), True)
    agent.observe(np.ones(2), 1, 40.0, np.ones(2), True)
    assert agent.reward_scale == 1 / 250
    agent.observe(np.ones(2), 1, 1000.0, np.ones(2), True)
    assert agent.reward_scale == 1 / 250  # fixed once set: Q's units must not move under it
    agent.save(tmp_path / "a.npz")
    assert DQNAgent.load(tmp_path / "a.npz").reward_scale == 1 / 250
    np.testing.assert_allclose(DQNAgent.load(tmp_path / "a.npz").q_values(np.ones(2)), agent.q_values(np.ones(2)))


def test_learning_starts_counts_transitions_even_beyond_the_buffer_capacity():
    agent = DQNAgent(2, 2, buffer_size=50, batch_size=8, learning_starts=100, train_freq=1, seed=0)
    for _ in range(120):
        agent.observe(np.ones(2), 0, 1.0, np.ones(2), False)
    assert agent.updates == 21


def test_a_terminal_next_state_may_allow_no_action():
    agent = DQNAgent(2, 2, learning_starts=0, batch_size=1, seed=0)
    agent.observe(np.ones(2), 0, 1.0, np.ones(2), True, next_action_mask=np.zeros(2, bool))
    with pytest.raises(ValueError, match="allows no action"):
        agent.observe(np.ones(2), 0, 1.0, np.ones(2), False, next_action_mask=np.zeros(2, bool))


def targets_of_a_train_step(agent, r, s_next, term, mask=None):
    """The ``td_target`` a real ``train_step`` computes for each of the ``n`` transitions given,
    stored 30 times over so that a batch of 64 samples each (the loss is spied on; the sampled
    indices are drawn again to undo the order)."""
    n, copies = len(r), 30
    tile = (lambda x: None if x is None else np.concatenate([x] * copies))
    agent.observe(np.zeros((n * copies, 2)), np.zeros(n * copies, np.int64), tile(r), tile(s_next), tile(term),
                  next_action_mask=tile(mask))
    return sampled_targets(agent, n)


def sampled_targets(agent, n):
    """The ``td_target`` of each of the first ``n`` stored transitions (entry ``i`` also stands for
    ``i + n``, ``i + 2n``, ...), spied on in one real ``train_step``."""
    state = agent.buffer.rng.bit_generator.state
    idx = agent.buffer.sample_indices(agent.config.batch_size)
    agent.buffer.rng.bit_generator.state = state
    seen = []
    loss = agent._loss
    agent._loss = lambda pred, target: seen.append(target.copy()) or loss(pred, target)
    agent.train_step()
    out = np.full(n, np.nan)
    out[idx % n] = seen[0]
    assert not np.isnan(out).any(), "every transition must have been sampled"
    np.testing.assert_array_equal(seen[0], out[idx % n])  # copies of one transition, one target
    return out


def test_double_and_plain_targets_by_hand():
    r = np.array([1.0, 1.0, 1.0])
    s_next = np.array([[1.0, 2.0], [3.0, 0.5], [3.0, 0.5]])
    term = np.array([False, False, True])
    kw = dict(batch_size=64, learning_starts=10 ** 9, reward_scale=1.0, seed=0)
    # s'=(1,2): online picks a=1, target says Q_t(s',1)=10 -> y = 1 + 0.5*10 = 6
    # s'=(3,.5): online picks a=0, target Q_t(s',0)=10 -> 6; terminal -> 1
    np.testing.assert_allclose(targets_of_a_train_step(linear_agent(double=True, **kw), r, s_next, term),
                               [6.0, 6.0, 1.0])
    # plain DQN: max_a Q_t(s') = max(40, 10) = 40 -> 21; max(10, 30) = 30 -> 16; terminal -> 1
    np.testing.assert_allclose(targets_of_a_train_step(linear_agent(double=False, **kw), r, s_next, term),
                               [21.0, 16.0, 1.0])
    # a mask that forbids the argmax changes the choice: only a=1 allowed for the first row
    mask = np.array([[False, True], [False, True], [False, False]])
    np.testing.assert_allclose(targets_of_a_train_step(linear_agent(double=False, **kw), r, s_next, term, mask),
                               [6.0, 16.0, 1.0])


def test_n_step_targets_by_hand():
    agent = linear_agent(n_steps=2, batch_size=64, learning_starts=10 ** 9, reward_scale=1.0, seed=0)
    s = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 0.5], [1.0, 2.0]])
    for _ in range(30):  # the same episode 30 times: entry i stands for transition i % 3
        for t, r in enumerate([1.0, 2.0, 4.0]):
            agent.observe(s[t], 0, r, s[t + 1], False, truncated=t == 2)
    # s0: R = 1 + 0.5*2 = 2 from s2 = (3, .5) with 0.25: online picks a=0, Q_t(s2, 0) = 10 -> 4.5
    # s1: R = 2 + 0.5*4 = 4 from s3 = (1, 2) with 0.25: online picks a=1, Q_t(s3, 1) = 10 -> 6.5
    # s2: cut by the time limit after one step: R = 4 from s3 with 0.5 -> 9
    np.testing.assert_allclose(sampled_targets(agent, 3), [4.5, 6.5, 9.0], rtol=1e-15)
    agent = linear_agent(n_steps=2, batch_size=64, learning_starts=10 ** 9, reward_scale=1.0, seed=0)
    for _ in range(30):
        for t, r in enumerate([1.0, 2.0, 4.0]):
            agent.observe(s[t], 0, r, s[t + 1], t == 2)
    np.testing.assert_allclose(sampled_targets(agent, 3), [4.5, 4.0, 4.0], rtol=1e-15)  # no bootstrap past the end


def test_acting_respects_masks_and_breaks_ties_at_random():
    agent = DQNAgent(3, 5, seed=0, epsilon=1.0)
    mask = np.array([False, True, False, True, False])
    chosen = {agent.act(np.zeros(3), action_mask=mask) for _ in range(200)}
    assert chosen == {1, 3}
    agent.config.epsilon = 0.0
    agent.online.params[:] = 0.0  # every Q equal: greedy must still spread over all actions
    counts = np.bincount([agent.act(np.zeros(3)) for _ in range(500)], minlength=5)
    assert counts.min() > 60
    assert {agent.act(np.zeros(3), action_mask=mask) for _ in range(100)} == {1, 3}
    batch_actions = agent.act(np.zeros((4, 3)), action_mask=np.tile(mask, (4, 1)))
    assert batch_actions.shape == (4,) and set(batch_actions) <= {1, 3}


def test_recommend_ranks_by_q_and_skips_masked():
    agent = linear_agent()
    obs = np.array([0.2, 0.7])  # Q = (0.2, 0.7)
    np.testing.assert_array_equal(agent.recommend(obs, 2), [1, 0])
    np.testing.assert_array_equal(agent.recommend(obs, 1, action_mask=np.array([True, False])), [0])


def test_target_net_untouched_by_a_step_then_synced_by_hard_update():
    agent = filled_agent(target_update=3, tau=None)
    before = agent.target.params.copy()
    online_before = agent.online.params.copy()
    agent.train_step(), agent.train_step()
    np.testing.assert_array_equal(agent.target.params, before)
    assert not np.array_equal(agent.online.params, online_before)
    agent.train_step()
    np.testing.assert_array_equal(agent.target.params, agent.online.params)


def test_polyak_update_formula():
    agent = filled_agent(tau=0.1, dtype=np.float64)
    target_before = agent.target.params.copy()
    agent.train_step()
    np.testing.assert_allclose(agent.target.params, 0.9 * target_before + 0.1 * agent.online.params, rtol=1e-12)


def test_observe_trains_on_schedule():
    agent = DQNAgent(2, 2, learning_starts=20, batch_size=4, train_freq=4, gradient_steps=2, seed=0)
    rng = np.random.default_rng(0)
    losses = [agent.observe(rng.normal(size=2), 0, 1.0, rng.normal(size=2), False) for _ in range(40)]
    # the 20th transition fills learning_starts; then a round of 2 updates every 4th transition
    trained = [i for i, loss in enumerate(losses) if loss is not None]
    assert trained == [22, 26, 30, 34, 38]
    assert agent.updates == 10


def test_same_seed_bitwise_identical():
    a, b = filled_agent(seed=3), filled_agent(seed=3)
    for _ in range(5):
        a.train_step(), b.train_step()
    np.testing.assert_array_equal(a.online.params, b.online.params)
    assert a.act(np.ones(4)) == b.act(np.ones(4))


@pytest.mark.parametrize("extra", [dict(target_update=7), dict(tau=0.05, train_freq=3, gradient_steps=2),
                                   dict(target_update=7, n_steps=3), dict(target_update=7, dueling=True),
                                   dict(tau=0.05, n_steps=3, dueling=True)])
def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path, extra):
    def run(agent, steps, rng):
        mask = np.ones(4, bool)
        for _ in range(steps):
            obs = rng.normal(size=3)
            next_mask = rng.random(4) < 0.7
            next_mask[rng.integers(4)] = True
            agent.observe(obs, agent.act(obs, action_mask=mask), float(obs[0]), rng.normal(size=3),
                          bool(rng.random() < 0.1), next_action_mask=next_mask, action_mask=mask)
            mask = next_mask
    kw = dict(learning_starts=30, batch_size=8, buffer_size=60, epsilon=LinearSchedule(1.0, 0.1, 100), seed=5,
              **extra)
    straight = DQNAgent(3, 4, **kw)
    run(straight, 120, np.random.default_rng(0))
    first = DQNAgent(3, 4, **kw)
    env_rng = np.random.default_rng(0)
    run(first, 70, env_rng)
    if first.nstep is not None:
        assert first.nstep.pending == 2  # saved mid-window
    first.save(tmp_path / "ckpt.npz", include_buffer=True)
    resumed = DQNAgent.load(tmp_path / "ckpt.npz")
    run(resumed, 50, env_rng)
    np.testing.assert_array_equal(resumed.buffer.rewards, straight.buffer.rewards)
    np.testing.assert_array_equal(resumed.buffer.discounts, straight.buffer.discounts)
    np.testing.assert_array_equal(resumed.online.params, straight.online.params)
    np.testing.assert_array_equal(resumed.target.params, straight.target.params)
    np.testing.assert_array_equal(resumed.optimizer.v, straight.optimizer.v)
    assert (resumed.steps, resumed.updates, resumed.epsilon) == (straight.steps, straight.updates, straight.epsilon)
    if straight.config.dueling:  # the masks of obs were saved (and, mid-window, those in the n-step windows)
        assert type(resumed.online).__name__ == "DuelingQNet" and not straight.buffer.action_mask.all()
        np.testing.assert_array_equal(resumed.buffer.action_mask, straight.buffer.action_mask)


def test_divergence_is_reported_and_nothing_is_updated():
    agent = filled_agent()
    agent.online.params[0] = np.float32(3e38)
    agent.online.params[1:] *= 1e30
    before = agent.online.params.copy()
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="update 1 .*lr"):
        agent.train_step()
    np.testing.assert_array_equal(agent.online.params, before)
    assert agent.optimizer.t == 0 and not agent.optimizer.m.any() and agent.updates == 0


def test_a_finite_loss_with_an_infinite_gradient_is_a_divergence_too(monkeypatch):
    agent = filled_agent(max_grad_norm=None)
    before = agent.online.params.copy()
    monkeypatch.setattr(agent.online, "backward", lambda grad_out, input_grad=True: agent.online.grads.fill(np.inf))
    with pytest.raises(FloatingPointError, match="gradient norm=inf"):
        agent.train_step()
    assert agent.optimizer.t == 0
    np.testing.assert_array_equal(agent.online.params, before)


def test_for_env_reads_spaces_and_one_hot_encodes_discrete_states():
    from minidqn.spaces import Box, Discrete

    class Env:
        observation_space, action_space = Discrete(6), Discrete(3)
    agent = DQNAgent.for_env(Env(), seed=0)
    assert (agent.obs_dim, agent.n_actions, agent.one_hot) == (6, 3, True)
    np.testing.assert_allclose(agent.q_values(4), agent.online.predict(np.eye(6)[4]), rtol=1e-6)
    assert agent.q_values(np.array([1, 4])).shape == (2, 3)
    Env.observation_space = Box(-1, 1, (5,))
    assert DQNAgent.for_env(Env()).obs_dim == 5
    Env.observation_space = Box(-1, 1, (2, 2))
    with pytest.raises(TypeError, match="flat observations"):
        DQNAgent.for_env(Env())


@pytest.mark.parametrize("kw, error, match", [
    ({"lr": -1.0}, ValueError, "lr must be > 0"), ({"gamma": 1.5}, ValueError, "gamma must be <= 1"),
    ({"batch_size": 0}, ValueError, "batch_size"), ({"buffer_size": 10, "batch_size": 32}, ValueError, "buffer_size"),
    ({"loss": "l1"}, ValueError, "loss"), ({"tau": 0.0}, ValueError, "tau"), ({"epsilon": 2.0}, ValueError, "epsilon"),
    ({"hidden": (64, 0)}, ValueError, "hidden"), ({"learning_rate": 0.1}, TypeError, "learning_rate"),
    ({"reward_scale": 0}, ValueError, "reward_scale"), ({"double": "yes"}, TypeError, "double"),
    ({"cql_alpha": -0.1}, ValueError, "cql_alpha must be >= 0"), ({"cql_alpha": np.inf}, ValueError, "cql_alpha"),
    ({"cql_alpha": "1"}, TypeError, "cql_alpha"),
])
def test_bad_hyperparameters(kw, error, match):
    with pytest.raises(error, match=match):
        DQNAgent(3, 2, **kw)


def test_bad_calls():
    agent = DQNAgent(3, 2, learning_starts=0, batch_size=1)
    with pytest.raises(ValueError, match=r"obs must have shape \(3,\)"):
        agent.act(np.zeros(4))
    with pytest.raises(ValueError, match="obs must be finite"):
        agent.act(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="allows no action"):
        agent.act(np.zeros(3), action_mask=np.zeros(2, bool))
    with pytest.raises(ValueError, match=r"action_mask must have shape \(2,\), got \(3,\)"):
        agent.act(np.zeros(3), action_mask=np.ones(3, bool))
    with pytest.raises(ValueError, match="action must be in"):
        agent.observe(np.zeros(3), 2, 0.0, np.zeros(3), False)
    with pytest.raises(ValueError, match="reward must be finite"):
        agent.observe(np.zeros(3), 1, np.inf, np.zeros(3), False)
    assert len(agent.buffer) == 0 and agent.steps == 0
    with pytest.raises(ValueError, match="k must be <= 2"):
        agent.recommend(np.zeros(3), 3)
    with pytest.raises(RuntimeError, match="holding 0"):
        agent.train_step()


def test_load_refuses_foreign_and_corrupt_files(tmp_path):
    from minidqn._checkpoint import load_arrays, save_arrays
    from minidqn.mlp import MLP
    MLP([2, 2]).save(tmp_path / "net.npz")
    with pytest.raises(ValueError, match="'MLP' checkpoint, expected 'DQNAgent'"):
        DQNAgent.load(tmp_path / "net.npz")
    DQNAgent(3, 2, seed=np.int64(4)).save(tmp_path / "a.npz")  # numpy ints are fine as seeds
    good = load_arrays(tmp_path / "a.npz", "DQNAgent")
    for name, change in [("no-steps", lambda d: d | {"meta": np.array(str(d["meta"]).replace('"steps"', '"x"'))}),
                         ("bad-meta", lambda d: d | {"meta": np.array("{not json")}),
                         ("bad-target", lambda d: d | {"target.params": d["target.params"][:-1]})]:
        save_arrays(tmp_path / f"{name}.npz", "DQNAgent", change(good))
        with pytest.raises(ValueError, match=f"{name}.npz"):
            DQNAgent.load(tmp_path / f"{name}.npz")
    import numpy
    data = dict(numpy.load(tmp_path / "a.npz"))
    data["__version__"] = np.array(99)
    numpy.savez(tmp_path / "future.npz", **data)
    with pytest.raises(ValueError, match="version 99"):
        DQNAgent.load(tmp_path / "future.npz")


def test_load_overrides_apply_to_the_optimizer_and_cannot_change_the_network(tmp_path):
    DQNAgent(3, 2, lr=1e-3).save(tmp_path / "a.npz")
    assert DQNAgent.load(tmp_path / "a.npz", lr=1e-5).optimizer.lr == 1e-5
    with pytest.raises(TypeError, match=r"load\(\): \['activation'\] cannot be overridden"):
        DQNAgent.load(tmp_path / "a.npz", activation="tanh")


def test_an_epsilon_schedule_is_checked_at_every_step_not_only_the_first():
    agent = DQNAgent(2, 2, epsilon=lambda t: 0.5 if t < 3 else 5.0, learning_starts=100)
    for _ in range(3):
        agent.act(np.zeros(2))
        agent.observe(np.zeros(2), 0, 1.0, np.zeros(2), False)
    with pytest.raises(ValueError, match=r"epsilon\(3\) must be <= 1.0, got 5.0"):
        agent.act(np.zeros(2))


def test_tiny_rewards_are_kept_exactly_and_scaled_to_order_one():
    agent = DQNAgent(2, 2, learning_starts=4, batch_size=4, train_freq=1, seed=0)
    for i in range(4):
        agent.observe(np.full(2, float(i)), i % 2, 3e-50, np.full(2, i + 1.0), False)
    assert agent.buffer.rewards[0] == 3e-50  # float32 would have stored 0.0
    assert agent.reward_scale == pytest.approx(1 / 3e-50)


def test_integer_masks_are_taken_as_bool_masks_everywhere_and_other_masks_are_refused():
    """Gymnasium's masks are int8 0/1 (Taxi's info["action_mask"]): they act like bool masks."""
    agent = DQNAgent(3, 4, learning_starts=0, batch_size=2, seed=0)
    int_mask = np.array([0, 1, 0, 1], np.int8)
    assert {agent.act(np.zeros(3), action_mask=int_mask) for _ in range(100)} == {1, 3}
    assert set(agent.act(np.zeros((5, 3)), action_mask=np.tile(int_mask, (5, 1))).tolist()) <= {1, 3}
    assert set(agent.recommend(np.zeros(3), 2, action_mask=int_mask).tolist()) == {1, 3}
    agent.observe(np.zeros(3), 0, 1.0, np.ones(3), False, next_action_mask=[0, 0, 1, 0])
    agent.observe(np.zeros(3), 0, 1.0, np.ones(3), True, next_action_mask=np.zeros(4, np.uint8))
    np.testing.assert_array_equal(agent.buffer.next_action_mask[:2], [[False, False, True, False], [False] * 4])
    assert agent.buffer.next_action_mask.dtype == bool
    for bad, error, match in [(np.array([0, 2, 0, 1]), ValueError, "only 0 and 1.*got 2"),
                              (np.array([0.0, 1.0, 0.0, 1.0]), TypeError, "bool or integer 0/1.*float64"),
                              (np.array([-1, 1, 0, 1]), ValueError, "got -1"),
                              (np.array(["a", "b", "c", "d"]), TypeError, "action_mask"),
                              (np.zeros(4, np.int8), ValueError, "allows no action")]:
        with pytest.raises(error, match=match):
            agent.act(np.zeros(3), action_mask=bad)
    with pytest.raises(TypeError, match="next_action_mask must be a bool or integer"):
        agent.observe(np.zeros(3), 0, 1.0, np.ones(3), False, next_action_mask=np.ones(4))
    assert agent.steps == 2 and len(agent.buffer) == 2


def test_for_env_names_the_space_and_the_wrapper_that_fits_it():
    from minidqn.spaces import Box, Discrete

    class Env:
        def __init__(self, obs, act):
            self.observation_space, self.action_space = obs, act
    agent = DQNAgent.for_env(Env(Box(0.0, 1.0, shape=(5,)), Discrete(3)), seed=0)
    assert (agent.obs_dim, agent.n_actions, agent.one_hot) == (5, 3, False)
    assert DQNAgent.for_env(Env(Discrete(7), Discrete(2))).one_hot
    with pytest.raises(TypeError, match=r"image-like Box\(shape=\(2, 3\).*FlattenObservation"):
        DQNAgent.for_env(Env(Box(0.0, 1.0, shape=(2, 3)), Discrete(3)))
    with pytest.raises(TypeError, match=r"Discrete\(n\) action space, got Box.*DiscretizeAction"):
        DQNAgent.for_env(Env(Box(0.0, 1.0, shape=(5,)), Box(-1.0, 1.0, shape=(1,))))
    with pytest.raises(TypeError, match="DQNAgent needs an env with an observation_space"):
        DQNAgent.for_env(object())


def test_observations_that_overflow_the_network_are_refused_not_answered_with_a_masked_action():
    agent = DQNAgent(3, 4, seed=0)
    huge = np.array([3e38, -3e38, 3e38], np.float32)  # finite, but Q overflows to NaN
    mask = np.array([False, False, True, False])
    for call in (lambda: agent.act(huge, explore=False, action_mask=mask),
                 lambda: agent.recommend(huge, k=1, action_mask=mask), lambda: agent.q_values(huge)):
        with pytest.raises(FloatingPointError, match="overflow for observations as large as 3e"):
            call()
    assert agent.act(np.ones(3), explore=False, action_mask=mask) == 2


def n_step_agent_mid_window(**kw):
    agent = DQNAgent(2, 2, n_steps=3, gamma=0.5, learning_starts=2, batch_size=2, seed=0, **kw)
    for t in range(5):
        agent.observe(np.full(2, float(t)), t % 2, 1.0, np.full(2, t + 1.0), t == 2)
    assert agent.nstep.pending == 2 and agent.buffer.size == 3
    return agent


def test_load_checks_the_n_step_windows_and_refuses_gamma_changes_under_n_step_returns(tmp_path):
    from minidqn._checkpoint import load_arrays, save_arrays
    n_step_agent_mid_window().save(tmp_path / "a.npz", include_buffer=True)
    good = load_arrays(tmp_path / "a.npz", "DQNAgent")
    assert good["nstep.count"].tolist() == [2] and good["nstep.obs"].shape == (1, 3, 2)
    for name, change, match in [
            ("count", {"nstep.count": np.array([3])}, r"count must be .* in \[0, 3\)"),
            ("shape", {"nstep.obs": np.zeros((1, 2, 2))}, r"'nstep.obs' is float64 \(1, 2, 2\).* need \(1, 3, 2\)"),
            ("part", {"nstep.rewards": None}, "without all of them"),
            ("discounts", {"buffer.discounts": np.full(3, 2.0)}, r"discounts must be in \[0, 1\]")]:
        arrays = {k: v for k, v in {**good, **change}.items() if v is not None}
        save_arrays(tmp_path / f"{name}.npz", "DQNAgent", arrays)
        with pytest.raises(ValueError, match=match):
            DQNAgent.load(tmp_path / f"{name}.npz")
    with pytest.raises(ValueError, match="gamma and n_steps cannot be overridden"):
        DQNAgent.load(tmp_path / "a.npz", gamma=0.9)
    DQNAgent.load(tmp_path / "a.npz", gamma=0.5, lr=1e-4)  # the same value is no change


def test_a_checkpoint_from_before_n_steps_loads_as_one_step_and_a_gamma_override_still_wins(tmp_path):
    import json
    from minidqn._checkpoint import load_arrays, save_arrays
    agent = DQNAgent(2, 2, gamma=0.5, learning_starts=10 ** 9, seed=0)
    agent.observe(np.zeros((4, 2)), np.zeros(4, np.int64), np.ones(4), np.ones((4, 2)), np.zeros(4, bool))
    agent.save(tmp_path / "a.npz", include_buffer=True)
    old = load_arrays(tmp_path / "a.npz", "DQNAgent")
    meta = json.loads(str(old["meta"]))
    del meta["config"]["n_steps"], old["buffer.discounts"]
    save_arrays(tmp_path / "old.npz", "DQNAgent", {**old, "meta": np.array(json.dumps(meta))})
    loaded = DQNAgent.load(tmp_path / "old.npz", gamma=0.9)
    assert loaded.config.n_steps == 1 and loaded.nstep is None
    np.testing.assert_array_equal(loaded.buffer.discounts[:4], np.float32(0.9))
    np.testing.assert_array_equal(DQNAgent.load(tmp_path / "a.npz", gamma=0.9).buffer.discounts[:4], np.float32(0.9))


def test_ctrl_c_right_after_adams_step_still_saves_a_checkpoint_that_loads(tmp_path, monkeypatch):
    from minidqn.envs.tabular_shop import TabularShop
    from minidqn.train import train

    agent = DQNAgent.for_env(TabularShop(), learning_starts=64, seed=0)
    step, calls = agent.optimizer.step, []

    def step_then_interrupt(grads):
        step(grads)
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt  # after Adam counted the update, before train_step returns
    monkeypatch.setattr(agent.optimizer, "step", step_then_interrupt)
    h = train(agent, TabularShop(seed=0), 1_000, progress=False)
    assert h.interrupted and agent.updates == agent.optimizer.t == 5
    agent.save(tmp_path / "a.npz")
    assert DQNAgent.load(tmp_path / "a.npz").updates == 5


def test_target_update_alone_means_hard_copies_and_tau_with_it_is_refused():
    hard = DQNAgent(2, 2, target_update=10, seed=0)
    assert (hard.config.tau, hard.config.target_update) == (None, 10)  # not silently Polyak
    soft = DQNAgent(2, 2, seed=0)
    assert (soft.config.tau, soft.config.target_update) == (0.01, None)
    with pytest.raises(ValueError, match=r"tau \(0.05, Polyak averaging\) or target_update \(3, hard copies\)"):
        DQNAgent(2, 2, tau=0.05, target_update=3)
    with pytest.raises(ValueError, match="tau=None .* needs target_update"):
        DQNAgent(2, 2, tau=None)


def test_a_file_that_stored_tau_beside_an_unused_target_update_still_averages(tmp_path):
    from minidqn.dqn_config import config_from_json, config_to_json, DQNConfig
    stored = {**config_to_json(DQNConfig(tau=0.05)), "target_update": 500}  # as files before the change
    config = DQNConfig(**config_from_json(stored))
    assert (config.tau, config.target_update) == (0.05, None)


def test_learning_rate_falls_linearly_over_a_train_run_and_only_there():
    from minidqn.envs.tabular_shop import TabularShop
    from minidqn.train import train

    agent = DQNAgent.for_env(TabularShop(), lr=1e-3, lr_end_factor=0.1, learning_starts=100, seed=0)
    seen = []
    step = agent.optimizer.step
    agent.optimizer.step = lambda grads: (seen.append((agent.steps, agent.optimizer.lr)), step(grads))
    train(agent, TabularShop(seed=0), 2_000, progress=False)
    steps, lrs = np.array(seen).T
    # lr(t) = 1e-3 + (1e-4 - 1e-3) * t / 2000 at env step t of the run; the last update (every 4th
    # step from step 103 on) is at t = 1999
    np.testing.assert_allclose(lrs, 1e-3 - 9e-4 * steps / 2_000, rtol=1e-12)
    assert steps[-1] == 1_999 and lrs[-1] == pytest.approx(1.0045e-4, rel=1e-12)
    assert agent.optimizer.lr == 1e-3 and agent._lr_run is None  # after the run: lr, as a saved agent has
    # a second run starts again from lr, counted from its own first step
    seen.clear()
    train(agent, TabularShop(seed=1), 1_000, progress=False)
    steps, lrs = np.array(seen).T
    np.testing.assert_allclose(lrs, 1e-3 - 9e-4 * (steps - 2_000) / 1_000, rtol=1e-12)
    # a run refused before its first step leaves no schedule behind; nor does one that failed
    with pytest.raises(TypeError, match="progress"):
        train(agent, TabularShop(seed=2), 1_000, progress="yes")
    assert agent._lr_run is None and agent.optimizer.lr == 1e-3

    def diverge(grads):
        raise FloatingPointError("diverged")
    agent.optimizer.step = diverge
    with pytest.raises(FloatingPointError):
        train(agent, TabularShop(seed=3), 1_000, progress=False)
    assert agent._lr_run is None and agent.optimizer.lr == 1e-3
    # outside train() nothing decays: a fresh agent fed by hand keeps lr
    hand = DQNAgent(2, 2, lr=1e-3, learning_starts=8, batch_size=8, seed=0)
    for i in range(40):
        hand.observe(np.ones(2), i % 2, 1.0, np.ones(2), False)
    assert hand.updates > 0 and hand.optimizer.lr == 1e-3
    # lr_end_factor=1.0: constant inside a run too
    flat = DQNAgent.for_env(TabularShop(), lr=1e-3, lr_end_factor=1.0, learning_starts=100, seed=0)
    train(flat, TabularShop(seed=0), 500, progress=False)
    assert flat.updates > 0 and flat.optimizer.lr == 1e-3


@pytest.mark.parametrize("value, error", [(0.0, ValueError), (1.5, ValueError), (-0.1, ValueError),
                                          (float("nan"), ValueError), ("0.1", TypeError)])
def test_lr_end_factor_is_checked(value, error):
    with pytest.raises(error, match="lr_end_factor"):
        DQNAgent(2, 2, lr_end_factor=value)


def test_a_file_from_before_lr_end_factor_keeps_a_constant_learning_rate():
    from minidqn.dqn_config import config_from_json, config_to_json, DQNConfig
    stored = config_to_json(DQNConfig())
    del stored["lr_end_factor"]  # as files before the field existed
    assert DQNConfig(**config_from_json(stored)).lr_end_factor == 1.0


# ---------------------------------------------------------------------------------- conservative Q-learning
def test_cql_alpha_zero_never_runs_the_penalty(monkeypatch):
    import minidqn.dqn
    monkeypatch.setattr(minidqn.dqn, "cql_penalty", lambda *a: pytest.fail("cql_penalty ran with cql_alpha=0"))
    agent = filled_agent(masks=True)
    assert agent.buffer.action_mask is None  # and no masks of s are kept for it
    agent.train_step()


def test_cql_pushes_down_actions_the_log_never_tried():
    # every logged transition took action 0 (reward 1, terminal): Q(s, 0) -> 1, and CQL pulls Q(s, 1) and
    # Q(s, 2) below it, where plain DQN leaves them wherever initialisation put them
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(256, 3))
    gaps = {}
    for alpha in (0.0, 1.0):
        agent = DQNAgent(3, 3, hidden=(16,), batch_size=32, learning_starts=10 ** 9, lr=1e-2, seed=0,
                         reward_scale=1.0, cql_alpha=alpha)
        agent.observe(obs, np.zeros(256, np.int64), np.ones(256), obs, np.ones(256, bool))
        for _ in range(300):
            agent.train_step()
        q = agent.q_values(obs)
        gaps[alpha] = float(np.mean(q[:, 0] - q[:, 1:].max(axis=1)))
        assert abs(np.mean(q[:, 0]) - 1.0) < 0.05  # the logged action's value is learned either way
    # seed 0: plain -1.13 (an action never tried looks best: greedy would pick it), CQL +6.29
    assert gaps[0.0] < 0 < 3.0 < gaps[1.0], gaps


def test_cql_alpha_is_saved_and_old_files_load_with_cql_off(tmp_path):
    import json
    from minidqn._checkpoint import load_arrays, save_arrays
    agent = filled_agent(n=40, masks=True, cql_alpha=0.3)
    assert agent.buffer.action_mask is not None and not agent.buffer.action_mask[:40].all()
    agent.save(tmp_path / "a.npz", include_buffer=True)
    loaded = DQNAgent.load(tmp_path / "a.npz")
    assert loaded.config.cql_alpha == 0.3
    np.testing.assert_array_equal(loaded.buffer.action_mask[:40], agent.buffer.action_mask[:40])
    assert DQNAgent.load(tmp_path / "a.npz", cql_alpha=2.0).config.cql_alpha == 2.0  # masks kept either way
    with pytest.raises(ValueError, match="change whether the replay keeps the masks of s"):
        DQNAgent.load(tmp_path / "a.npz", cql_alpha=0.0)
    filled_agent(n=40).save(tmp_path / "plain.npz")  # no buffer: any cql_alpha fits
    assert DQNAgent.load(tmp_path / "plain.npz", cql_alpha=1.0).config.cql_alpha == 1.0
    old = load_arrays(tmp_path / "plain.npz", "DQNAgent")  # as written before cql_alpha existed
    meta = json.loads(str(old["meta"]))
    del meta["config"]["cql_alpha"]
    save_arrays(tmp_path / "old.npz", "DQNAgent", {**old, "meta": np.array(json.dumps(meta))})
    assert DQNAgent.load(tmp_path / "old.npz").config.cql_alpha == 0.0


def test_control_task_settings_change_four_fields_and_come_fresh_each_call():
    from minidqn import DQNConfig, control_task_settings

    settings = control_task_settings()
    config, default = DQNConfig(**settings), DQNConfig()
    changed = {f: getattr(config, f) for f in settings if getattr(config, f) != getattr(default, f)}
    assert changed == {"train_freq": 2, "n_steps": 3, "hidden": (128, 128), "gamma": 0.99}
    settings["gamma"] = 0.5  # a caller's edit stays in its own copy
    assert control_task_settings()["gamma"] == 0.99

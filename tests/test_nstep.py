"""n-step returns: what the replay holds, worked out by hand (gamma = 0.5 so every number is exact)."""
import numpy as np
import pytest

from minidqn.dqn import DQNAgent
from minidqn.train import train


def agent_of(n_steps, n_actions=2, **kw):
    """An agent that only stores (no update ever runs); observations are 1-D: ``[state id]``."""
    return DQNAgent(1, n_actions, n_steps=n_steps, gamma=0.5, learning_starts=10 ** 9, dtype=np.float64,
                    seed=0, **kw)


def stored(agent):
    """What the replay holds, in the order stored: state ids, actions, R, bootstrap state ids,
    terminated, discount."""
    b, n = agent.buffer, agent.buffer.size
    return (b.obs[:n, 0].tolist(), b.actions[:n].tolist(), b.rewards[:n].tolist(), b.next_obs[:n, 0].tolist(),
            b.terminated[:n].tolist(), b.discounts[:n].tolist())


def run_episode(agent, rewards, end="terminated", first=0):
    """States first, first+1, ...; action t % 2; the last step ends the episode as ``end`` says."""
    for t, r in enumerate(rewards):
        last = t == len(rewards) - 1
        agent.observe(np.array([first + t]), t % 2, r, np.array([first + t + 1]), last and end == "terminated",
                      truncated=last and end == "truncated")


def test_a_window_fills_before_anything_is_stored():
    agent = agent_of(3)
    run_episode(agent, [1.0, 2.0], end=None)
    assert agent.buffer.size == 0 and agent.nstep.pending == 2 and agent.steps == 2
    run_episode(agent, [4.0], end=None, first=2)
    # R = 1 + 0.5*2 + 0.25*4, bootstrapping from s3 with 0.5^3
    assert stored(agent) == ([0.0], [0], [3.0], [3.0], [False], [0.125])
    assert agent.nstep.pending == 2


def test_termination_inside_the_window_sums_to_the_end_without_bootstrap():
    agent = agent_of(3)
    run_episode(agent, [1.0, 2.0, 3.0, 4.0, 5.0], end="terminated")
    assert stored(agent) == ([0.0, 1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1, 0],
                             [1 + 1 + 0.75, 2 + 1.5 + 1, 3 + 2 + 1.25, 4 + 2.5, 5.0],
                             [3.0, 4.0, 5.0, 5.0, 5.0],
                             [False, False, True, True, True],
                             [0.125, 0.125, 0.125, 0.25, 0.5])
    assert agent.nstep.pending == 0


def test_truncation_cuts_the_window_and_bootstraps_from_the_last_state_with_gamma_to_the_steps_it_has():
    agent = agent_of(3)
    run_episode(agent, [1.0, 2.0, 3.0, 4.0, 5.0], end="truncated")
    obs, act, R, next_obs, term, disc = stored(agent)
    assert R == [2.75, 4.5, 6.25, 6.5, 5.0] and next_obs == [3.0, 4.0, 5.0, 5.0, 5.0]
    assert term == [False] * 5 and disc == [0.125, 0.125, 0.125, 0.25, 0.5]
    # the next episode starts a fresh window: nothing of the first leaks into it
    run_episode(agent, [8.0, 8.0, 8.0], end=None, first=10)
    assert stored(agent)[2][5:] == [8 + 4 + 2] and stored(agent)[0][5:] == [10.0]


def test_an_episode_shorter_than_n():
    agent = agent_of(5)
    run_episode(agent, [1.0, 2.0], end="terminated")
    assert stored(agent) == ([0.0, 1.0], [0, 1], [2.0, 2.0], [2.0, 2.0], [True, True], [0.25, 0.5])
    run_episode(agent, [1.0, 2.0], end="truncated", first=5)
    assert stored(agent)[2:] == ([2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 7.0, 7.0], [True, True, False, False],
                                 [0.25, 0.5, 0.25, 0.5])


def test_one_step_stores_each_transition_as_it_comes_with_gamma():
    agent = agent_of(1)
    assert agent.nstep is None  # no window at all: today's path
    run_episode(agent, [1.0, 2.0, 3.0], end="truncated")
    assert stored(agent) == ([0.0, 1.0, 2.0], [0, 1, 0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [False] * 3, [0.5] * 3)


def test_a_vector_batch_keeps_one_window_per_copy_and_copies_end_on_different_steps():
    agent = agent_of(3)
    # copy 0: states 0, 1 and terminates at step 2; copy 1: states 100.. and is truncated at step 4
    # copy 0 restarts at 10 after its end; rewards: copy 0 gets 1, 2, | 4, 8; copy 1 gets 1, 1, 1, 1
    steps = [([0, 100], [1.0, 1.0], [1, 101], [False, False], [False, False]),
             ([1, 101], [2.0, 1.0], [2, 102], [True, False], [False, False]),
             ([10, 102], [4.0, 1.0], [11, 103], [False, False], [False, False]),
             ([11, 103], [8.0, 1.0], [12, 104], [False, False], [False, True])]
    for obs, r, next_obs, term, trunc in steps:
        agent.observe(np.array(obs, float)[:, None], np.array([0, 1]), np.array(r), np.array(next_obs, float)[:, None],
                      np.array(term), truncated=np.array(trunc))
    obs, act, R, next_obs, term, disc = stored(agent)
    # step 2: copy 0 ends (both its transitions leave); step 3: copy 1's window is full (100 leaves);
    # step 4: copy 1 is cut (101, 102, 103 leave; 101 was full too); copy 0 keeps 10 and 11 pending
    assert obs == [0.0, 1.0, 100.0, 101.0, 102.0, 103.0]
    assert act == [0, 0, 1, 1, 1, 1]
    assert R == [1 + 1.0, 2.0, 1.75, 1.75, 1.5, 1.0]
    assert next_obs == [2.0, 2.0, 103.0, 104.0, 104.0, 104.0]
    assert term == [True, True, False, False, False, False]
    assert disc == [0.25, 0.5, 0.125, 0.125, 0.25, 0.5]
    assert agent.nstep.count.tolist() == [2, 0]


def test_the_next_action_mask_travels_with_the_bootstrap_state():
    agent = agent_of(2, n_actions=3)
    masks = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    for t, mask in enumerate(masks):
        agent.observe(np.array([t]), 0, 1.0, np.array([t + 1]), False, next_action_mask=np.array(mask, np.int8),
                      truncated=t == 2)
    n = agent.buffer.size
    assert agent.buffer.next_obs[:n, 0].tolist() == [2.0, 3.0, 3.0]
    np.testing.assert_array_equal(agent.buffer.next_action_mask[:n], [masks[1], masks[2], masks[2]])


def test_a_batch_of_another_size_mid_window_is_refused_and_nothing_changes():
    agent = agent_of(3)
    agent.observe(np.zeros((2, 1)), np.array([0, 1]), np.ones(2), np.ones((2, 1)), np.array([False, False]))
    before = agent.nstep.state_dict()
    with pytest.raises(ValueError, match="batch of 3 transitions while 2 env copies have 2 transitions pending"):
        agent.observe(np.zeros((3, 1)), np.zeros(3, np.int64), np.ones(3), np.ones((3, 1)), np.zeros(3, bool))
    with pytest.raises(ValueError, match="action must be in"):
        agent.observe(np.zeros((2, 1)), np.array([0, 2]), np.ones(2), np.ones((2, 1)), np.array([False, False]))
    with pytest.raises(TypeError, match="truncated must be a bool"):
        agent.observe(np.zeros((2, 1)), np.array([0, 1]), np.ones(2), np.ones((2, 1)), np.array([False, False]),
                      truncated=np.array([0, 1]))
    for key, value in agent.nstep.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    assert agent.steps == 2 and agent.buffer.size == 0
    # once every window is empty, any batch size is fine
    agent.observe(np.zeros((2, 1)), np.array([0, 1]), np.ones(2), np.ones((2, 1)), np.array([True, True]))
    agent.observe(np.zeros((3, 1)), np.zeros(3, np.int64), np.ones(3), np.ones((3, 1)), np.zeros(3, bool))
    assert agent.nstep.count.tolist() == [1, 1, 1]


def test_a_return_that_overflows_is_refused():
    agent = agent_of(2)
    agent.observe(np.zeros(1), 0, 1.5e308, np.ones(1), False)
    with pytest.raises(ValueError, match="2-step return overflows"):
        agent.observe(np.ones(1), 0, 1.5e308, np.ones(1), True)
    assert agent.nstep.pending == 1 and agent.buffer.size == 0


@pytest.mark.parametrize("value, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError),
                                          ("3", TypeError), (None, TypeError)])
def test_bad_n_steps_are_refused_naming_the_argument(value, error):
    with pytest.raises(error, match="n_steps"):
        DQNAgent(1, 2, n_steps=value)


class EpisodesEnv:
    """Observation ``[t]`` (steps since the start of the run), reward ``t + 1``; episodes of 3
    steps end terminated, then 2 end truncated, alternately."""

    def __init__(self):
        self.t, self.episode = 0, -1

    def reset(self, seed=None, options=None):
        self.episode, self.k = self.episode + 1, 0
        return np.array([self.t], float), {}

    def step(self, action):
        self.t, self.k = self.t + 1, self.k + 1
        terminated, truncated = self.episode % 2 == 0 and self.k == 3, self.episode % 2 == 1 and self.k == 2
        return np.array([self.t], float), float(self.t), terminated, truncated, {}


def test_train_tells_the_agent_where_a_time_limit_cut_the_episode():
    agent = agent_of(3)
    train(agent, EpisodesEnv(), 5, progress=False)
    obs, act, R, next_obs, term, disc = stored(agent)
    # episode 1: rewards 1, 2, 3 then terminated; episode 2 (states 3, 4): rewards 4, 5, then truncated
    assert obs == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert R == [1 + 1 + 0.75, 2 + 1.5, 3.0, 4 + 2.5, 5.0]
    assert next_obs == [3.0, 3.0, 3.0, 5.0, 5.0]
    assert term == [True, True, True, False, False] and disc == [0.125, 0.25, 0.5, 0.25, 0.5]


def test_the_end_of_a_run_cuts_the_running_episode_so_a_second_run_does_not_glue_onto_it():
    agent, env = agent_of(3), EpisodesEnv()
    train(agent, env, 4, progress=False)  # episode 1 (3 steps, terminated), then one step of episode 2
    assert agent.nstep.pending == 0
    assert stored(agent)[0][3:] == [3.0] and stored(agent)[2:][:2] == ([2.75, 3.5, 3.0, 4.0], [3.0, 3.0, 3.0, 4.0])
    assert stored(agent)[4][3:] == [False] and stored(agent)[5][3:] == [0.5]
    train(agent, env, 2, progress=False)  # a new run resets the env: its window starts empty
    assert stored(agent)[0][4:] == [4.0, 5.0] and stored(agent)[2][4:] == [5.0 + 3.0, 6.0]


def test_a_vector_shop_run_keeps_one_window_per_copy_and_loses_no_transition():
    from minidqn.envs import VectorShopEnv
    env = VectorShopEnv(4, seed=0)
    agent = DQNAgent.for_env(env, n_steps=3, gamma=0.5, learning_starts=64, batch_size=16, seed=0)
    train(agent, env, 400, progress=False)
    assert agent.nstep.count.shape == (4,) and agent.updates > 0
    # every observed transition is stored: the run's end cut the episodes still running
    assert agent.buffer.size == agent.steps == 400 and agent.nstep.pending == 0
    discounts = agent.buffer.discounts[:agent.buffer.size]
    np.testing.assert_allclose(np.unique(discounts), np.float32([0.125, 0.25, 0.5]))
    assert np.mean(discounts == np.float32(0.125)) > 0.5


def test_ctrl_c_mid_episode_drops_the_pending_windows_instead_of_gluing_them_onto_the_next_run():
    import io

    class TenStepEnv:
        """Box(2) observations (t, 1); episodes of 10 steps; Ctrl-C at the 5th step of the first run."""

        def __init__(self, interrupt_at=None):
            self.interrupt_at, self.calls = interrupt_at, 0

        def reset(self, seed=None):
            self.t = 0
            return np.array([0.0, 1.0]), {}

        def step(self, action):
            self.calls += 1
            if self.calls == self.interrupt_at:
                raise KeyboardInterrupt
            self.t += 1
            return np.array([float(self.t), 1.0]), 1.0, self.t == 10, False, {}

    agent = DQNAgent(2, 2, n_steps=3, learning_starts=10 ** 9, seed=0)
    stream = io.StringIO()
    h = train(agent, TenStepEnv(interrupt_at=5), 100, progress=stream)
    assert h.interrupted and h.total_steps == 4
    assert len(agent.buffer) == 2 and agent.nstep.pending == 0  # steps 1-2 stored; 3-4 dropped
    assert "2 pending n-step transitions dropped" in stream.getvalue()
    train(agent, TenStepEnv(), 3, progress=False)  # a new run starts a new episode, as it should
    np.testing.assert_array_equal(agent.buffer.obs[2], [0.0, 1.0])
    assert agent.end_episodes() == 0 and DQNAgent(2, 2).end_episodes() == 0


def test_a_dueling_agents_windows_carry_the_mask_of_each_first_state_into_the_replay(tmp_path):
    agent = agent_of(3, n_actions=3, dueling=True)
    masks = [np.array(m, bool) for m in ([1, 0, 0], [0, 1, 0], [1, 0, 1], [1, 1, 0], [0, 0, 1])]
    actions = [0, 1, 2, 1, 2]
    for t in range(4):
        agent.observe(np.array([t]), actions[t], 1.0, np.array([t + 1]), False, action_mask=masks[t])
    # two windows have left (s0 and s1); s2 and s3 wait with their masks, also across a save and load
    np.testing.assert_array_equal(agent.buffer.action_mask[:2], masks[:2])
    agent.save(tmp_path / "a.npz", include_buffer=True)
    agent = type(agent).load(tmp_path / "a.npz")
    agent.observe(np.array([4]), actions[4], 1.0, np.array([5]), True, action_mask=masks[4])
    assert stored(agent)[0] == [0.0, 1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(agent.buffer.action_mask[:5], masks)
    plain = agent_of(3, n_actions=3)  # a plain agent's windows keep no masks, and its replay none
    plain.observe(np.array([0]), 0, 1.0, np.array([1]), True, action_mask=masks[0])
    assert plain.nstep.masks is None and plain.buffer.action_mask is None

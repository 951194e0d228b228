"""Gymnasium in both directions: its environments as they come, driven by minidqn's loop, and
minidqn's shops as real ``gymnasium.Env`` objects that pass Gymnasium's own checker.

Brief runs with small budgets: they prove the pieces connect and that the loop records what
happened (episodes, truncations, final observations, masks obeyed), not that anything learns.
Skipped where Gymnasium is not installed (it is the optional extra ``minidqn[gym]``).
"""
import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium", minversion="1.1")  # 1.1: same-step autoreset

from minidqn.baselines import RandomAgent  # noqa: E402
from minidqn.dqn import DQNAgent  # noqa: E402
from minidqn.envs import PricingEnv, ShopEnv, TabularShop, to_gymnasium  # noqa: E402
from minidqn.tabular import TabularQAgent  # noqa: E402
from minidqn.train import DEFAULT_MAX_EPISODE_STEPS, evaluate, train  # noqa: E402

SAME_STEP = gym.vector.AutoresetMode.SAME_STEP


def env_id(name, versions):
    """The newest of ``versions`` this Gymnasium registers (Taxi is v4 from 1.4, v3 before)."""
    for v in versions:
        if f"{name}-{v}" in gym.registry:
            return f"{name}-{v}"
    pytest.skip(f"this Gymnasium has no {name} among {versions}")


TAXI = env_id("Taxi", ("v4", "v3"))
CLIFF = env_id("CliffWalking", ("v1", "v0"))


class MaskAudit(gym.Wrapper):
    """Records, for every step, whether the action was one the last ``info["action_mask"]`` allowed."""

    def __init__(self, env):
        super().__init__(env)
        self.allowed, self.mask = [], None

    def reset(self, **kw):
        obs, info = self.env.reset(**kw)
        self.mask = info["action_mask"]
        return obs, info

    def step(self, action):
        self.allowed.append(bool(self.mask[int(action)]))
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.mask = info["action_mask"]
        return obs, reward, terminated, truncated, info


def check_history(h, total_steps):
    """Every recorded episode is consistent: lengths add up, truncation only at the time limit."""
    assert h.total_steps >= total_steps and len(h.episode_lengths) == len(h.episode_returns)
    assert sum(h.episode_lengths) <= h.total_steps
    assert np.all(np.diff(h.episode_ends) >= 0) and all(n >= 1 for n in h.episode_lengths)


# --- Gymnasium's environments, as they come -----------------------------------------------------

def test_taxi_int8_action_masks_are_obeyed_by_every_agent():
    for make_agent in (lambda env: RandomAgent.for_env(env, seed=0),
                       lambda env: TabularQAgent.for_env(env, alpha=0.5, gamma=0.99, epsilon=0.3, seed=0),
                       lambda env: DQNAgent.for_env(env, seed=0, learning_starts=100, batch_size=16,
                                                    hidden=(16,))):
        env = MaskAudit(gym.make(TAXI))
        assert env.reset(seed=0)[1]["action_mask"].dtype == np.int8  # Gymnasium's convention
        agent = make_agent(env)
        h = train(agent, env, total_steps=600, seed=0, progress=False)
        check_history(h, 600)
        assert len(env.allowed) == 600 and all(env.allowed), type(agent).__name__
        m = evaluate(agent, env, episodes=2, seed=0)  # capped at the spec's 200 steps
        assert m["mean_length"] <= 200 and all(env.allowed)


def test_frozen_lake_q_learning_records_every_episode():
    env = gym.make("FrozenLake-v1")
    agent = TabularQAgent.for_env(env, alpha=0.5, gamma=0.95, epsilon=0.5, seed=0)
    h = train(agent, env, total_steps=3_000, seed=0, progress=False)
    check_history(h, 3_000)
    assert len(h.episode_lengths) > 50 and set(h.episode_returns) <= {0.0, 1.0}
    assert agent.Q.shape == (16, 4) and agent.steps == 3_000
    m = evaluate(agent, gym.make("FrozenLake-v1"), episodes=5, seed=0)
    assert m["episodes"] == 5 and m["mean_length"] <= 100  # FrozenLake's time limit


def test_cliff_walking_has_no_time_limit_and_evaluate_still_returns():
    env = gym.make(CLIFF)
    assert env.spec.max_episode_steps is None
    agent = TabularQAgent.for_env(env, alpha=0.5, gamma=0.99, epsilon=0.2, seed=0)
    check_history(train(agent, env, total_steps=2_000, seed=0, progress=False), 2_000)

    class Left:  # from the start corner, "left" stays put forever: the goal is never reached
        def act(self, obs, explore=True):
            return 3

        def observe(self, *args):
            return None
    m = evaluate(Left(), env, episodes=2, seed=0)
    assert m["mean_length"] == DEFAULT_MAX_EPISODE_STEPS and m["episodes_capped"] == 2
    assert m["truncated_rate"] == 1.0 and m["mean_return"] == -DEFAULT_MAX_EPISODE_STEPS
    m = evaluate(Left(), env, episodes=3, seed=0, max_episode_steps=40)
    assert m["mean_length"] == 40 and m["episodes_truncated"] == 3


def test_cartpole_dqn_runs_and_the_time_limit_caps_evaluation():
    env = gym.make("CartPole-v1")
    agent = DQNAgent.for_env(env, seed=0, learning_starts=200, batch_size=32, hidden=(32,), train_freq=1)
    h = train(agent, env, total_steps=1_500, seed=0, progress=False)
    check_history(h, 1_500)
    assert len(h.losses) > 100 and all(np.isfinite(h.losses))
    assert not any(h.episode_truncated)  # nothing lasts 500 steps this early: all terminated
    # every stored terminal transition ends in a failed pole or cart, never a reset observation
    term = agent.buffer.terminated[:len(agent.buffer)]
    nxt = agent.buffer.next_obs[:len(agent.buffer)][term]
    assert term.sum() == len(h.episode_lengths)
    assert np.all((np.abs(nxt[:, 2]) > 0.2095) | (np.abs(nxt[:, 0]) > 2.4))
    m = evaluate(agent, gym.make("CartPole-v1"), episodes=3, seed=1)
    assert 1 <= m["mean_length"] <= 500 == gym.make("CartPole-v1").spec.max_episode_steps


def test_acrobot_dqn_runs():
    env = gym.make("Acrobot-v1")
    agent = DQNAgent.for_env(env, seed=0, learning_starts=200, batch_size=32, hidden=(32,), train_freq=1)
    assert (agent.obs_dim, agent.n_actions) == (6, 3)
    h = train(agent, env, total_steps=1_200, seed=0, progress=False)
    check_history(h, 1_200)
    assert h.episode_lengths and all(n == 500 for n, t in zip(h.episode_lengths, h.episode_truncated) if t)
    assert len(h.losses) > 100 and all(np.isfinite(h.losses))


# --- Gymnasium's vector envs ---------------------------------------------------------------------

class DoneCounter(gym.Wrapper):
    """Counts the episodes that end and the steps taken."""

    def __init__(self, env):
        super().__init__(env)
        self.ends = self.steps = 0

    def step(self, action):
        out = self.env.step(action)
        self.steps += 1
        self.ends += bool(out[2] or out[3])
        return out


def test_same_step_sync_vector_cartpole_stores_final_observations_and_records_every_episode():
    copies = [DoneCounter(gym.make("CartPole-v1")) for _ in range(4)]
    env = gym.vector.SyncVectorEnv([lambda e=e: e for e in copies], autoreset_mode=SAME_STEP)
    agent = DQNAgent.for_env(env, seed=0, learning_starts=200, batch_size=32, hidden=(32,), train_freq=1)
    h = train(agent, env, total_steps=2_000, seed=0, progress=False)
    assert h.total_steps == 2_000 and sum(c.steps for c in copies) == 2_000
    assert len(h.episode_lengths) == sum(c.ends for c in copies) > 40
    running = sum(c.steps for c in copies) - sum(h.episode_lengths)
    assert 0 <= running < 4 * 500  # the episodes still running at the end are not recorded
    term = agent.buffer.terminated[:len(agent.buffer)]
    nxt = agent.buffer.next_obs[:len(agent.buffer)][term]
    assert term.sum() == len(h.episode_lengths)  # CartPole ends only by failing, this early
    # final_obs, not a reset: past CartPole's limits, 12 degrees (0.2094 rad; one pole ends at
    # 0.20949) or 2.4 from the centre
    assert np.all((np.abs(nxt[:, 2]) > 12 * 2 * np.pi / 360) | (np.abs(nxt[:, 0]) > 2.4))


def test_make_vec_taxi_masks_come_from_vector_infos_and_final_info():
    env = gym.make_vec(TAXI, num_envs=3, vectorization_mode="sync", wrappers=[MaskAudit],
                       vector_kwargs={"autoreset_mode": SAME_STEP})
    agent = TabularQAgent.for_env(env, alpha=0.5, gamma=0.99, epsilon=0.3, seed=0)  # one call per copy
    h = train(agent, env, total_steps=1_200, seed=0, progress=False)
    check_history(h, 1_200)
    audits = [e for e in env.envs]
    assert sum(len(a.allowed) for a in audits) == 1_200 and all(all(a.allowed) for a in audits)
    dqn = DQNAgent.for_env(env, seed=0, learning_starts=100, batch_size=16, hidden=(16,))  # batched
    train(dqn, env, total_steps=600, seed=1, progress=False)
    assert all(all(a.allowed) for a in audits)
    stored = dqn.buffer.next_action_mask[:len(dqn.buffer)]
    assert stored.dtype == bool and stored.any(axis=1).all()


@pytest.mark.parametrize("mode, match", [
    (gym.vector.AutoresetMode.NEXT_STEP, "next-step autoreset.*cross two episodes"),
    (gym.vector.AutoresetMode.DISABLED, "autoreset disabled.*reset_mask")])
def test_next_step_and_disabled_vector_envs_are_refused_with_their_reasons(mode, match):
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync",
                       vector_kwargs={"autoreset_mode": mode})
    with pytest.raises(TypeError, match=match):
        train(RandomAgent.for_env(env), env, total_steps=10, progress=False)


# --- spaces that do not fit, and the wrappers that make them fit ----------------------------------

class SpacesOnly:
    def __init__(self, observation_space, action_space):
        self.observation_space, self.action_space = observation_space, action_space


S = gym.spaces


@pytest.mark.parametrize("obs_space, match", [
    (S.Tuple((S.Discrete(32), S.Discrete(11), S.Discrete(2))), r"Tuple\(.*FlattenObservation"),
    (S.Dict({"a": S.Box(0, 1, (2,)), "b": S.Discrete(3)}), r"Dict\(.*FlattenObservation"),
    (S.Box(0, 255, (8, 8, 3), np.uint8), r"image-like Box\(.*FlattenObservation.*GrayscaleObservation"),
    (S.Discrete(5, start=10), r"numbered from 0, got Discrete\(5, start=10\).*TransformObservation\(env, lambda s: s - 10"),
    (S.MultiDiscrete([3, 4]), r"MultiDiscrete\(.*FlattenObservation")])
def test_dqn_for_env_names_the_observation_space_and_its_wrapper(obs_space, match):
    with pytest.raises(TypeError, match=match):
        DQNAgent.for_env(SpacesOnly(obs_space, S.Discrete(2)))


@pytest.mark.parametrize("act_space, match", [
    (S.Discrete(3, start=-1), r"numbered from 0, got Discrete\(3, start=-1\).*TransformAction\(env, lambda a: a \+ -1"),
    (S.Box(-2.0, 2.0, (1,)), r"Discrete\(n\) action space, got Box\(.*DiscretizeAction"),
    (S.MultiDiscrete([2, 2]), r"MultiDiscrete\(.*TransformAction")])
def test_every_agent_names_the_action_space_and_its_wrapper(act_space, match):
    for make in (DQNAgent.for_env, TabularQAgent.for_env, RandomAgent.for_env):
        with pytest.raises(TypeError, match=match):
            make(SpacesOnly(S.Discrete(4), act_space))


def test_tabular_for_env_refuses_non_discrete_observations_naming_a_way_out():
    with pytest.raises(TypeError, match=r"TabularQAgent needs a Discrete\(n\) observation space.*DiscretizeObservation"):
        TabularQAgent.for_env(gym.make("CartPole-v1"))
    with pytest.raises(TypeError, match=r"Tuple\(.*FlattenObservation"):
        TabularQAgent.for_env(gym.make("Blackjack-v1"))


def test_the_named_wrappers_do_make_the_spaces_fit():
    blackjack = gym.wrappers.FlattenObservation(gym.make("Blackjack-v1"))
    agent = DQNAgent.for_env(blackjack, seed=0, learning_starts=50, batch_size=8, hidden=(8,))
    assert agent.obs_dim == 32 + 11 + 2
    check_history(train(agent, blackjack, total_steps=200, seed=0, progress=False), 200)

    class Shifted(gym.Env):  # states 10..14, walking right; the episode ends at 14
        observation_space, action_space = S.Discrete(5, start=10), S.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.s = 10
            return self.s, {}

        def step(self, action):
            self.s = min(self.s + int(action), 14)
            return self.s, float(self.s == 14), self.s == 14, False, {}
    with pytest.raises(TypeError, match="start=10"):
        TabularQAgent.for_env(Shifted())
    env = gym.wrappers.TransformObservation(Shifted(), lambda s: s - 10, S.Discrete(5))
    agent = TabularQAgent.for_env(env, alpha=0.5, epsilon=0.5, seed=0)
    h = train(agent, env, total_steps=100, seed=0, progress=False)
    assert agent.Q.shape == (5, 2) and set(h.episode_returns) == {1.0} and agent.visits[:4].sum() > 0


# --- minidqn's shops as Gymnasium envs ----------------------------------------------------------

@pytest.mark.parametrize("make", [ShopEnv, TabularShop, PricingEnv, lambda: PricingEnv(obs_mode="features")],
                         ids=["shop", "tabular_shop", "pricing_index", "pricing_features"])
def test_gymnasiums_check_env_passes_through_to_gymnasium(make):
    from gymnasium.utils.env_checker import check_env
    env = to_gymnasium(make())
    assert isinstance(env, gym.Env) and isinstance(env.action_space, S.Discrete)
    assert isinstance(env.observation_space, (S.Discrete, S.Box))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []  # not even a warning
    env.close()


def test_to_gymnasium_keeps_spaces_dtypes_bounds_and_trajectories():
    shop = ShopEnv(seed=0)
    env = to_gymnasium(ShopEnv(seed=0))
    assert env.observation_space.dtype == np.float32 and env.observation_space.shape == (47,)
    np.testing.assert_array_equal(env.observation_space.high, shop.observation_space.high)
    assert env.action_space == S.Discrete(100) and env.env.n_items == 100
    a, _ = env.reset(seed=5)
    b, _ = shop.reset(seed=5)
    np.testing.assert_array_equal(a, b)
    for action in (3, np.int64(7), np.array(9)):
        out_a, out_b = env.step(action), shop.step(int(action))
        np.testing.assert_array_equal(out_a[0], out_b[0])
        assert out_a[1:4] == out_b[1:4]
    with pytest.raises(TypeError, match="single env"):
        to_gymnasium(ShopEnv.vector(2))


def test_the_shop_through_to_gymnasium_trains_in_a_same_step_vector_env():
    env = gym.vector.SyncVectorEnv([lambda i=i: to_gymnasium(ShopEnv(seed=i)) for i in range(3)],
                                   autoreset_mode=SAME_STEP)
    agent = DQNAgent.for_env(env, seed=0, learning_starts=200, batch_size=32, hidden=(32,), train_freq=1)
    h = train(agent, env, total_steps=900, seed=0, progress=False)
    check_history(h, 900)
    assert len(h.episode_lengths) > 10 and len(h.losses) > 50
    stored = agent.buffer.next_action_mask[:len(agent.buffer)]
    assert not stored.all()  # bought products were masked in the stored next states

"""The loop: what train passes to agents and envs, what it records, evaluate's metrics, progress."""
import io

import numpy as np
import pytest

from minidqn.baselines import RandomAgent
from minidqn.envs.tabular_shop import TabularShop
from minidqn.schedules import LinearSchedule
from minidqn.tabular import TabularQAgent
from minidqn.progress import epsilon_of
from minidqn.train import evaluate, train


class ScriptedEnv:
    """Episodes alternate: 3 steps ending ``terminated``, then 2 steps ending ``truncated``.

    Every observation is a fresh integer (so a test can tell which one an agent saw); the reward
    is the action + 1. With ``masks``, ``info["action_mask"]`` allows actions ``!= obs % 3``;
    with ``clicks``, ``info["clicked"]`` is True on even actions.
    """

    def __init__(self, masks=False, clicks=False):
        self.masks, self.clicks = masks, clicks
        self.counter, self.episode, self.reset_seeds = 0, -1, []

    def _obs(self):
        self.counter += 1
        info = {}
        if self.masks:
            info["action_mask"] = np.arange(3) != self.counter % 3
        return self.counter, info

    def reset(self, seed=None):
        self.reset_seeds.append(seed)
        self.episode += 1
        self.t = 0
        return self._obs()

    def step(self, action):
        self.t += 1
        terminated = self.episode % 2 == 0 and self.t == 3
        truncated = self.episode % 2 == 1 and self.t == 2
        obs, info = self._obs()
        info.update(purchased=action == 1, revenue=float(action == 1) * 10.0)
        if self.clicks:
            info["clicked"] = action % 2 == 0
        return obs, float(action + 1), terminated, truncated, info


class RecordingAgent:
    """Acts 1, or the first allowed action; records every call; a loss on even observe calls."""

    def __init__(self):
        self.acts, self.observes = [], []
        self.epsilon = 0.25

    def act(self, obs, explore=True, **kw):
        self.acts.append((obs, explore, kw))
        mask = kw.get("action_mask")
        return 1 if mask is None or mask[1] else int(np.flatnonzero(mask)[0])

    def observe(self, obs, action, reward, next_obs, terminated, **kw):
        self.observes.append((obs, action, reward, next_obs, terminated, kw))
        return float(len(self.observes)) if len(self.observes) % 2 == 0 else None


class MinimalAgent:
    """Knows nothing of masks, epsilon or losses."""

    def act(self, obs, explore=True):
        return 0

    def observe(self, obs, action, reward, next_obs, terminated):
        return None


def test_train_passes_terminated_not_truncation_and_resets_on_either():
    env, agent = ScriptedEnv(), RecordingAgent()
    h = train(agent, env, 12, seed=5, progress=False)
    # episodes: steps 1-3 (terminated), 4-5 (truncated), 6-8 (terminated), 9-10 (truncated), 11-12 running
    assert [o[4] for o in agent.observes] == [False, False, True, False, False] * 2 + [False, False]
    assert h.episode_ends == [3, 5, 8, 10]
    assert h.episode_lengths == [3, 2, 3, 2]
    assert h.episode_truncated == [False, True, False, True]
    assert h.episode_returns == [6.0, 4.0, 6.0, 4.0]
    assert h.episode_epsilons == [0.25] * 4
    assert env.reset_seeds == [5, None, None, None, None]  # only the first reset is seeded
    assert h.loss_steps == [2, 4, 6, 8, 10, 12] and h.losses == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert h.total_steps == 12 and h.wall_time > 0


def test_the_next_action_is_chosen_from_next_obs_or_from_the_reset_obs():
    env, agent = ScriptedEnv(), RecordingAgent()
    train(agent, env, 12, progress=False)
    acted_on = [a[0] for a in agent.acts]
    for t, (obs, action, reward, next_obs, terminated, _) in enumerate(agent.observes):
        assert obs == acted_on[t] and reward == action + 1
        if t + 1 < len(acted_on):
            ended = t + 1 in (3, 5, 8, 10)
            assert acted_on[t + 1] == (next_obs + 1 if ended else next_obs)  # reset gives a fresh obs
    assert all(a[1] is True for a in agent.acts)


def test_masks_are_passed_along_when_the_env_has_them():
    env, agent = ScriptedEnv(masks=True), RecordingAgent()
    train(agent, env, 10, progress=False)
    for obs, _, kw in agent.acts:
        np.testing.assert_array_equal(kw["action_mask"], np.arange(3) != obs % 3)
    for obs, action, _, next_obs, _, kw in agent.observes:
        assert action != obs % 3
        np.testing.assert_array_equal(kw["next_action_mask"], np.arange(3) != next_obs % 3)


def test_an_agent_that_knows_nothing_of_masks_runs_on_an_env_without_them():
    h = train(MinimalAgent(), ScriptedEnv(), 10, progress=False)
    assert h.episode_returns == [3.0, 2.0, 3.0, 2.0] and h.losses == []
    assert h.episode_epsilons == [None] * 4


def test_evaluations_run_every_eval_every_steps_and_at_the_end_without_learning():
    agent = RecordingAgent()
    h = train(agent, ScriptedEnv(), 25, eval_env=ScriptedEnv(), eval_every=10, eval_episodes=4,
              progress=False)
    assert [step for step, _ in h.evals] == [10, 20, 25]
    assert all(m["episodes"] == 4 and m["mean_length"] == 2.5 for _, m in h.evals)
    assert len(agent.observes) == 25  # evaluation never calls observe
    assert sum(1 for a in agent.acts if a[1] is False) == 3 * 10
    h = train(agent, ScriptedEnv(), 5, eval_env=ScriptedEnv(), eval_episodes=2, progress=False)
    assert [step for step, _ in h.evals] == [5]


@pytest.mark.parametrize("kw, error, text", [
    (dict(total_steps=0), ValueError, "total_steps"), (dict(seed=-1), ValueError, "seed"),
    (dict(progress="yes"), TypeError, "progress"), (dict(eval_every=5), ValueError, "eval_env"),
    (dict(eval_env="same"), ValueError, "separate"), (dict(eval_episodes=0), ValueError, "eval_episodes"),
])
def test_train_rejects_bad_arguments(kw, error, text):
    env = ScriptedEnv()
    args = {"agent": RecordingAgent(), "env": env, "total_steps": 5, **kw}
    if kw.get("eval_env") == "same":
        args["eval_env"] = env
    with pytest.raises(error, match=text):
        train(**args)
    assert env.reset_seeds == []  # refused before anything ran


def test_agents_and_envs_of_the_wrong_shape_are_refused_clearly():
    class OldGym(ScriptedEnv):
        def step(self, action):
            return super().step(action)[:3] + ({},)

    class NoInfoReset(ScriptedEnv):
        def reset(self, seed=None):
            return super().reset(seed)[0]

    with pytest.raises(TypeError, match="4-tuple"):
        train(RecordingAgent(), OldGym(), 5, progress=False)
    with pytest.raises(TypeError, match=r"\(obs, info\)"):
        train(RecordingAgent(), NoInfoReset(), 5, progress=False)
    with pytest.raises(TypeError, match="observe"):
        train(object(), ScriptedEnv(), 5, progress=False)
    with pytest.raises(TypeError, match="reset"):
        evaluate(RecordingAgent(), object(), 5)


def test_same_seeds_same_history_and_same_q_table():
    runs = []
    for _ in range(2):
        agent = TabularQAgent.for_env(TabularShop(), alpha=0.2, epsilon=0.3, seed=4)
        runs.append((train(agent, TabularShop(seed=9), 3000, seed=4, progress=False), agent.Q))
    (h1, q1), (h2, q2) = runs
    assert h1.episode_returns == h2.episode_returns and h1.losses == h2.losses
    assert np.array_equal(q1, q2)


# --- evaluate ---------------------------------------------------------------------------------

def test_evaluate_reports_shop_metrics_with_standard_errors():
    m = evaluate(RecordingAgent(), ScriptedEnv(clicks=True), episodes=6, seed=0)
    assert m["episodes"] == 6 and m["mean_length"] == 2.5 and m["mean_return"] == 5.0
    assert m["std_return"] == 1.0
    assert m["mean_return_se"] == pytest.approx(np.std([6, 4] * 3, ddof=1) / 6 ** 0.5)
    assert m["revenue_per_session"] == 25.0 and m["revenue_per_session_se"] > 0
    assert m["conversion_rate"] == 1.0 and m["conversion_rate_se"] == 0.0  # action 1 always bought here
    assert m["click_rate"] == 0.0
    assert "click_rate" not in evaluate(RecordingAgent(), ScriptedEnv(), episodes=2)
    assert "revenue_per_session" not in evaluate(MinimalAgent(), GymLike(), episodes=2)


class GymLike:
    """Rewards only, no shop events in info."""

    def reset(self, seed=None):
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        return 0, 1.0, self.t == 4, False, {}


def test_evaluate_is_reproducible_and_its_episodes_are_not_training_s():
    agent = TabularQAgent.for_env(TabularShop(), seed=0)
    agent.Q[:] = np.random.default_rng(0).normal(size=agent.Q.shape)  # a fixed policy, no ties
    env = TabularShop()
    m1, m2 = evaluate(agent, env, 200, seed=3), evaluate(agent, env, 200, seed=3)
    assert m1 == m2
    assert evaluate(agent, env, 200, seed=4) != m1
    # episode i's shopper depends on (seed, i) only: the first 50 of 200 are the 50 of 50
    seeds_200, seeds_50 = [], []
    for n, out in ((200, seeds_200), (50, seeds_50)):
        class Spy(TabularShop):
            def reset(self, seed=None, options=None):
                out.append(seed)
                return super().reset(seed=seed)
        evaluate(agent, Spy(), n, seed=3)
    assert seeds_200[:50] == seeds_50 and len(set(seeds_200)) == 200
    assert not set(seeds_200) & set(range(1000))  # not the small ints train seeds its env with


def test_evaluate_on_tabular_shop_reports_revenue_and_conversion():
    m = evaluate(RandomAgent(5, seed=0), TabularShop(), 400, seed=0)
    assert m["revenue_per_session"] == m["mean_return"]
    assert 0 < m["conversion_rate"] < 1 and 0 < m["conversion_rate_se"] < 0.05


def test_one_episode_gives_nan_standard_errors_without_warnings():
    m = evaluate(MinimalAgent(), GymLike(), 1)
    assert m["mean_return"] == 4.0 and np.isnan(m["mean_return_se"])
    with pytest.raises(ValueError, match="episodes"):
        evaluate(MinimalAgent(), GymLike(), 0)


# --- progress ---------------------------------------------------------------------------------

class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_no_progress_output_when_off(capsys):
    train(RecordingAgent(), ScriptedEnv(), 50, progress=False)
    assert capsys.readouterr() == ("", "")


def test_progress_goes_to_stderr_by_default(capsys):
    train(RecordingAgent(), ScriptedEnv(), 50)
    out, err = capsys.readouterr()
    assert out == "" and "step 50/50" in err


def test_plain_progress_prints_about_ten_lines_with_rate_epsilon_and_return():
    stream = io.StringIO()
    agent = TabularQAgent.for_env(TabularShop(), epsilon=LinearSchedule(1.0, 0.1, 1000))
    train(agent, TabularShop(seed=0), 1000, progress=stream, eval_env=TabularShop(), eval_every=500,
          eval_episodes=3)
    lines = stream.getvalue().splitlines()
    steps = [line for line in lines if line.startswith("step ")]
    assert len(steps) == 10 and "\r" not in stream.getvalue()
    assert steps[-1].startswith("step 1,000/1,000") and "eps 0.100" in steps[-1]
    assert all("steps/s" in line and "return" in line and "loss" in line for line in steps[1:])
    assert sum(line.startswith("eval at step") for line in lines) == 2


def test_tty_progress_rewrites_one_line_and_ends_it():
    stream = FakeTTY()
    train(RecordingAgent(), ScriptedEnv(), 300, progress=stream)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert "step 300/300" in text.split("\r")[-1] and "eps 0.250" in text


def test_epsilon_is_found_as_attribute_method_or_schedule():
    class Method:
        def epsilon(self):
            return 0.3

    class Schedule:
        epsilon = LinearSchedule(1.0, 0.0, 10)

    class Nothing:
        pass
    assert epsilon_of(Method(), 0) == 0.3
    assert epsilon_of(Schedule(), 5) == 0.5
    assert epsilon_of(Nothing(), 5) is None


def test_a_vector_env_is_refused_by_evaluate():
    class Vector:
        num_envs = 4

        def reset(self, seed=None):
            raise AssertionError("not reached")

        def step(self, action):
            raise AssertionError("not reached")
    with pytest.raises(TypeError, match="single env"):
        evaluate(RandomAgent(2), Vector(), 3)


class CountingVectorEnv:
    """Three copies counting up; copy i terminates at count 2 + i; same-step autoreset."""
    num_envs = 3

    def reset(self, seed=None):
        self.count = np.zeros(3)
        return self.count[:, None].copy(), {}

    def step(self, actions):
        assert actions.shape == (3,)
        self.count += 1
        terminated = self.count >= np.array([2, 3, 4])
        final = self.count[:, None].copy()
        self.count[terminated] = 0
        info = {"final_obs": final, "_final_obs": terminated.copy()}
        return self.count[:, None].copy(), np.ones(3), terminated, np.zeros(3, bool), info


class BatchRecorder:
    accepts_batches = True

    def __init__(self):
        self.seen = []

    def act(self, obs, explore=True):
        return np.zeros(len(obs), np.int64)

    def observe(self, obs, action, reward, next_obs, terminated):
        self.seen.append((obs[:, 0].copy(), next_obs[:, 0].copy(), terminated.copy()))


def test_vector_loop_stores_final_observations_and_records_every_episode():
    agent = BatchRecorder()
    h = train(agent, CountingVectorEnv(), total_steps=12 * 3, progress=False)
    assert h.total_steps == 36 and len(agent.seen) == 12
    for obs, next_obs, terminated in agent.seen:
        # the stored next observation continues the count, even where the copy restarted
        np.testing.assert_array_equal(next_obs, obs + 1)
        np.testing.assert_array_equal(terminated, next_obs >= np.array([2, 3, 4]))
    assert sorted(set(h.episode_lengths)) == [2, 3, 4]
    assert h.episode_lengths.count(2) == 6 and h.episode_lengths.count(3) == 4 and h.episode_lengths.count(4) == 3
    assert h.episode_returns == [float(n) for n in h.episode_lengths]


def test_vector_loop_falls_back_to_one_call_per_copy_for_plain_agents():
    h = train(RandomAgent(2, seed=0), CountingVectorEnv(), total_steps=10, progress=False)
    assert h.total_steps == 12  # the first multiple of num_envs at or above total_steps


def test_evaluate_reports_coverage_and_categories_per_session():
    from minidqn.baselines import GreedyAgent
    from minidqn.envs.shop import ShopEnv

    env = ShopEnv()
    m = evaluate(RandomAgent(env.n_items, seed=0), env, 30, seed=1)
    lengths_total = m["mean_length"] * 30
    assert 0 < m["coverage"] <= 1 and m["coverage"] > min(lengths_total, 100) / 100 * 0.5
    assert 1 <= m["categories_per_session"] <= 10 and m["categories_per_session_se"] > 0
    env = ShopEnv()
    greedy = evaluate(GreedyAgent(env, seed=0), env, 30, seed=1)
    assert greedy["coverage"] < m["coverage"]  # a myopic oracle keeps to a few products


def test_vector_fallback_keeps_every_copys_loss_and_refuses_next_step_autoreset():
    class FirstCopyLearns:
        def __init__(self):
            self.calls = 0

        def act(self, obs, explore=True):
            return 0

        def observe(self, obs, action, reward, next_obs, terminated):
            self.calls += 1
            return 1.0 if self.calls % 3 == 1 else None  # only copy 0 of each step reports a loss
    h = train(FirstCopyLearns(), CountingVectorEnv(), total_steps=30, progress=False)
    assert len(h.losses) == 10

    env = CountingVectorEnv()
    env.metadata = {"autoreset_mode": "AutoresetMode.NEXT_STEP"}
    with pytest.raises(TypeError, match="same-step autoreset only"):
        train(RandomAgent(2), env, total_steps=3, progress=False)


# --- keep_best, interruption, non-finite rewards ------------------------------------------------

class DriftingAgent:
    """Greedy action = its one "weight" ``w``; each observe moves ``w`` through 0, 1, 2, 1, 0, 1, ...
    On ScriptedEnv the reward is ``action + 1``, so an evaluation's mean return tracks ``w``."""

    def __init__(self):
        self.w, self.t = 0, 0

    def act(self, obs, explore=True):
        return self.w

    def observe(self, obs, action, reward, next_obs, terminated):
        self.t += 1
        self.w = [0, 1, 2, 1][self.t % 4]

    def snapshot(self):
        return self.w

    def restore(self, w):
        self.w = w


def test_keep_best_ends_with_the_weights_of_the_best_evaluation():
    agent = DriftingAgent()
    h = train(agent, ScriptedEnv(), 13, eval_env=ScriptedEnv(), eval_every=1, eval_episodes=2,
              keep_best=True, progress=False)
    returns = [m["mean_return"] for _, m in h.evals]
    assert len(returns) == 13 and max(returns) == 7.5  # w = 2: 3 per step, 2.5 steps an episode
    assert h.best_step == 2 and h.best_eval["mean_return"] == 7.5  # the earliest of equal bests
    assert agent.w == 2 and agent.t == 13  # weights restored; what was done is not undone


def test_keep_best_restores_a_dqn_to_its_best_evaluation_exactly():
    from minidqn import DQNAgent

    env, eval_env = TabularShop(seed=0), TabularShop(seed=1)
    agent = DQNAgent.for_env(env, seed=0, learning_starts=100, hidden=(16,))
    h = train(agent, env, 1_500, seed=0, eval_env=eval_env, eval_every=300, eval_episodes=10,
              keep_best=True, progress=False)
    assert h.best_eval["mean_return"] == max(m["mean_return"] for _, m in h.evals)
    again = evaluate(agent, eval_env, 10, seed=0)
    assert again["mean_return"] == h.best_eval["mean_return"]
    np.testing.assert_array_equal(agent.target.params, agent.snapshot()["target"])


def test_keep_best_restores_a_q_table():
    agent = TabularQAgent.for_env(TabularShop(seed=0), seed=0)
    h = train(agent, TabularShop(seed=0), 2_000, eval_env=TabularShop(seed=1), eval_every=500,
              eval_episodes=5, keep_best=True, progress=False)
    assert h.best_step in (500, 1000, 1500, 2000)
    snap = agent.snapshot()
    snap[0, 0] += 1.0  # a snapshot is a copy
    assert agent.Q[0, 0] != snap[0, 0]


@pytest.mark.parametrize("kw, error, text", [
    (dict(keep_best=True), ValueError, "eval_env"),
    (dict(keep_best=1), TypeError, "keep_best"),
])
def test_keep_best_is_refused_without_an_eval_env_or_a_bool(kw, error, text):
    with pytest.raises(error, match=text):
        train(DriftingAgent(), ScriptedEnv(), 5, progress=False, **kw)


def test_keep_best_needs_snapshot_and_restore():
    with pytest.raises(TypeError, match="snapshot"):
        train(MinimalAgent(), ScriptedEnv(), 5, eval_env=ScriptedEnv(), keep_best=True, progress=False)


def test_a_dqn_snapshot_of_another_shape_is_refused():
    from minidqn import DQNAgent

    agent = DQNAgent(3, 2, hidden=(4,))
    other = DQNAgent(3, 2, hidden=(5,)).snapshot()
    before = agent.online.params.copy()
    with pytest.raises(ValueError, match="snapshot\\['online'\\]"):
        agent.restore(other)
    with pytest.raises(TypeError, match="snapshot"):
        agent.restore({"online": before})
    np.testing.assert_array_equal(agent.online.params, before)


class InterruptingEnv(ScriptedEnv):
    """ScriptedEnv whose ``step`` raises KeyboardInterrupt (as Ctrl-C would) at a given call."""

    def __init__(self, at):
        super().__init__()
        self.at, self.calls = at, 0

    def step(self, action):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().step(action)


def test_ctrl_c_returns_the_partial_history_and_says_so():
    stream = io.StringIO()
    agent = RecordingAgent()
    h = train(agent, InterruptingEnv(at=9), 100, progress=stream)
    assert h.interrupted and h.total_steps == 8
    assert h.episode_ends == [3, 5, 8] and len(agent.observes) == 8
    assert "interrupted at step 8 of 100" in stream.getvalue()


def test_ctrl_c_with_keep_best_still_restores_the_best_weights():
    agent = DriftingAgent()
    h = train(agent, InterruptingEnv(at=8), 100, eval_env=ScriptedEnv(), eval_every=1, eval_episodes=2,
              keep_best=True, progress=False)
    assert h.interrupted and h.best_step == 2 and agent.w == 2


class NaNRewardEnv(ScriptedEnv):
    """ScriptedEnv whose 4th step returns a NaN reward."""

    steps = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.steps += 1
        return obs, float("nan") if self.steps == 4 else reward, terminated, truncated, info


def test_a_non_finite_reward_stops_training_before_the_agent_sees_it():
    agent = RecordingAgent()
    with pytest.raises(ValueError, match="non-finite reward nan at step 4"):
        train(agent, NaNRewardEnv(), 10, progress=False)
    assert len(agent.observes) == 3


def test_a_reward_that_is_an_array_is_refused_with_a_clear_message():
    class ArrayRewardEnv(ScriptedEnv):
        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            return obs, np.array([reward]), terminated, truncated, info

    with pytest.raises(TypeError, match=r"rewards of shape \(1,\) at step 1; expected a scalar"):
        train(RecordingAgent(), ArrayRewardEnv(), 5, progress=False)


# --- Gymnasium's same-step vector envs, and evaluate's episode cap ------------------------------

class ObjectFinalObsVectorEnv(CountingVectorEnv):
    """``CountingVectorEnv`` reporting as Gymnasium's SAME_STEP mode does: ``final_obs`` an object
    array holding ``None`` for copies that did not finish, int8 masks allowing actions ``!= count % 2``
    (a finished episode's last mask in ``final_info``)."""
    metadata = {"autoreset_mode": "SameStep"}

    def reset(self, seed=None, options=None):
        obs, _ = super().reset(seed)
        return obs, {"action_mask": self._masks(), "_action_mask": np.ones(3, bool)}

    def _masks(self):
        return np.stack([np.arange(2) != c % 2 for c in self.count]).astype(np.int8)

    def step(self, actions):
        before = self.count + 1
        obs, rewards, terminated, truncated, info = super().step(actions)
        final = np.full(3, None, dtype=object)
        for i in np.flatnonzero(terminated):
            final[i] = info["final_obs"][i]
        final_masks = np.stack([np.arange(2) != c % 2 for c in before]).astype(np.int8)
        final_masks[~terminated] = 0  # Gymnasium zero-fills the copies that did not finish
        return obs, rewards, terminated, truncated, {
            "final_obs": final, "_final_obs": terminated.copy(),
            "final_info": {"action_mask": final_masks, "_action_mask": terminated.copy()},
            "action_mask": self._masks(), "_action_mask": np.ones(3, bool)}


class MaskRecorder(BatchRecorder):
    def act(self, obs, explore=True, action_mask=None):
        self.masks = action_mask
        return np.argmax(action_mask, axis=1)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None):
        assert next_obs.dtype == np.float64
        self.seen.append((obs[:, 0].copy(), next_obs[:, 0].copy(), terminated.copy(), next_action_mask.copy()))


def test_vector_loop_takes_gymnasiums_object_final_obs_and_final_info_masks():
    agent = MaskRecorder()
    h = train(agent, ObjectFinalObsVectorEnv(), total_steps=12 * 3, progress=False)
    assert len(agent.seen) == 12 and h.episode_lengths.count(2) == 6
    for obs, next_obs, terminated, next_mask in agent.seen:
        np.testing.assert_array_equal(next_obs, obs + 1)  # the finished episode's last obs, not None
        # the next mask is that of the true next observation, also where the copy restarted
        np.testing.assert_array_equal(next_mask, np.stack([np.arange(2) != c % 2 for c in next_obs]))


@pytest.mark.parametrize("mode, match", [
    ("NextStep", "same-step autoreset only.*next-step autoreset.*cross two episodes.*SAME_STEP"),
    ("AutoresetMode.DISABLED", "same-step autoreset only.*disabled.*reset_mask.*SAME_STEP"),
    ("Sometimes", "unknown to train")])
def test_next_step_and_disabled_autoreset_are_refused_each_with_its_reason(mode, match):
    env = ObjectFinalObsVectorEnv()
    env.metadata = {"autoreset_mode": mode}
    with pytest.raises(TypeError, match=match):
        train(RandomAgent(2), env, total_steps=3, progress=False)


def test_a_gymnasium_vector_env_that_does_not_state_its_mode_is_next_step_and_refused():
    class OldSyncVectorEnv(CountingVectorEnv):  # Gymnasium 1.0's: no autoreset_mode, next-step only
        metadata = {"render_modes": []}
    OldSyncVectorEnv.__module__ = "gymnasium.vector.sync_vector_env"
    with pytest.raises(TypeError, match=r"autoreset_mode=None \(Gymnasium < 1.1: next-step\)"):
        train(RandomAgent(2), OldSyncVectorEnv(), total_steps=3, progress=False)


def test_a_vector_env_that_does_not_report_final_obs_is_refused_when_an_episode_ends():
    env = CountingVectorEnv()
    step = env.step
    env.step = lambda a: step(a)[:4] + ({},)
    with pytest.raises(ValueError, match="no 'final_obs'"):
        train(RandomAgent(2), env, total_steps=30, progress=False)


class EndlessEnv:
    """Never terminates nor truncates (a policy that never reaches the goal, without a time limit)."""

    def reset(self, seed=None, options=None):
        return 0, {}

    def step(self, action):
        return 0, 1.0, False, False, {}


def test_evaluate_cuts_endless_episodes_at_the_cap_and_counts_them_as_truncated():
    m = evaluate(RandomAgent(2, seed=0), EndlessEnv(), episodes=3, seed=0, max_episode_steps=7)
    assert m["mean_length"] == 7.0 and m["mean_return"] == 7.0
    assert m["episodes_truncated"] == 3 and m["truncated_rate"] == 1.0 and m["episodes_capped"] == 3
    env = EndlessEnv()
    env.spec = type("Spec", (), {"max_episode_steps": 5})()  # as gymnasium.make sets it
    assert evaluate(RandomAgent(2), env, episodes=2)["mean_length"] == 5.0
    assert evaluate(RandomAgent(2), env, episodes=2, max_episode_steps=3)["mean_length"] == 3.0  # the caller wins
    env.spec.max_episode_steps = None  # a spec without a time limit: the default cap
    from minidqn.train import DEFAULT_MAX_EPISODE_STEPS
    assert evaluate(RandomAgent(2), env, episodes=1)["mean_length"] == DEFAULT_MAX_EPISODE_STEPS == 10_000
    for bad, error in ((0, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="max_episode_steps"):
            evaluate(RandomAgent(2), EndlessEnv(), episodes=1, max_episode_steps=bad)


def test_evaluate_tells_the_envs_own_truncations_from_the_caps_cuts():
    m = evaluate(RecordingAgent(), ScriptedEnv(), episodes=4, seed=0)
    assert m["episodes_truncated"] == 2 and m["truncated_rate"] == 0.5 and m["episodes_capped"] == 0
    m = evaluate(RecordingAgent(), ScriptedEnv(), episodes=4, seed=0, max_episode_steps=2)
    assert m["mean_length"] == 2.0 and m["episodes_truncated"] == 4 and m["episodes_capped"] == 2


def test_episodes_that_end_on_the_same_vector_step_each_get_their_csv_row(tmp_path):
    h = train(BatchRecorder(), CountingVectorEnv(), total_steps=12 * 3, progress=False)
    ends = np.array(h.episode_ends)
    assert (np.bincount(ends) == 3).any()  # at count 12 all three copies end together
    h.write_csv(tmp_path / "log.csv")
    with open(tmp_path / "log.csv") as f:
        assert len(f.readlines()) == 1 + len(h.episode_returns) == 1 + 13


def test_a_non_finite_reward_from_a_vector_env_stops_the_run():
    class NaNVector(CountingVectorEnv):
        calls = 0

        def step(self, actions):
            obs, rewards, terminated, truncated, info = super().step(actions)
            self.calls += 1
            if self.calls == 2:  # env steps 4 to 6
                rewards = np.array([1.0, np.inf, 1.0])
            return obs, rewards, terminated, truncated, info

    agent = BatchRecorder()
    with pytest.raises(ValueError, match="non-finite reward inf at step 6"):
        train(agent, NaNVector(), total_steps=30, progress=False)
    assert len(agent.seen) == 1

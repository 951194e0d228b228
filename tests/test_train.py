"""The loop: what train passes to agents and envs, what it records, keep_best, interruptions, vector envs."""
import io

import numpy as np
import pytest

from minidqn.baselines import RandomAgent
from minidqn.envs.tabular_shop import TabularShop
from minidqn.tabular import TabularQAgent
from minidqn.train import evaluate, train
from doubles import ScriptedEnv, RecordingAgent, MinimalAgent, CountingVectorEnv, BatchRecorder, DriftingAgent, InterruptingEnv, NaNRewardEnv, ObjectFinalObsVectorEnv, MaskRecorder


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


def test_the_mask_of_obs_goes_to_an_observe_that_names_action_mask_and_to_no_other():
    class Naming(RecordingAgent):
        def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None, action_mask=None):
            return super().observe(obs, action, reward, next_obs, terminated, action_mask=action_mask)
    agent = Naming()
    train(agent, ScriptedEnv(masks=True), 10, progress=False)
    for obs, action, _, _, _, kw in agent.observes:
        np.testing.assert_array_equal(kw["action_mask"], np.arange(3) != obs % 3)  # the one act was given
    agent = Naming()
    train(agent, ScriptedEnv(), 5, progress=False)  # no masks from the env: none passed
    assert [kw["action_mask"] for *_, kw in agent.observes] == [None] * 5
    agent = RecordingAgent()  # observe(**kw) does not name it
    train(agent, ScriptedEnv(masks=True), 5, progress=False)
    assert all("action_mask" not in kw for *_, kw in agent.observes)


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


def test_keep_best_restores_the_q_table_of_the_best_evaluation():
    class Spied(TabularQAgent):
        """Records the table at every evaluation (an evaluation calls act with explore=False)."""

        def act(self, obs, explore=True, action_mask=None):
            if not explore and self.steps != getattr(self, "last_seen", None):
                self.last_seen, self.tables[self.steps] = self.steps, self.Q.copy()
            return super().act(obs, explore, action_mask)

    agent = Spied(12, 5, alpha=0.5, gamma=0.95, epsilon=0.5, seed=0)
    agent.tables = {}
    h = train(agent, TabularShop(seed=0), 3_000, eval_env=TabularShop(seed=1), eval_every=300,
              eval_episodes=5, keep_best=True, progress=False)
    returns = {step: m["mean_return"] for step, m in h.evals}
    assert h.best_step == min(s for s in returns if returns[s] == max(returns.values()))
    assert h.best_step != 3_000, "choose a run whose best evaluation is not the last"
    np.testing.assert_array_equal(agent.Q, agent.tables[h.best_step])  # put back, not the last table
    assert not np.array_equal(agent.Q, agent.tables[3_000])
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


def test_vector_loop_takes_gymnasiums_object_final_obs_and_final_info_masks():
    agent = MaskRecorder()
    h = train(agent, ObjectFinalObsVectorEnv(), total_steps=12 * 3, progress=False)
    assert len(agent.seen) == 12 and h.episode_lengths.count(2) == 6
    for obs, next_obs, terminated, next_mask in agent.seen:
        np.testing.assert_array_equal(next_obs, obs + 1)  # the finished episode's last obs, not None
        # the next mask is that of the true next observation, also where the copy restarted
        np.testing.assert_array_equal(next_mask, np.stack([np.arange(2) != c % 2 for c in next_obs]))


@pytest.mark.parametrize("batched", [True, False])
def test_the_vector_loop_passes_each_copys_mask_of_obs_also_where_a_copy_restarted(batched):
    class ObsMaskRecorder(MaskRecorder):
        accepts_batches = batched

        def act(self, obs, explore=True, action_mask=None):
            return super().act(obs, explore, action_mask) if batched else int(np.argmax(action_mask))

        def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None, action_mask=None):
            self.obs_masks.append((np.reshape(obs, (-1, 1))[:, 0].copy(), np.reshape(action_mask, (-1, 2))))
    agent = ObsMaskRecorder()
    agent.obs_masks = []
    train(agent, ObjectFinalObsVectorEnv(), total_steps=12 * 3, progress=False)
    assert len(agent.obs_masks) == (12 if batched else 36)
    for obs, mask in agent.obs_masks:
        np.testing.assert_array_equal(mask, np.stack([np.arange(2) != c % 2 for c in obs]))


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


class TruncationRecorder:
    """Takes ``truncated=`` in observe, as DQNAgent does, and records it."""
    accepts_batches = True

    def __init__(self):
        self.truncated = []

    def act(self, obs, explore=True):
        return np.zeros(len(obs), np.int64) if np.ndim(obs) else 0

    def observe(self, obs, action, reward, next_obs, terminated, truncated=False):
        self.truncated.append(np.copy(truncated))


class TruncatingVectorEnv(CountingVectorEnv):
    """Copy i is cut by a time limit at count 2 + i (never terminated)."""

    def step(self, actions):
        next_obs, rewards, truncated, terminated, info = super().step(actions)
        return next_obs, rewards, terminated, truncated, info


def test_train_passes_truncated_to_agents_that_take_it_and_only_to_them():
    agent = TruncationRecorder()
    train(agent, ScriptedEnv(), 10, progress=False)
    assert [bool(x) for x in agent.truncated] == [False, False, False, False, True] * 2
    train(agent, ScriptedEnv(), 7, progress=False)  # the run's end cuts the episode still running
    assert [bool(x) for x in agent.truncated[10:]] == [False, False, False, False, True, False, True]
    plain = RecordingAgent()
    train(plain, ScriptedEnv(), 10, progress=False)
    assert all("truncated" not in kw for *_, kw in plain.observes)


def test_the_vector_loop_passes_truncated_per_copy():
    agent = TruncationRecorder()
    train(agent, TruncatingVectorEnv(), 3 * 4, progress=False)
    # counts 1, 2, 3, 4: copy 0 is cut at 2 and 4, copy 1 at 3, copy 2 at 4; all by the run's end
    np.testing.assert_array_equal(agent.truncated, [[False, False, False], [True, False, False],
                                                    [False, True, False], [True, True, True]])


def _reporting_slates(seed=0):
    """A ``TabularSlateShop`` that keeps every step's ``info`` (what the env reported) in ``infos``."""
    from minidqn.envs.tabular_slates import TabularSlateShop

    class Reporting(TabularSlateShop):
        def step(self, action):
            out = super().step(action)
            self.infos.append(out[-1])
            return out
    env = Reporting(seed=seed)
    env.infos = []
    return env


def test_clicked_goes_to_an_observe_that_names_it_and_to_no_other():
    class Naming(RecordingAgent):
        def act(self, obs, explore=True, action_mask=None):
            return np.array([0, 3])

        def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None, clicked=None):
            return super().observe(obs, action, reward, next_obs, terminated, clicked=clicked)
    env, agent = _reporting_slates(), Naming()
    train(agent, env, 40, progress=False)
    assert [kw["clicked"] for *_, kw in agent.observes] == [info["clicked"] for info in env.infos]
    assert {-1, 0, 1} == {info["clicked"] for info in env.infos}
    agent = RecordingAgent()  # observe(**kw) does not name it
    train(agent, ScriptedEnv(), 5, progress=False)
    assert all("clicked" not in kw for *_, kw in agent.observes)


def test_slate_agents_train_on_the_tabular_slate_shop_from_the_clicks_the_env_reports():
    from minidqn.slate_baselines import PopularitySlateAgent
    from minidqn.slate_q import SlateQAgent
    env = _reporting_slates()
    pop = PopularitySlateAgent.for_env(env, seed=0, epsilon=1.0)
    train(pop, env, 300, progress=False)
    bought = np.bincount([info["item"] for info in env.infos if info["purchased"]], minlength=4)
    np.testing.assert_array_equal(pop.counts, bought)
    assert bought.sum() > 10
    env = _reporting_slates()
    agent = SlateQAgent.for_env(env, hidden=(8,), batch_size=8, learning_starts=50, seed=0)
    h = train(agent, env, 200, progress=False)
    np.testing.assert_array_equal(agent.buffer.clicked[:200], [info["clicked"] for info in env.infos])
    assert agent.updates > 0 and np.isfinite(h.losses).all()

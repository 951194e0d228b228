"""logs: collect_log's rows and exact propensities, Log's checks and files, read_bandit_csv."""
import csv
import dataclasses

import numpy as np
import pytest

from doubles import RecordingAgent, ScriptedEnv
from minidqn._checkpoint import save_arrays
from minidqn.baselines import GreedyAgent, RandomAgent
from minidqn.envs.shop import ShopConfig, ShopEnv
from minidqn.evaluation import evaluate
from minidqn.logs import Log, collect_log, epsilon_greedy_policy, epsilon_greedy_prob, read_bandit_csv
from minidqn.mlp import MLP
from minidqn.spaces import Discrete


class MaskedScripted(ScriptedEnv):
    """ScriptedEnv with its masks (2 of 3 actions allowed) and a Discrete(3) action space."""
    action_space = Discrete(3)

    def __init__(self):
        super().__init__(masks=True)


class Counter:
    """No action mask, Discrete(4) actions; every episode lasts 3 steps; reward = action."""
    action_space = Discrete(4)

    def reset(self, seed=None, options=None):
        self.t = 0
        return np.array([0.0, 1.0]), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.t), 1.0]), float(action), self.t == 3, False, {}


def small_shop(seed=0):
    return ShopEnv(ShopConfig(n_items=12, n_categories=3, max_steps=8), seed=seed)


def shop_log(episodes=30, seed=0, epsilon=0.3):
    env = small_shop()
    return collect_log(GreedyAgent(env, seed=1), env, episodes, seed=seed, epsilon=epsilon)


def test_rows_follow_the_episodes_and_behavior_prob_is_exact():
    log = collect_log(RecordingAgent(), MaskedScripted(), episodes=4, seed=0, epsilon=0.5)
    # ScriptedEnv: 3 steps ending terminated, then 2 ending truncated, alternately
    assert log.episode.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    assert log.step.tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 0, 1]
    assert np.flatnonzero(log.terminated).tolist() == [2, 7]
    assert np.flatnonzero(log.truncated).tolist() == [4, 9]
    assert log.action_mask.dtype == bool and log.action_mask.sum(axis=1).tolist() == [2] * 10
    # 2 allowed actions, epsilon 0.5: 0.5 + 0.25 for the greedy action, 0.25 for the other
    assert log.behavior_prob.tolist() == [0.75 if a == g else 0.25 for a, g in zip(log.action, log.greedy_action)]
    assert np.all(log.action_mask[np.arange(10), log.action])
    assert log.n_actions == 3 and log.n_episodes == 4 and len(log) == 10 and log.epsilon == 0.5
    within = ~(log.terminated | log.truncated)[:-1]  # fresh ints: next_obs is the next row's obs
    assert np.array_equal(log.next_obs[:-1][within], log.obs[1:][within])
    assert log.reward.tolist() == (log.action + 1.0).tolist()


def test_epsilon_greedy_prob_formula():
    mask = np.array([[1, 1, 1, 1], [0, 1, 1, 0], [0, 0, 1, 0]], bool)
    p = epsilon_greedy_prob([0, 1, 2], [0, 2, 2], mask, 0.2)
    assert p.tolist() == [0.8 + 0.05, 0.1, 0.8 + 0.2]
    assert epsilon_greedy_prob([3], [1], mask[:1], 0.0).tolist() == [0.0]


def test_logged_actions_match_behavior_prob_in_frequency():
    log = collect_log(RecordingAgent(), MaskedScripted(), episodes=1000, seed=3, epsilon=0.4)
    share = np.mean(log.action == log.greedy_action)  # expected 0.6 + 0.4 / 2 = 0.8
    se = np.sqrt(0.8 * 0.2 / len(log))
    assert abs(share - 0.8) < 4 * se
    assert np.all(log.behavior_prob[log.action == log.greedy_action] == 0.8)


def test_no_mask_means_every_action_is_allowed():
    log = collect_log(RandomAgent(4, seed=0), Counter(), episodes=50, seed=0, epsilon=1.0)
    assert log.action_mask.all() and log.obs.shape == (150, 2)
    assert np.all(log.behavior_prob == 0.25)  # epsilon 1: uniform, greedy or not
    assert set(log.action.tolist()) == {0, 1, 2, 3}


def test_an_env_that_reuses_its_observation_array_is_logged_as_it_was():
    class InPlace(Counter):
        def reset(self, seed=None, options=None):
            self.t, self.buf = 0, np.zeros(2)
            return self.buf, {}

        def step(self, action):
            self.t += 1
            self.buf[0] = self.t  # the same array every step, changed in place
            return self.buf, float(action), self.t == 3, False, {}
    log = collect_log(RandomAgent(4, seed=0), InPlace(), episodes=2, seed=0)
    assert log.obs[:, 0].tolist() == [0, 1, 2] * 2 and log.next_obs[:, 0].tolist() == [1, 2, 3] * 2


def test_epsilon_zero_logs_evaluates_episodes_on_the_shop():
    env = small_shop()
    log = collect_log(GreedyAgent(env, seed=1), env, 25, seed=7, epsilon=0.0)
    assert np.all(log.action == log.greedy_action) and np.all(log.behavior_prob == 1.0)
    returns = np.bincount(log.episode, weights=log.reward)
    env2 = small_shop()
    assert returns.mean() == pytest.approx(evaluate(GreedyAgent(env2, seed=1), env2, 25, seed=7)["mean_return"])
    assert log.obs.dtype == np.float32 and log.obs.shape == (len(log), 4 * 3 + 7)
    # a bought product is masked on the rows after its purchase
    assert not log.action_mask.all()


def test_same_seed_same_log_other_seed_other_log():
    a, b, c = shop_log(seed=2), shop_log(seed=2), shop_log(seed=3)
    for f in dataclasses.fields(Log):
        assert np.array_equal(getattr(a, f.name), getattr(b, f.name)), f.name
    assert len(a) != len(c) or not np.array_equal(a.action, c.action)


def test_episodes_are_capped_and_marked_truncated():
    class Endless(Counter):
        def step(self, action):
            obs, r, _, _, info = super().step(action)
            return obs, r, False, False, info
    log = collect_log(RandomAgent(4, seed=0), Endless(), episodes=2, seed=0, max_episode_steps=5)
    assert len(log) == 10 and log.truncated.tolist() == [False] * 4 + [True] + [False] * 4 + [True]


def test_collect_log_refuses_bad_arguments_and_masked_choices():
    env = MaskedScripted()
    with pytest.raises(ValueError, match="episodes"):
        collect_log(RecordingAgent(), env, 0)
    with pytest.raises(ValueError, match="epsilon"):
        collect_log(RecordingAgent(), env, 1, epsilon=1.5)

    class Stubborn(RecordingAgent):
        def act(self, obs, explore=True, **kw):
            return 0
    with pytest.raises(ValueError, match="forbids"):
        collect_log(Stubborn(), env, 3)
    with pytest.raises(TypeError, match="action_space"):
        collect_log(RecordingAgent(), ScriptedEnv(), 1)


# ------------------------------------------------------------------------------------ Log checks
def fields_of(log):
    return {f.name: getattr(log, f.name) for f in dataclasses.fields(Log)}


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(step=d["step"][::-1].copy()), "step"),
    (lambda d: d.update(episode=np.roll(d["episode"], 1)), "episode"),
    (lambda d: d["terminated"].__setitem__(0, True), "end"),
    (lambda d: d.update(behavior_prob=d["behavior_prob"] * 0), "behavior_prob"),
    (lambda d: d.update(behavior_prob=d["behavior_prob"] + 1), "behavior_prob"),
    (lambda d: d.update(action=d["action"] + 100), "action"),
    (lambda d: d.update(reward=d["reward"][:-1]), "reward"),
    (lambda d: d.update(next_obs=d["next_obs"][:, :-1]), "next_obs"),
    (lambda d: d.update(reward=np.where(d["step"] == 1, np.nan, d["reward"])), "finite"),
])
def test_log_refuses_inconsistent_arrays(change, match):
    arrays = {k: np.array(v) if k != "epsilon" else v for k, v in fields_of(shop_log(episodes=5)).items()}
    change(arrays)
    with pytest.raises(ValueError, match=match):
        Log(**arrays)


def test_a_masked_logged_action_is_refused():
    arrays = fields_of(shop_log(episodes=5))
    arrays["action_mask"] = arrays["action_mask"].copy()
    arrays["action_mask"][0, arrays["action"][0]] = False
    with pytest.raises(ValueError, match="allows"):
        Log(**arrays)


# ------------------------------------------------------------------------------------ files
def test_save_load_roundtrip(tmp_path):
    log = shop_log()
    log.save(tmp_path / "log.npz")
    back = Log.load(tmp_path / "log.npz")
    for name, value in fields_of(log).items():
        got = getattr(back, name)
        assert np.array_equal(got, value) and np.asarray(got).dtype == np.asarray(value).dtype, name
    assert back.epsilon == 0.3


def test_load_refuses_files_that_are_not_logs(tmp_path):
    log = shop_log(episodes=5)
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="junk.npz.*not an .npz"):
        Log.load(tmp_path / "junk.npz")
    MLP([2, 3]).save(tmp_path / "mlp.npz")
    with pytest.raises(ValueError, match="'MLP' checkpoint, expected 'Log'"):
        Log.load(tmp_path / "mlp.npz")
    arrays = fields_of(log)
    save_arrays(tmp_path / "bad.npz", "Log", {**arrays, "behavior_prob": arrays["behavior_prob"] * 2})
    with pytest.raises(ValueError, match="bad.npz' holds an invalid log.*behavior_prob"):
        Log.load(tmp_path / "bad.npz")
    save_arrays(tmp_path / "short.npz", "Log", {**arrays, "reward": arrays["reward"][:-1]})
    with pytest.raises(ValueError, match="short.npz.*'reward'"):
        Log.load(tmp_path / "short.npz")
    save_arrays(tmp_path / "text.npz", "Log", {**arrays, "epsilon": np.array("0.3")})
    with pytest.raises(ValueError, match="text.npz.*'epsilon'"):
        Log.load(tmp_path / "text.npz")
    np.savez(tmp_path / "pickled.npz", **{**arrays, "obs": np.array([None] * len(log), dtype=object),
                                          "__kind__": np.array("Log"), "__version__": np.array(1)})
    with pytest.raises(ValueError, match="pickled.npz.*'obs' holds pickled objects"):
        Log.load(tmp_path / "pickled.npz")
    no_mask = {k: v for k, v in arrays.items() if k != "action_mask"}
    save_arrays(tmp_path / "lacking.npz", "Log", no_mask)
    with pytest.raises(ValueError, match="lacks.*action_mask"):
        Log.load(tmp_path / "lacking.npz")
    log.save(tmp_path / "cut.npz")
    data = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        Log.load(tmp_path / "cut.npz")


def test_to_csv_writes_every_row_readably(tmp_path):
    log = shop_log(episodes=4)
    log.to_csv(tmp_path / "log.csv")
    with open(tmp_path / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(log)
    d = log.obs.shape[1]
    for i, row in enumerate(rows):
        assert int(row["episode"]) == log.episode[i] and int(row["action"]) == log.action[i]
        assert float(row["reward"]) == log.reward[i] and float(row["behavior_prob"]) == log.behavior_prob[i]
        assert bool(int(row["terminated"])) == log.terminated[i]
        assert [float(row[f"obs_{j}"]) for j in range(d)] == log.obs[i].tolist()
        assert [c == "1" for c in row["action_mask"]] == log.action_mask[i].tolist()


# ------------------------------------------------------------------------------------ bandit CSVs
OBD = (",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0\n"
       "0,2019-11-24 00:00:17+00:00,79,2,0,0.0125,81ce123cbb5bd8d,0.0\n"
       "1,2019-11-24 00:00:19+00:00,14,3,1,0.5,1c6e0f4cc6f0b2d,2.5\n"
       "\n"
       "2,2019-11-24 00:00:24+00:00,3,1,0,1,81ce123cbb5bd8d,1\n")


def write(tmp_path, text, name="obd.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_bandit_csv_types_its_columns(tmp_path):
    data = read_bandit_csv(write(tmp_path, OBD))
    assert list(data) == ["timestamp", "item_id", "position", "click", "propensity_score",
                          "user_feature_0", "user-item_affinity_0"]
    assert data["item_id"].tolist() == [79, 14, 3] and data["item_id"].dtype == np.int64
    assert data["click"].tolist() == [0, 1, 0]
    assert data["propensity_score"].tolist() == [0.0125, 0.5, 1.0] and data["propensity_score"].dtype == np.float64
    assert data["user-item_affinity_0"].dtype == np.float64
    assert data["user_feature_0"].dtype.kind == "U" and data["user_feature_0"][1] == "1c6e0f4cc6f0b2d"
    assert data["timestamp"].dtype.kind == "U"


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    (",item_id,position,click\n0,1,1,0\n", r"lacks the columns \['propensity_score'\]"),
    (",item_id,position,click,propensity_score\n0,1,1,0,0.5\n1,2,1,0\n", "line 3 has 4 fields"),
    (",item_id,position,click,propensity_score\n0,1,1,0,high\n", "propensity_score' must hold numbers, got 'high'"),
    (",item_id,position,click,propensity_score\n0,1,1,0,0.5\n1,1,1,0,0\n", r"\(0, 1\], got 0.0 in data row 2"),
    (",item_id,position,click,propensity_score\n0,1,1,0,1.5\n", r"\(0, 1\], got 1.5"),
    (",item_id,position,click,propensity_score\n0,1,1,0,nan\n", r"\(0, 1\], got nan"),
    (",item_id,position,click,propensity_score\n", "no data rows"),
    (",item_id,position,click,propensity_score\n0,a,1,0,0.5\n", "'item_id' must hold integers"),
    (",item_id,item_id,click,propensity_score\n0,1,1,0,0.5\n", "distinct name"),
])
def test_read_bandit_csv_refuses_bad_files(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_bandit_csv(write(tmp_path, text))


def test_epsilon_greedy_policy_gives_the_logged_probability():
    log = shop_log(episodes=10)
    pi = epsilon_greedy_policy(log.greedy_action, log.action_mask, log.epsilon)
    assert np.allclose(pi.sum(axis=1), 1.0) and np.all(pi[~log.action_mask] == 0)
    assert np.array_equal(pi[np.arange(len(log)), log.action], log.behavior_prob)


def test_collect_log_refuses_a_slate_env_saying_logs_do_not_cover_slates():
    from minidqn.envs.slate_shop import SlateShopEnv
    from minidqn.slate_baselines import RandomSlateAgent
    env = SlateShopEnv(seed=0)
    with pytest.raises(TypeError, match=r"logs do not cover slates .*SlateShopEnv with Slate\(n=100, k=3\)") as e:
        collect_log(RandomSlateAgent.for_env(env), env, 1)
    assert "TransformAction" not in str(e.value)

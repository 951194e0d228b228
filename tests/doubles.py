"""Test doubles for the loop's tests: scripted envs and agents that record what they are given."""
import io

import numpy as np


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


class GymLike:
    """Rewards only, no shop events in info."""

    def reset(self, seed=None):
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        return 0, 1.0, self.t == 4, False, {}


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


class NaNRewardEnv(ScriptedEnv):
    """ScriptedEnv whose 4th step returns a NaN reward."""

    steps = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.steps += 1
        return obs, float("nan") if self.steps == 4 else reward, terminated, truncated, info


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


class EndlessEnv:
    """Never terminates nor truncates (a policy that never reaches the goal, without a time limit)."""

    def reset(self, seed=None, options=None):
        return 0, {}

    def step(self, action):
        return 0, 1.0, False, False, {}


class FakeTTY(io.StringIO):
    def isatty(self):
        return True

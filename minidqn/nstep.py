"""n-step returns: turning a stream of one-step transitions into n-step ones before replay.

Each copy of the environment (one, or ``n`` for a vector env) has a window of its last
``k <= n`` transitions not yet stored. When a window is full, its oldest transition leaves as

    R = r_t + gamma r_{t+1} + ... + gamma^(n-1) r_{t+n-1},   bootstrap state s_{t+n},   discount gamma^n,

so that the learner's target is ``y = R + discount * (1 - terminated) * Q(s_{t+n}, a*)``. When
the episode ends, every transition still in the window leaves at once, each with the ``k`` steps
it has (``R`` summed to the end, discount ``gamma^k``): after a termination nothing is
bootstrapped (``terminated`` travels with all of them); after a truncation (a time limit) each
bootstraps from the last state. The action mask of the bootstrap state travels with it, and, for
windows made with ``n_actions`` (a dueling or CQL learner's), the mask of each first state too. With
``n = 1`` every transition leaves as it came, discount ``gamma``.

The window only needs to know where episodes end: ``terminated`` and ``truncated`` of each step.
A caller that resets the env without saying ``truncated`` would glue two episodes together.

Not covered: storage and sampling (``replay.py``), λ-returns, off-policy corrections (the
n-step return of an exploratory behaviour is used as it is, as in Rainbow).
"""
from __future__ import annotations

import numpy as np


class NStepWindows:
    """``NStepWindows(n_steps, gamma, obs_shape, obs_dtype, n_actions=None)``: one window of pending
    transitions per env copy, allocated at the first :meth:`push` (its batch size fixes the number
    of copies). With ``n_actions``, each pending transition keeps the action mask of its ``obs``."""

    def __init__(self, n_steps: int, gamma: float, obs_shape: tuple, obs_dtype=np.float32, n_actions=None):
        self.n_steps, self.gamma = n_steps, float(gamma)
        self.obs_shape, self.obs_dtype = tuple(obs_shape), np.dtype(obs_dtype)
        self.n_actions = n_actions
        self._allocate(0)

    def _allocate(self, copies: int) -> None:
        n = self.n_steps
        self.obs = np.zeros((copies, n, *self.obs_shape), self.obs_dtype)  # (C, n, *obs_shape)
        self.actions = np.zeros((copies, n), np.int64)                      # (C, n)
        self.rewards = np.zeros((copies, n), np.float64)                    # (C, n)
        self.count = np.zeros(copies, np.int64)                             # (C,) pending per copy
        self.masks = None if self.n_actions is None else np.ones((copies, n, self.n_actions), bool)  # (C, n, A)

    @property
    def pending(self) -> int:
        """How many transitions wait in the windows (not yet given to the replay)."""
        return int(self.count.sum())

    def push(self, obs, action, reward, next_obs, terminated, truncated, next_mask, mask=None):
        """Add one step of every copy (arrays with a leading axis ``C``; ``mask`` the action mask of
        ``obs``, all allowed when None) and return the transitions complete now as ``(obs, action,
        R, next_obs, terminated, discount, next_mask, mask)`` with a leading axis ``m`` (by copy,
        then by time; ``next_mask`` None if not given, ``mask`` None unless kept).

        Nothing changes until :meth:`commit` is called with the returned ``state``, so that a
        caller can refuse the step (e.g. a non-finite ``R``) with the windows as they were.
        Returns ``(transitions, state)``.
        """
        C, n = obs.shape[0], self.n_steps
        state = self._state_for(C)
        w_obs, w_act, w_rew, count, w_mask = state
        rows = np.arange(C)
        w_obs[rows, count], w_act[rows, count], w_rew[rows, count] = obs, action, reward
        if w_mask is not None:
            w_mask[rows, count] = True if mask is None else mask
        count = count + 1
        ended = terminated | truncated                                      # (C,)
        j = np.arange(n)                                                    # window positions
        # leaving: the oldest of a full window, and everything in a window whose episode ended
        oldest_of_full = (j[None, :] == 0) & (count[:, None] == n)         # (C, n)
        leaving = (j[None, :] < count[:, None]) & (ended[:, None] | oldest_of_full)  # (C, n)
        i, j_out = np.nonzero(leaving)                                      # (m,) copy, position
        k = count[i] - j_out                                                # (m,) steps each window has
        m_steps = j[None, :] - j_out[:, None]                               # (m, n) step m of the window
        in_window = (m_steps >= 0) & (m_steps < k[:, None])
        weights = np.where(in_window, self.gamma ** np.maximum(m_steps, 0), 0.0)  # gamma^m inside
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by the caller, by name
            R = (w_rew[i] * weights).sum(axis=1)                            # (m,)
        discount = self.gamma ** k.astype(np.float64)                       # (m,); gamma^1 is gamma exactly
        out = (w_obs[i, j_out], w_act[i, j_out], R, next_obs[i], terminated[i], discount,
               None if next_mask is None else next_mask[i], None if w_mask is None else w_mask[i, j_out])
        # What stays: a full window drops its oldest; an ended episode empties its window.
        full = (count == n) & ~ended
        w_obs[full], w_act[full], w_rew[full] = (np.roll(a[full], -1, axis=1) for a in (w_obs, w_act, w_rew))
        if w_mask is not None:
            w_mask[full] = np.roll(w_mask[full], -1, axis=1)
        count = np.where(ended, 0, np.where(full, n - 1, count))
        return out, (w_obs, w_act, w_rew, count, w_mask)

    def _state_for(self, copies: int):
        """Copies of the windows for a push of ``copies`` steps (fresh ones if all are empty)."""
        if copies != self.count.shape[0]:
            if self.pending:
                raise ValueError(f"observe got a batch of {copies} transitions while {self.count.shape[0]} "
                                 f"env copies have {self.pending} transitions pending in their n-step "
                                 "windows: the batch must keep one row per env copy until their episodes end")
            self._allocate(copies)
        return (self.obs.copy(), self.actions.copy(), self.rewards.copy(), self.count.copy(),
                None if self.masks is None else self.masks.copy())

    def commit(self, state) -> None:
        """Keep the windows :meth:`push` returned."""
        self.obs, self.actions, self.rewards, self.count, self.masks = state

    def push_into(self, buffer, obs, action, reward, next_obs, terminated, truncated, next_mask, mask=None) -> None:
        """:meth:`push` one step of every copy and add what leaves the windows to ``buffer`` (a
        replay that stores discounts); input the buffer would refuse, or a return that overflows, is
        refused before anything changes."""
        buffer.check(obs, action, reward, next_obs, terminated, next_mask, action_mask=mask)  # now, not later
        out, state = self.push(obs, action, reward, next_obs, terminated, truncated, next_mask, mask)
        obs, action, R, next_obs, terminated, discount, next_mask, mask = out
        if not np.isfinite(R).all():
            raise ValueError(f"the {self.n_steps}-step return overflows: rewards {reward} on top of "
                             f"the pending ones give {R}; scale the rewards down")
        if R.size:
            buffer.add(obs, action, R, next_obs, terminated, next_mask, discount.astype(buffer.discounts.dtype), mask)
        self.commit(state)

    def clear(self) -> int:
        """Drop every pending transition (an episode that will not be continued); returns how many."""
        dropped = self.pending
        self.count[:] = 0
        return dropped

    # ------------------------------------------------------------------ checkpoints
    STATE_KEYS = ("obs", "actions", "rewards", "count")  # and "action_mask" for windows that keep masks

    def state_dict(self) -> dict:
        """The pending windows, as arrays (``count`` ``(C,)`` says how many of each are used)."""
        state = {"obs": self.obs.copy(), "actions": self.actions.copy(), "rewards": self.rewards.copy(),
                 "count": self.count.copy()}
        if self.masks is not None:
            state["action_mask"] = self.masks.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`, checked against ``n_steps``, the observation shape and
        whether masks are kept first."""
        count = np.asarray(state["count"])
        if count.ndim != 1 or count.dtype.kind not in "iu" or np.any(count < 0) or np.any(count >= self.n_steps):
            raise ValueError(f"n-step count must be a 1-D array of integers in [0, {self.n_steps}), got "
                             f"{count.dtype} {count.shape}")
        C, n = count.shape[0], self.n_steps
        obs, actions, rewards = (np.asarray(state[k]) for k in ("obs", "actions", "rewards"))
        for name, a, shape, kinds in (("obs", obs, (C, n, *self.obs_shape), "f"), ("actions", actions, (C, n), "iu"),
                                      ("rewards", rewards, (C, n), "f")):
            if a.shape != shape or a.dtype.kind not in kinds:
                raise ValueError(f"n-step {name} must be {shape} of kind {kinds!r}, got {a.dtype} {a.shape}")
            if kinds == "f" and not np.isfinite(a).all():
                raise ValueError(f"n-step {name} must be finite")
        masks = state.get("action_mask")
        if (masks is None) != (self.n_actions is None):
            raise ValueError("the n-step state and the windows disagree on whether action masks are kept")
        if masks is not None:
            masks = np.asarray(masks)
            if masks.shape != (C, n, self.n_actions) or masks.dtype != bool:
                raise ValueError(f"n-step action_mask must be bool {(C, n, self.n_actions)}, got {masks.dtype} "
                                 f"{masks.shape}")
        self.masks = masks
        self.obs, self.actions = obs.astype(self.obs_dtype), actions.astype(np.int64)
        self.rewards, self.count = rewards.astype(np.float64), count.astype(np.int64)

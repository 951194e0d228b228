"""Experience replay: a preallocated ring buffer of transitions with seeded uniform sampling.

A transition is ``(obs, action, reward, next_obs, terminated)``, optionally with the action mask of
``next_obs`` (so a target's ``max`` skips actions that are not allowed there). Storage is one NumPy
array per field, written at ``(pos + k) % capacity``: once full, the oldest entries are
overwritten. Only ``terminated`` is stored: a time-limit truncation is not the end of the
shopper's story, and its next state must still be bootstrapped from. With ``gamma`` given, each
transition also carries the discount to bootstrap with (``gamma`` for a one-step transition,
``gamma^k`` for a k-step return made by ``nstep.py``). With ``keep_action_mask``, the action mask of
``obs`` is kept too (a dueling network's ``Q(s, .)`` depends on it). Prioritised replay is left out.
"""
from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from ._checkpoint import generator_from_json, generator_to_json
from ._validate import as_generator, check_array, check_float, check_int, check_mask


class Batch(NamedTuple):
    """A sample of ``B`` transitions: ``obs (B, *obs_shape)``, ``actions (B,)`` int64,
    ``rewards (B,)`` float64 (always: a reward of 1e-50 must not become 0 in float32 before the
    agent scales it), ``next_obs (B, *obs_shape)``,
    ``terminated (B,)`` bool."""
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray


class ReplayBuffer:
    """``ReplayBuffer(capacity, obs_shape, obs_dtype=np.float32, seed=0, n_actions=None, gamma=None,
    keep_action_mask=False)``.

    With ``n_actions`` given, actions are checked against it and a next-state action mask
    ``(capacity, n_actions)`` is kept (all True where ``add`` receives none); with
    ``keep_action_mask`` also the mask of ``obs``, ``action_mask (capacity, n_actions)`` (all True
    where ``add`` receives none; without it, a mask given to ``add`` is checked, not kept). With ``gamma``
    given, a per-transition discount ``discounts (capacity,)`` of ``obs_dtype`` is kept (``gamma``
    where ``add`` receives none; the learner's dtype, so a one-step target is computed exactly as
    with ``gamma`` itself).
    """

    def __init__(self, capacity: int, obs_shape, obs_dtype=np.float32, seed=0, n_actions: int | None = None,
                 gamma: float | None = None, keep_action_mask: bool = False):
        self.capacity = check_int("capacity", capacity, minimum=1)
        if isinstance(obs_shape, (int, np.integer)):
            obs_shape = (obs_shape,)
        self.obs_shape = tuple(check_int("obs_shape entry", n, minimum=1) for n in obs_shape)
        if not np.issubdtype(np.dtype(obs_dtype), np.floating):
            raise TypeError(f"obs_dtype must be a floating-point type, got {np.dtype(obs_dtype)}")
        self.n_actions = None if n_actions is None else check_int("n_actions", n_actions, minimum=1)
        self.obs = np.zeros((self.capacity, *self.obs_shape), obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, np.int64)
        self.rewards = np.zeros(self.capacity, np.float64)  # exact as given; a float32 would flush 1e-50 to 0
        self.terminated = np.zeros(self.capacity, bool)
        self.next_action_mask = (None if self.n_actions is None
                                 else np.ones((self.capacity, self.n_actions), bool))
        if not isinstance(keep_action_mask, (bool, np.bool_)):
            raise TypeError(f"keep_action_mask must be a bool, got {keep_action_mask!r}")
        if keep_action_mask and self.n_actions is None:
            raise ValueError("keep_action_mask=True needs n_actions")
        self.action_mask = np.ones((self.capacity, self.n_actions), bool) if keep_action_mask else None
        self.gamma = None if gamma is None else check_float("gamma", gamma, 0.0, 1.0)
        self.discounts = None if gamma is None else np.full(self.capacity, self.gamma, obs_dtype)
        self.rng = as_generator(seed)
        self.pos = 0   # where the next transition goes
        self.size = 0  # how many are stored

    def __len__(self) -> int:
        return self.size

    def check(self, obs, action, reward, next_obs, terminated, next_action_mask=None, discount=None,
              action_mask=None) -> tuple:
        """The fields of one transition or a batch, checked and converted as :meth:`add` stores
        them (a ``TypeError`` or ``ValueError`` naming the field otherwise), returned in order. Also
        for a caller that holds transitions back before storing them (DQN's n-step windows)."""
        obs = check_array("obs", obs, dtype=self.obs.dtype)
        batched = obs.ndim == len(self.obs_shape) + 1
        lead = (None,) if batched else ()
        obs = check_array("obs", obs, shape=lead + self.obs_shape)
        n = obs.shape[0] if batched else 1
        next_obs = check_array("next_obs", next_obs, shape=obs.shape, dtype=self.obs.dtype)
        want = (n,) if batched else ()
        action = np.asarray(action)
        if action.shape != want or not np.issubdtype(action.dtype, np.integer):
            raise TypeError(f"action must be {'an integer array of shape ' + str(want) if batched else 'an integer'}, "
                            f"got {action!r}")
        if np.any(action < 0) or (self.n_actions is not None and np.any(action >= self.n_actions)):
            raise ValueError(f"action must be in [0, {self.n_actions or 'n_actions'}), got {action!r}")
        reward = check_array("reward", reward, shape=want, dtype=self.rewards.dtype)
        terminated = np.asarray(terminated)
        if terminated.shape != want or terminated.dtype != bool:
            raise TypeError(f"terminated must be a bool{' array of shape ' + str(want) if batched else ''}, "
                            f"got {terminated!r}")
        if next_action_mask is not None:
            if self.n_actions is None:
                raise ValueError("next_action_mask given, but the buffer was made without n_actions")
            # A terminal next state may allow nothing (sold out); any other must allow something,
            # or the target's max would range over no action at all.
            next_action_mask = check_mask("next_action_mask", next_action_mask, want + (self.n_actions,),
                                          allow_empty=terminated)
        if discount is not None:
            if self.discounts is None:
                raise ValueError("discount given, but the buffer was made without gamma")
            discount = check_array("discount", discount, shape=want, dtype=self.discounts.dtype)
            if np.any(discount < 0) or np.any(discount > 1):
                raise ValueError(f"discount must be in [0, 1], got {discount!r}")
        if action_mask is not None:
            if self.n_actions is None:
                raise ValueError("action_mask given, but the buffer was made without n_actions")
            # the mask of obs, where the action was taken: it must allow something, and the action
            action_mask = check_mask("action_mask", action_mask, want + (self.n_actions,))
            taken = action_mask.reshape(n, self.n_actions)[np.arange(n), action.reshape(n)]
            if not taken.all():
                raise ValueError(f"action must be allowed by action_mask (the mask of obs): action "
                                 f"{action.reshape(n)[~taken][0]} is not, in row {np.flatnonzero(~taken)[0]}")
        return obs, action, reward, next_obs, terminated, next_action_mask, discount, action_mask

    def add(self, obs, action, reward, next_obs, terminated, next_action_mask=None, discount=None,
            action_mask=None) -> None:
        """Store one transition, or a batch of ``n`` (every field with a leading axis ``n``);
        ``discount`` (in [0, 1]) only for a buffer made with ``gamma``; ``action_mask``, the mask of
        ``obs`` (it must allow ``action``), kept only by a buffer made with ``keep_action_mask``.

        Everything is checked (by :meth:`check`) before anything is written.
        """
        obs, action, reward, next_obs, terminated, next_action_mask, discount, action_mask = self.check(
            obs, action, reward, next_obs, terminated, next_action_mask, discount, action_mask)
        n = obs.shape[0] if obs.ndim == len(self.obs_shape) + 1 else 1
        skip = max(0, n - self.capacity)  # of a batch larger than the buffer, only the tail survives
        if skip:
            obs, next_obs, action, reward, terminated = (obs[skip:], next_obs[skip:], action[skip:],
                                                         reward[skip:], terminated[skip:])
            next_action_mask = None if next_action_mask is None else next_action_mask[skip:]
            action_mask = None if action_mask is None else action_mask[skip:]
            discount = None if discount is None else discount[skip:]
        idx = (self.pos + skip + np.arange(n - skip)) % self.capacity
        self.obs[idx] = obs
        self.next_obs[idx] = next_obs
        self.actions[idx] = action
        self.rewards[idx] = reward
        self.terminated[idx] = terminated
        if self.next_action_mask is not None:
            self.next_action_mask[idx] = True if next_action_mask is None else next_action_mask
        if self.discounts is not None:
            self.discounts[idx] = self.gamma if discount is None else discount
        if self.action_mask is not None:
            self.action_mask[idx] = True if action_mask is None else action_mask
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """``batch_size`` indices drawn uniformly, with replacement, from the filled part."""
        batch_size = check_int("batch_size", batch_size, minimum=1)
        if batch_size > self.size:
            raise RuntimeError(f"cannot sample batch_size={batch_size} from a buffer holding {self.size} "
                               "transitions; add more first (see learning_starts)")
        return self.rng.integers(0, self.size, size=batch_size)

    def batch(self, idx: np.ndarray) -> Batch:
        """The transitions at ``idx`` (indices from :meth:`sample_indices`), as new arrays."""
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.terminated[idx])

    def sample(self, batch_size: int) -> Batch:
        """A ``Batch`` of ``batch_size`` transitions drawn uniformly from what is stored."""
        return self.batch(self.sample_indices(batch_size))

    # ------------------------------------------------------------------ checkpoints
    # What state_dict() holds (and "next_action_mask", "discounts", "action_mask" when those are kept).
    STATE_KEYS = ("capacity", "pos", "size", "obs", "next_obs", "actions", "rewards", "terminated", "rng_state")

    def state_dict(self) -> dict:
        """The stored transitions, the write position and the sampler's state, as arrays."""
        n = self.size
        state = {"capacity": np.array(self.capacity), "pos": np.array(self.pos), "size": np.array(n),
                 "obs": self.obs[:n].copy(), "next_obs": self.next_obs[:n].copy(),
                 "actions": self.actions[:n].copy(), "rewards": self.rewards[:n].copy(),
                 "terminated": self.terminated[:n].copy(),
                 "rng_state": np.array(json.dumps(generator_to_json(self.rng)))}
        if self.next_action_mask is not None:
            state["next_action_mask"] = self.next_action_mask[:n].copy()
        if self.discounts is not None:
            state["discounts"] = self.discounts[:n].copy()
        if self.action_mask is not None:
            state["action_mask"] = self.action_mask[:n].copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` into a buffer of the same capacity, shapes and masks.

        A state without ``discounts`` (written before they were kept) restores them as ``gamma``.
        Everything is checked before anything is written.
        """
        try:
            capacity, pos, n = (int(np.asarray(state[k]).item()) for k in ("capacity", "pos", "size"))
            rng = generator_from_json(json.loads(str(state["rng_state"])))
            mask = state.get("next_action_mask")
            if capacity != self.capacity or not (0 <= n <= capacity) or not (0 <= pos < capacity) \
                    or (n < capacity and pos != n):
                raise ValueError(f"capacity {capacity}, size {n}, pos {pos} do not fit a buffer of "
                                 f"capacity {self.capacity}")
            obs = check_array("obs", state["obs"], shape=(n, *self.obs_shape), dtype=self.obs.dtype)
            next_obs = check_array("next_obs", state["next_obs"], shape=(n, *self.obs_shape),
                                   dtype=self.obs.dtype)
            rewards = check_array("rewards", state["rewards"], shape=(n,), dtype=self.rewards.dtype)
            actions = np.asarray(state["actions"])
            terminated = np.asarray(state["terminated"])
            if actions.shape != (n,) or actions.dtype.kind not in "iu" or np.any(actions < 0) \
                    or (self.n_actions is not None and np.any(actions >= self.n_actions)):
                raise ValueError(f"actions must be {n} integers in range, got {actions.dtype} {actions.shape}")
            if terminated.shape != (n,) or terminated.dtype != bool:
                raise ValueError(f"terminated must be {n} bools, got {terminated.dtype} {terminated.shape}")
            if (mask is None) != (self.next_action_mask is None):
                raise ValueError("the state and the buffer disagree on whether action masks are stored")
            if mask is not None and (mask.shape != (n, self.n_actions) or mask.dtype != bool):
                raise ValueError(f"next_action_mask must be bool {(n, self.n_actions)}, got {mask.dtype} {mask.shape}")
            obs_mask = state.get("action_mask")
            if (obs_mask is None) != (self.action_mask is None):
                raise ValueError("the state and the buffer disagree on whether masks of obs (action_mask) "
                                 "are stored")
            if obs_mask is not None:
                obs_mask = np.asarray(obs_mask)
                if obs_mask.shape != (n, self.n_actions) or obs_mask.dtype != bool \
                        or not obs_mask[np.arange(n), actions].all():
                    raise ValueError(f"action_mask must be bool {(n, self.n_actions)} allowing each stored "
                                     f"action, got {obs_mask.dtype} {obs_mask.shape}")
            discounts = state.get("discounts")
            if discounts is not None:
                if self.discounts is None:
                    raise ValueError("the state holds discounts but the buffer was made without gamma")
                discounts = check_array("discounts", discounts, shape=(n,), dtype=self.discounts.dtype)
                if np.any(discounts < 0) or np.any(discounts > 1):
                    raise ValueError("discounts must be in [0, 1]")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"replay state is incomplete or malformed: {e}") from e
        self.obs[:n], self.next_obs[:n], self.rewards[:n] = obs, next_obs, rewards
        self.actions[:n], self.terminated[:n] = actions, terminated
        if mask is not None:
            self.next_action_mask[:n] = mask
        if obs_mask is not None:
            self.action_mask[:n] = obs_mask
        if self.discounts is not None:
            self.discounts[:n] = self.gamma if discounts is None else discounts
        self.pos, self.size, self.rng = pos, n, rng

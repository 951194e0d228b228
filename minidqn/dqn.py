"""The deep Q-network agent: an online and a target MLP, replay, and one vectorized update.

Each update samples ``B`` stored transitions and moves ``Q(s, a)`` of the taken actions toward

    y = r + gamma * (1 - terminated) * Q_target(s', a*),
    a* = argmax_a' Q_online(s', a')   (Double DQN)   or   argmax_a' Q_target(s', a')   (DQN),

with the Huber (or squared) loss, the gradient flowing back only through the taken actions'
outputs, global-norm clipping and Adam. The target network is a slowly-updated copy (a hard copy
every ``target_update`` updates, or Polyak averaging with ``tau``) and never receives gradients.
Acting is ε-greedy with random tie-breaking; action masks, when given, are respected both in acting
and in the target's argmax. Everything else (the interaction loop, metrics) lives in ``train.py``.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_generator, check_array, check_int
from ._dqn_checkpoint import load_dqn, save_dqn
from .dqn_config import DQNConfig
from ._policy import greedy_actions
from .losses import UNCHECKED as LOSS_FUNCTIONS
from .mlp import MLP
from .optim import Adam, clip_grad_norm
from .replay import Batch, ReplayBuffer


class DQNAgent:
    """``DQNAgent(obs_dim, n_actions, **hyperparameters)``; the hyperparameters are the fields of
    :class:`~minidqn.dqn_config.DQNConfig` (documented there), e.g. ``lr=1e-3, gamma=0.95``.

    ``one_hot`` (set by :meth:`for_env` for a ``Discrete`` observation space) makes the agent accept
    integer states and encode them as one-hot vectors of length ``obs_dim``.
    """

    accepts_batches = True  # act/observe take (n, ...) arrays too: train() uses it with vector envs

    def __init__(self, obs_dim: int, n_actions: int, one_hot: bool = False, **hyperparameters):
        self.obs_dim = check_int("obs_dim", obs_dim, minimum=1)
        self.n_actions = check_int("n_actions", n_actions, minimum=1)
        self.one_hot = bool(one_hot)
        self.config = cfg = DQNConfig(**hyperparameters)  # validates every field
        self.rng = as_generator(cfg.seed, "seed")
        net_seed, buffer_seed = self.rng.integers(2**63, size=2)
        self.online = MLP([self.obs_dim, *cfg.hidden, self.n_actions], cfg.activation,
                          seed=int(net_seed), dtype=cfg.dtype)
        self.target = self.online.copy()
        self.optimizer = Adam(self.online.params, lr=cfg.lr)
        self.buffer = ReplayBuffer(cfg.buffer_size, (self.obs_dim,), cfg.dtype, seed=int(buffer_seed),
                                   n_actions=self.n_actions)
        self._loss = LOSS_FUNCTIONS[cfg.loss]
        self.steps = 0      # transitions observed
        self.updates = 0    # gradient steps taken
        self._since_train = 0
        self._workspace: dict[str, np.ndarray] = {}
        self.metadata: dict = {}  # free-form, saved with the agent (e.g. the env it was trained on)
        self._reward_scale = cfg.reward_scale  # None until fixed from data (see DQNConfig)

    @classmethod
    def for_env(cls, env, **hyperparameters) -> "DQNAgent":
        """An agent sized for ``env``'s spaces (``Box`` of shape ``(d,)`` or ``Discrete(n)`` observations)."""
        vector = hasattr(env, "single_observation_space")  # a vector env: spaces of one copy
        obs_space = env.single_observation_space if vector else env.observation_space
        act_space = env.single_action_space if vector else env.action_space
        if not hasattr(act_space, "n"):
            raise TypeError(f"DQN needs a Discrete action space, got {act_space!r}")
        if hasattr(obs_space, "n"):
            return cls(int(obs_space.n), int(act_space.n), one_hot=True, **hyperparameters)
        shape = tuple(obs_space.shape)
        if len(shape) != 1:
            raise TypeError(f"DQN needs flat observations of shape (d,), got shape {shape}; flatten them first")
        return cls(shape[0], int(act_space.n), **hyperparameters)

    # ------------------------------------------------------------------ acting
    @property
    def reward_scale(self) -> float:
        """The factor rewards are multiplied by for learning (1.0 while not yet fixed from data)."""
        return 1.0 if self._reward_scale is None else self._reward_scale

    def _fix_reward_scale(self) -> None:
        # Huber's quadratic zone is |TD error| < 1: with rewards in the hundreds every error would
        # sit on the linear branch, and Q would drift toward a median, not a mean, of the returns.
        largest = float(np.max(np.abs(self.buffer.rewards[:self.buffer.size]), initial=0.0))
        if largest > 0:
            self._reward_scale = 1.0 / largest

    @property
    def epsilon(self) -> float:
        """The exploration rate at the current step."""
        eps = self.config.epsilon
        return float(eps(self.steps)) if callable(eps) else float(eps)

    def _encode(self, obs, name: str = "obs") -> tuple[np.ndarray, bool]:
        """Observations as a ``(n, obs_dim)`` array, and whether the input was a batch."""
        if self.one_hot:
            states = np.asarray(obs)
            if not np.issubdtype(states.dtype, np.integer) or states.ndim > 1:
                raise TypeError(f"{name} must be an integer state or a 1-D array of them, got {obs!r}")
            if np.any(states < 0) or np.any(states >= self.obs_dim):
                raise ValueError(f"{name} must be in [0, {self.obs_dim}), got {obs!r}")
            batched = states.ndim == 1
            encoded = np.zeros((states.size, self.obs_dim), self.config.dtype)
            encoded[np.arange(states.size), states.reshape(-1)] = 1.0
            return encoded, batched
        x = check_array(name, obs, dtype=self.config.dtype)
        if x.ndim == 1:
            return check_array(name, x, shape=(self.obs_dim,))[None, :], False
        return check_array(name, x, shape=(None, self.obs_dim)), True

    def _check_mask(self, action_mask, n: int, batched: bool, name: str = "action_mask", terminal=False):
        """A ``(n, n_actions)`` bool mask; every row must allow an action unless ``terminal``."""
        if action_mask is None:
            return None
        mask = np.asarray(action_mask)
        want = (n, self.n_actions) if batched else (self.n_actions,)
        if mask.dtype != bool or mask.shape != want:
            raise ValueError(f"{name} must be a bool array of shape {want}, got {mask.dtype} {mask.shape}")
        mask = mask.reshape(n, self.n_actions)
        if np.any(~mask.any(axis=1) & ~np.asarray(terminal)):
            raise ValueError(f"{name} allows no action for some (non-terminal) observation")
        return mask

    def q_values(self, obs) -> np.ndarray:
        """``Q(obs, .)`` in reward units: ``(n_actions,)`` for one observation, ``(n, n_actions)`` for n."""
        x, batched = self._encode(obs)
        q = self.online.predict(x) / self.reward_scale
        return q if batched else q[0]

    def act(self, obs, explore: bool = True, action_mask=None):
        """ε-greedy action (an int), or an int array for a batch of observations.

        Greedy ties are broken uniformly at random; with a mask, only allowed actions are chosen,
        by exploration as well as by the greedy choice.
        """
        x, batched = self._encode(obs)
        mask = self._check_mask(action_mask, x.shape[0], batched)
        q = self.online.predict(x)
        actions = greedy_actions(q, mask, self.rng)
        if explore:
            explore_rows = self.rng.random(x.shape[0]) < self.epsilon
            if explore_rows.any():  # uniform over allowed actions: greedy on equal values
                random_actions = greedy_actions(np.zeros_like(q), mask, self.rng)
                actions = np.where(explore_rows, random_actions, actions)
        return actions if batched else int(actions[0])

    def recommend(self, obs, k: int, action_mask=None) -> np.ndarray:
        """The ``k`` actions of highest Q for one observation, best first (equal values in random
        order); masked actions excluded."""
        k = check_int("k", k, minimum=1, maximum=self.n_actions)
        q = self.q_values(obs)
        if q.ndim != 1:
            raise ValueError(f"recommend takes one observation, got a batch of {q.shape[0]}")
        mask = self._check_mask(action_mask, 1, False)
        if mask is not None:
            if k > mask.sum():
                raise ValueError(f"k={k} exceeds the {int(mask.sum())} actions the mask allows")
            q = np.where(mask[0], q, -np.inf)
        return np.lexsort((self.rng.random(q.size), -q))[:k]  # by Q, equal Qs in random order

    # ------------------------------------------------------------------ learning
    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None) -> float | None:
        """Store one transition (or a batch of them) and, on schedule, train.

        Training starts once ``learning_starts`` transitions are stored; then ``gradient_steps``
        updates run for every ``train_freq`` transitions. Returns the last loss, or ``None`` when
        no update ran.
        """
        x, batched = self._encode(obs)
        x_next, _ = self._encode(next_obs, "next_obs")
        if x_next.shape != x.shape:
            raise ValueError(f"next_obs must match obs: got {x_next.shape[0]} next observations for {x.shape[0]}")
        n = x.shape[0]
        want = (n,) if batched else ()
        action, terminated = np.asarray(action), np.asarray(terminated)
        if action.shape != want or terminated.shape != want:
            raise ValueError(f"action and terminated must have shape {want} like the observations, "
                             f"got {action.shape} and {terminated.shape}")
        reward = check_array("reward", reward, shape=want)
        mask = self._check_mask(next_action_mask, n, batched, "next_action_mask", terminal=terminated.reshape(n))
        self.buffer.add(x, action.reshape(n), reward.reshape(n), x_next, terminated.reshape(n), mask)
        self.steps += n
        if self.steps < self.config.learning_starts or self.buffer.size < self.config.batch_size:
            return None
        self._since_train += n
        loss = None
        while self._since_train >= self.config.train_freq:
            self._since_train -= self.config.train_freq
            for _ in range(self.config.gradient_steps):
                loss = self.train_step()
        return loss

    def _buffers(self, B: int) -> tuple[Batch, np.ndarray, np.ndarray]:
        if self._workspace.get("B") != B:
            dt = self.config.dtype
            self._workspace = {
                "B": B, "rows": np.arange(B),
                "batch": Batch(np.empty((B, self.obs_dim), dt), np.empty(B, np.int64),
                               np.empty(B, self.buffer.rewards.dtype),
                               np.empty((B, self.obs_dim), dt), np.empty(B, bool)),
                "grad_q": np.zeros((B, self.n_actions), dt)}
        ws = self._workspace
        return ws["batch"], ws["rows"], ws["grad_q"]

    def td_targets(self, rewards, next_obs, terminated, next_action_mask=None) -> np.ndarray:
        """``y = r + gamma * Q_target(s', a*)`` with ``y = r`` where terminated; shape ``(B,)``.

        ``a*`` is chosen by the online net (Double DQN) or the target net, among allowed actions.
        Inputs: ``rewards (B,)``, ``next_obs (B, obs_dim)`` (encoded), ``terminated (B,)`` bool,
        ``next_action_mask (B, n_actions)`` bool or ``None``.
        """
        B = next_obs.shape[0]
        if np.shape(rewards) != (B,) or np.shape(terminated) != (B,):
            raise ValueError(f"rewards and terminated must have shape ({B},), got {np.shape(rewards)} "
                             f"and {np.shape(terminated)}: (B, 1) against (B,) would broadcast to (B, B)")
        q_next_target = self.target._predict(next_obs)                   # (B, A), no gradient
        chooser = self.online._predict(next_obs) if self.config.double else q_next_target
        if next_action_mask is not None:
            chooser = np.where(next_action_mask, chooser, -np.inf)
        best = np.argmax(chooser, axis=1)
        next_q = q_next_target[np.arange(best.size), best]
        # Mask before adding: 0 * Q(s') would still be NaN if Q(s') were -inf or NaN.
        next_q = np.where(terminated, 0.0, next_q)
        return (rewards + self.config.gamma * next_q).astype(self.config.dtype, copy=False)

    def train_step(self) -> float:
        """One vectorized update on a sampled batch; returns the loss before the update."""
        cfg = self.config
        B = cfg.batch_size
        batch, rows, grad_q = self._buffers(B)
        idx = self.buffer.sample_indices(B)
        obs, actions, rewards, next_obs, terminated = self.buffer.batch(idx, out=batch)
        mask = None if self.buffer.next_action_mask is None else self.buffer.next_action_mask[idx]
        if mask is not None and mask.all():
            mask = None
        if self._reward_scale is None:
            self._fix_reward_scale()
        y = self.td_targets(rewards * self.reward_scale, next_obs, terminated, mask)

        # The underscore paths skip input checks: the buffer checked this data when storing it.
        q = self.online._forward(obs)                                     # (B, A)
        loss, dq = self._loss(q[rows, actions], y)                        # both (B,)
        if not np.isfinite(loss):
            raise self._divergence(loss, norm=None)
        grad_q[rows, actions] = dq        # only the taken actions' outputs receive gradient
        self.online._backward(grad_q, input_grad=False)
        grad_q[rows, actions] = 0.0       # keep the buffer all-zero for the next step
        grads = self.online.grads
        norm = clip_grad_norm(grads, cfg.max_grad_norm) if cfg.max_grad_norm else np.sqrt(grads @ grads)
        if not np.isfinite(norm):
            raise self._divergence(loss, norm)
        self.optimizer.step(self.online.grads)
        self.updates += 1
        self._update_target()
        return loss

    def _divergence(self, loss, norm) -> FloatingPointError:
        cfg = self.config
        return FloatingPointError(
            f"DQN diverged at update {self.updates + 1} (env step {self.steps}): loss={loss}, "
            f"gradient norm={norm}; nothing was updated. Try a smaller lr (now {cfg.lr}), a "
            f"reward_scale that brings rewards near [-1, 1] (now {self.reward_scale}), "
            f"max_grad_norm (now {cfg.max_grad_norm}) or loss='huber' (now {cfg.loss!r}).")

    def _update_target(self) -> None:
        tau = self.config.tau
        if tau is not None:  # Polyak: target <- tau * online + (1 - tau) * target
            self.target.params *= 1.0 - tau
            self.target.params += tau * self.online.params
        elif self.updates % self.config.target_update == 0:
            self.target.params[:] = self.online.params

    # ------------------------------------------------------------------ checkpoints
    def save(self, path, include_buffer: bool = False, metadata: dict | None = None) -> None:
        """Networks, Adam's state, step counts, sampler and exploration state and hyperparameters
        (and, with ``include_buffer``, the replay buffer, so training resumes exactly); ``.npz``.

        ``metadata``: a dict of JSON-able values stored alongside (e.g. which env the agent was
        trained on), given back as ``agent.metadata`` by :meth:`load`; anything else is a ``TypeError``.
        """
        save_dqn(self, path, include_buffer, metadata)

    @classmethod
    def load(cls, path, **overrides) -> "DQNAgent":
        """Rebuild an agent written by :meth:`save`; ``overrides`` replace saved hyperparameters
        (``lr``, ``epsilon``, ...; needed for an ``epsilon`` that was a custom callable).

        The network's shape, activation, dtype and reward scale cannot be overridden, nor the
        ``seed`` (a loaded agent continues its saved random state), nor ``buffer_size`` when the
        file holds a replay buffer: those are ``TypeError``/``ValueError`` about the argument. A
        file that is not a sound checkpoint is a ``ValueError`` naming it; its declared sizes
        are checked against its arrays' headers before anything is allocated.
        """
        return load_dqn(cls, path, overrides)

    def __repr__(self) -> str:
        return (f"DQNAgent(obs_dim={self.obs_dim}, n_actions={self.n_actions}, steps={self.steps}, "
                f"updates={self.updates}, hidden={self.config.hidden})")

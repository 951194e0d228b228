"""The deep Q-network agent: an online and a target MLP, replay, and one vectorized update.

Each update samples ``B`` stored transitions and moves ``Q(s, a)`` of the taken actions toward

    y = r + gamma * (1 - terminated) * Q_target(s', a*),
    a* = argmax_a' Q_online(s', a')   (Double DQN)   or   argmax_a' Q_target(s', a')   (DQN),

with the Huber (or squared) loss (plus, with ``cql_alpha > 0``, conservative Q-learning's
``losses.cql_penalty``), global-norm clipping and Adam. The target network is a slowly-updated copy
(a hard copy every ``target_update`` updates, or Polyak averaging with ``tau``) and never receives
gradients. Acting is ε-greedy with random tie-breaking; action masks, when given, are respected both
in acting and in the target's argmax. With ``n_steps > 1``, ``r`` is an n-step return and ``gamma``
its ``gamma^k``, both stored with the transition (``nstep.py``). With ``dueling``, the network is
``dueling.py``'s (its mean runs over the actions each state allows, so the mask of ``s`` is stored
too, as for CQL's logsumexp). The interaction loop lives in ``train.py``.
"""
from __future__ import annotations

import math

import numpy as np

from ._validate import as_generator, check_array, check_float, check_int, check_mask, check_space, encode_states
from ._dqn_checkpoint import load_dqn, restore_dqn, save_dqn
from .dqn_config import DQNConfig
from ._policy import greedy_actions
from .losses import cql_penalty, huber, mse
from .dueling import DuelingQNet
from .mlp import MLP
from .nstep import NStepWindows
from .optim import Adam, clip_grad_norm
from .replay import ReplayBuffer
from .schedules import LinearSchedule


class DQNAgent:
    """``DQNAgent(obs_dim, n_actions, **hyperparameters)``; the hyperparameters are the fields of
    :class:`~minidqn.dqn_config.DQNConfig` (documented there), e.g. ``lr=2.5e-4, gamma=0.99``.

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
        self.online = self._network(int(net_seed))
        self.target = self.online.copy()
        self.optimizer = Adam(self.online.params, lr=cfg.lr)
        self.buffer = self._replay(int(buffer_seed))
        # transitions wait here until their n-step return is known (none wait when n_steps is 1)
        self.nstep = NStepWindows(cfg.n_steps, cfg.gamma, (self.obs_dim,), cfg.dtype,
                                  self.n_actions if cfg.keeps_obs_mask else None) if cfg.n_steps > 1 else None
        self._loss = {"huber": huber, "mse": mse}[cfg.loss]
        self._rows = np.arange(cfg.batch_size)  # row indices of a batch, for q[rows, actions]
        self.steps = 0      # transitions observed
        self._since_train = 0
        self._lr_run = None  # (first step, LinearSchedule of lr) while train() runs: see start_run
        self.metadata: dict = {}  # free-form, saved with the agent (e.g. the env it was trained on)
        self._reward_scale = cfg.reward_scale  # None until fixed from data (see DQNConfig)

    def _network(self, seed: int):
        """The online network: an ``MLP``, or a ``DuelingQNet`` (``ItemDQNAgent``: its own)."""
        cfg = self.config
        return (DuelingQNet if cfg.dueling else MLP)([self.obs_dim, *cfg.hidden, self.n_actions],
                                                     cfg.activation, seed=seed, dtype=cfg.dtype)

    def _replay(self, seed: int) -> ReplayBuffer:
        """The replay buffer, with next-state action masks and per-transition discounts."""
        cfg = self.config
        return ReplayBuffer(cfg.buffer_size, (self.obs_dim,), cfg.dtype, seed=seed, n_actions=self.n_actions,
                            gamma=cfg.gamma, keep_action_mask=cfg.keeps_obs_mask)  # dueling, CQL: mask of s

    @classmethod
    def for_env(cls, env, **hyperparameters) -> "DQNAgent":
        """An agent sized for ``env``'s spaces (of one copy, for a vector env): observations a
        ``Box`` of shape ``(d,)`` (or ``MultiBinary(d)``) or ``Discrete(n)`` (one-hot encoded), actions
        ``Discrete(n)``. Other spaces (Tuple, Dict, images, ``Discrete(n, start=k)``, continuous
        actions) are a ``TypeError`` naming the Gymnasium wrapper that makes them fit."""
        one_hot, obs_dim = check_space("DQNAgent", env, "observation")
        _, n_actions = check_space("DQNAgent", env, "action", discrete_only=True)
        return cls(obs_dim, n_actions, one_hot=one_hot, **hyperparameters)

    # ------------------------------------------------------------------ acting
    @property
    def updates(self) -> int:
        """Gradient updates taken: Adam's step count, the one counter (a Ctrl-C between two
        counters could otherwise save a checkpoint that disagrees with itself)."""
        return self.optimizer.t

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
        # a schedule is checked at every step, not only at step 0: a later value of 5.0 is an error
        return check_float(f"epsilon({self.steps})", eps(self.steps), 0.0, 1.0) if callable(eps) else eps

    def encode(self, obs, name: str = "obs") -> tuple[np.ndarray, bool]:
        """The network's input for one observation or a batch: a ``(n, obs_dim)`` array of the
        agent's dtype (one-hot rows for integer states), and whether the input was a batch."""
        return encode_states(obs, self.obs_dim, self.one_hot, self.config.dtype, name)

    def _check_mask(self, action_mask, n: int, batched: bool, name: str = "action_mask", terminal=False):
        """A ``(n, n_actions)`` bool mask from a bool or 0/1 one of shape ``(n_actions,)`` (one
        observation) or ``(n, n_actions)`` (a batch); every row must allow an action unless ``terminal``."""
        want = (n, self.n_actions) if batched else (self.n_actions,)
        mask = check_mask(name, action_mask, want, allow_empty=terminal)
        return None if mask is None else mask.reshape(n, self.n_actions)

    def _finite_q(self, x: np.ndarray, mask=None) -> np.ndarray:
        """``Q(x, .)`` in the learner's units (dueling: ``mask``'s mean), refusing an overflow: finite
        observations as large as 3e38 make every Q NaN, and a NaN Q would rank a masked action first."""
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by name
            q = self.online.predict(x, **({"mask": mask} if self.config.dueling else {}))
        if not np.isfinite(q).all():
            raise FloatingPointError(f"Q-values overflow for observations as large as {np.abs(x).max():.3g}: "
                                     "scale the observations (or the env's features) to moderate values")
        return q

    def q_values(self, obs, action_mask=None) -> np.ndarray:
        """``Q(obs, .)`` in reward units: ``(n_actions,)`` for one observation, ``(n, n_actions)`` for n.
        Only a dueling network's values depend on ``action_mask`` (by a constant per observation)."""
        x, batched = self.encode(obs)
        q = self._finite_q(x, self._check_mask(action_mask, x.shape[0], batched)) / self.reward_scale
        return q if batched else q[0]

    def act(self, obs, explore: bool = True, action_mask=None):
        """ε-greedy action (an int), or an int array for a batch of observations.

        Greedy ties are broken uniformly at random; with a mask (bool or 0/1, like Gymnasium's int8
        ``info["action_mask"]``), only allowed actions are chosen, by exploration and greedy choice alike."""
        x, batched = self.encode(obs)
        mask = self._check_mask(action_mask, x.shape[0], batched)
        q = self._finite_q(x, mask)
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
        x, batched = self.encode(obs)
        if batched:
            raise ValueError(f"recommend takes one observation, got a batch of {x.shape[0]}")
        mask = self._check_mask(action_mask, 1, False)
        q = self._finite_q(x, mask)[0]
        if mask is not None:
            if k > mask.sum():
                raise ValueError(f"k={k} exceeds the {int(mask.sum())} actions the mask allows")
            q = np.where(mask[0], q, -np.inf)
        return np.lexsort((self.rng.random(q.size), -q))[:k]  # by Q, equal Qs in random order

    # ------------------------------------------------------------------ learning
    def start_run(self, total_steps: int | None) -> None:
        """``train()`` calls this before its first step, and with None after its last (or on an error):
        over its ``total_steps`` steps Adam's learning rate falls linearly from ``lr`` to ``lr *
        lr_end_factor`` (constant when 1.0); outside a run it is ``lr``, as in a saved agent."""
        cfg = self.config
        if total_steps is None:
            self._lr_run, self.optimizer.lr = None, cfg.lr
            return
        total_steps = check_int("total_steps", total_steps, minimum=1)
        self._lr_run = (self.steps, LinearSchedule(cfg.lr, cfg.lr * cfg.lr_end_factor, total_steps))

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None,
                truncated=False, action_mask=None) -> float | None:
        """Store one transition (or a batch of them, one row per env copy) and, on schedule, train.

        Training starts once ``learning_starts`` transitions are observed; then ``gradient_steps``
        updates run for every ``train_freq`` transitions. Returns the last loss, or ``None`` when
        no update ran. ``truncated`` (a bool, or one per row): the episode was cut here by a time
        limit; with ``n_steps > 1`` it closes the copy's n-step window (``train`` passes it), with
        ``n_steps = 1`` it changes nothing. With ``n_steps > 1`` a transition is stored once its
        n-step return is known, ``n_steps - 1`` steps later or at the episode's end. ``action_mask``: the
        mask of ``obs``, allowing ``action`` (``train`` passes it); stored if ``config.keeps_obs_mask``.
        """
        x, batched = self.encode(obs)
        x_next, _ = self.encode(next_obs, "next_obs")
        if x_next.shape != x.shape:
            raise ValueError(f"next_obs must match obs: got {x_next.shape[0]} next observations for {x.shape[0]}")
        n = x.shape[0]
        want = (n,) if batched else ()
        action, terminated, truncated = np.asarray(action), np.asarray(terminated), np.asarray(truncated)
        if action.shape != want or terminated.shape != want or truncated.shape not in (want, ()):
            raise ValueError(f"action and terminated (and truncated, if not one bool) must have shape {want} like "
                             f"the observations, got {action.shape}, {terminated.shape} and {truncated.shape}")
        if truncated.dtype != bool:
            raise TypeError(f"truncated must be a bool or an array of bools, got {truncated!r}")
        reward = check_array("reward", reward, shape=want)
        mask = self._check_mask(next_action_mask, n, batched, "next_action_mask", terminal=terminated.reshape(n))
        obs_mask = self._check_mask(action_mask, n, batched)  # stored only if config.keeps_obs_mask
        if self.nstep is None:
            self.buffer.add(x, action.reshape(n), reward.reshape(n), x_next, terminated.reshape(n), mask,
                            action_mask=obs_mask)
        else:
            self.nstep.push_into(self.buffer, x, action.reshape(n), reward.reshape(n), x_next, terminated.reshape(n),
                                 np.broadcast_to(truncated, want).reshape(n), mask, obs_mask)
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

    def end_episodes(self) -> int:
        """Drop the transitions waiting in the n-step windows, for a run stopped mid-episode
        (``train`` calls it on Ctrl-C): they cannot be completed, and kept they would be glued onto
        the next run's first episode. Returns how many were dropped (always 0 with ``n_steps=1``)."""
        return 0 if self.nstep is None else self.nstep.clear()

    def train_step(self) -> float:
        """One vectorized Double-DQN update on a sampled batch; returns the loss before the update.

        The whole algorithm, top to bottom: sample ``B`` transitions, the target
        ``y = r + gamma * Q_target(s', argmax_a' Q_online(s', a'))`` (``y = r`` where terminated;
        ``gamma`` is each transition's stored discount: ``gamma``, or ``gamma^k`` for a k-step return),
        the loss between ``y`` and ``Q_online(s, a)`` of the taken actions (plus ``cql_penalty``), backward,
        clip, Adam, and the target's sync (the target in :meth:`_td_target`, the step and sync in
        :meth:`_apply_gradients`: ``ItemDQNAgent`` shares both). ``tests/test_dqn.py`` checks it
        against the same update written one transition at a time.
        """
        cfg, buf, rows = self.config, self.buffer, self._rows
        idx = buf.sample_indices(cfg.batch_size)                           # (B,), uniform, with replacement
        obs, act, rew, next_obs, done = buf.batch(idx)                     # (B, d) (B,) (B,) (B, d) (B,)
        # a dueling head's mean runs over the actions each state allows; a plain MLP takes no mask
        at_s = {"mask": buf.action_mask[idx]} if cfg.dueling else {}
        td_target = self._td_target(idx, rew, next_obs, done)              # (B,)

        # The loss, and its gradient through Q(s, a) of the taken actions (CQL's: through every allowed a).
        q = self.online.forward(obs, **at_s)                                # (B, A), kept for backward
        loss, dq_taken = self._loss(q[rows, act], td_target.astype(q.dtype))  # (B,) and (B,): never (B, 1)
        # conservative Q-learning (cql_alpha > 0): + alpha * mean(logsumexp_a Q(s, a) - Q(s, a_logged))
        penalty, dq = (cql_penalty(q, act, cfg.cql_alpha, buf.action_mask[idx]) if cfg.cql_alpha
                       else (0, np.zeros_like(q)))                           # dq (B, A): the penalty's gradient
        loss += penalty
        if not math.isfinite(loss):
            raise self._divergence(loss, norm=None)
        dq[rows, act] += dq_taken                                           # other actions: only CQL's gradient
        self.online.backward(dq, input_grad=False)
        return self._apply_gradients(loss)

    def _td_target(self, idx, rew, next_obs, done) -> np.ndarray:
        """``y = r + gamma * Q_target(s', argmax_a' Q_online(s', a'))`` of the stored transitions
        ``idx`` (``y = r`` where terminated), ``(B,)``; the max over the actions allowed in ``s'``.
        (``ItemDQNAgent`` shares it: its networks' ``predict`` scores the current catalogue.)"""
        cfg, buf = self.config, self.buffer
        next_mask = buf.next_action_mask[idx]                              # (B, A): a' allowed in s'
        discount = buf.discounts[idx]                                      # (B,): gamma, or gamma^k (n-step)
        at_next = {"mask": next_mask} if cfg.dueling else {}               # dueling: mean over allowed a'
        if self._reward_scale is None:
            self._fix_reward_scale()
        # The target net only evaluates; it is never trained (no backward through it).
        next_q_target = self.target.predict(next_obs, **at_next)            # (B, A)
        # Double DQN: the online net chooses a', the target net values it (plain DQN: target does both).
        chooser = self.online.predict(next_obs, **at_next) if cfg.double else next_q_target
        next_a = np.where(next_mask, chooser, -np.inf).argmax(axis=1)      # (B,), allowed actions only
        next_q = next_q_target[self._rows, next_a]                          # (B,)
        # No bootstrap from a terminal state (a time-limit cut was stored as not terminated).
        # np.where, not (1 - done) * next_q: 0 * inf would be NaN.
        return rew * self.reward_scale + discount * np.where(done, 0.0, next_q)  # (B,)

    def _apply_gradients(self, loss: float) -> float:
        """Clip ``online.grads`` (written by backward), take Adam's step and let the target network
        follow; returns ``loss``. A non-finite gradient norm stops it before anything changes."""
        cfg = self.config
        norm = clip_grad_norm(self.online.grads, cfg.max_grad_norm or np.inf)
        if not math.isfinite(norm):
            raise self._divergence(loss, norm)
        if self._lr_run is not None:  # decaying over a train() run
            first, lr = self._lr_run
            self.optimizer.lr = lr(self.steps - first)
        self.optimizer.step(self.online.grads)  # counts the update: self.updates is Adam's t

        # The target network follows: Polyak averaging every update, or a hard copy now and then.
        if cfg.tau is not None:
            self.target.params += cfg.tau * (self.online.params - self.target.params)
        elif self.updates % cfg.target_update == 0:
            self.target.params[:] = self.online.params
        return loss

    def _divergence(self, loss, norm) -> FloatingPointError:
        cfg = self.config
        return FloatingPointError(
            f"DQN diverged at update {self.updates + 1} (env step {self.steps}): loss={loss}, "
            f"gradient norm={norm}; nothing was updated. Try a smaller lr (now {cfg.lr}), a "
            f"reward_scale that brings rewards near [-1, 1] (now {self.reward_scale}), "
            f"max_grad_norm (now {cfg.max_grad_norm}) or loss='huber' (now {cfg.loss!r}).")

    # ------------------------------------------------------------------ snapshots and checkpoints
    def snapshot(self) -> dict:
        """A copy of what was learned: both networks' parameters and the reward scale (for
        ``train(keep_best=True)``). Counts, Adam's moments, the replay and ε are not in it."""
        return {"online": self.online.params.copy(), "target": self.target.params.copy(),
                "reward_scale": self._reward_scale}

    def restore(self, snapshot: dict) -> None:
        """Put back the parameters of a :meth:`snapshot` of this agent (or one of the same shape)."""
        restore_dqn(self, snapshot)  # checked first, in _dqn_checkpoint.py

    def save(self, path, include_buffer: bool = False, metadata: dict | None = None) -> None:
        """Networks, Adam's state, step counts, sampler and exploration state and hyperparameters
        (and, with ``include_buffer``, the replay buffer, so training resumes exactly); ``.npz``.

        ``metadata``: a dict of JSON-able values stored alongside (e.g. which env the agent was
        trained on), given back as ``agent.metadata`` by :meth:`load`; anything else is a ``TypeError``."""
        save_dqn(self, path, include_buffer, metadata)

    @classmethod
    def load(cls, path, **overrides) -> "DQNAgent":
        """Rebuild an agent written by :meth:`save`; ``overrides`` replace saved hyperparameters
        (``lr``, ``epsilon``, ...; needed for an ``epsilon`` that was a custom callable).

        The network's shape, activation, dtype and reward scale cannot be overridden, nor the
        ``seed`` (a loaded agent continues its saved random state), nor ``buffer_size`` when the
        file holds a replay buffer: those are ``TypeError``/``ValueError`` about the argument. A
        file that is not a sound checkpoint is a ``ValueError`` naming it; its declared sizes
        are checked against its arrays' headers before anything is allocated."""
        return load_dqn(cls, path, overrides)

    def __repr__(self) -> str:
        return (f"DQNAgent(obs_dim={self.obs_dim}, n_actions={self.n_actions}, steps={self.steps}, "
                f"updates={self.updates}, hidden={self.config.hidden})")

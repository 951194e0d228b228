"""SlateQAgent: SlateQ (Ie et al., IJCAI 2019) with a learned choice model, on NumPy.

A slate's value decomposes over the product the shopper chooses (SlateQ's assumption: the reward
and the next state depend on the slate only through that choice, ``i = 0`` being no click):

    Q(s, A) = sum_{i in A} P(i | s, A) Q_bar(s, i) + P(0 | s, A) Q_bar(s, 0)

so only the item-wise ``Q_bar`` is learned: an ``MLP([obs_dim, *hidden, N + 1])``, one output per
product and the last for no click. ``P(i | s, A)`` is a ``ConditionalLogit`` fitted to the clicks
on the slates actually shown (``conditional_logit.py``); the agent never reads the hidden taste.
For a stored transition ``(s, A, c, r, s')`` with chosen ``i = A_c`` (or 0), the update is

    y = r M + gamma (1 - terminated) Q_target(s', A'),    A' = argmax_{A allowed in s'} Q_online(s', A)
    L = mean_b huber(Q_bar(s_b, i_b) - y_b)

where both slate values use the *learned* choice model (``double=True``: the online ``Q_bar``
picks ``A'``, the target ``Q_bar`` values it; ``double=False``: the target does both), ``M`` is
the reward scale, and the choice model takes one Adam step on the same batch's clicks (both
steps are taken only once both gradients are finite: a divergence is a ``FloatingPointError``
that changes nothing). Slates are optimised by ``slate_choice``: ``"exact"`` (Dinkelbach's method, exact for this logit; the
default), ``"top-k"`` or ``"greedy"`` (SlateQ's heuristics). Acting is ε-greedy over slates
(ε: a random slate of allowed products). ``observe`` takes the clicked slot as ``clicked=``
(``train`` passes the env's ``info["clicked"]``); an agent built by ``for_env`` on a
``SlateShopEnv``, whose observation reports the slot (``slate_shop.clicked_slot``), reads it
from there when it is not given. Checkpoints are in ``_slate_q_checkpoint.py``. Not covered: n-step returns,
dueling heads, batched (vector-env) acting.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from ._slate_q_checkpoint import load_slate_q, save_slate_q
from ._validate import as_generator, check_float, check_int, check_mask, check_space, encode_states
from .conditional_logit import ConditionalLogit
from .envs.slate_shop import clicked_of, reports_click_in_obs
from .losses import huber
from .mlp import MLP
from .optim import Adam, clip_grad_norm
from .schedules import LinearSchedule
from .slate_choice import best_slate, greedy_slate, slate_value, top_k_slate

OPTIMIZERS = ("exact", "top-k", "greedy")


@dataclasses.dataclass
class SlateQConfig:
    hidden: tuple = (64, 64)         # hidden widths of the Q_bar network
    lr: float = 5e-4                 # Adam's learning rate for Q_bar
    gamma: float = 0.95              # discount factor
    batch_size: int = 64             # transitions per update
    buffer_size: int = 50_000        # replay capacity
    learning_starts: int = 1_000     # transitions observed before the first update
    train_freq: int = 4              # transitions per update
    tau: float = 0.01                # Polyak rate of the target network, every update
    double: bool = True              # online Q_bar picks the next slate, target Q_bar values it
    max_grad_norm: float | None = 10.0  # clip the global gradient norm (None: no clipping)
    epsilon: float | Callable = dataclasses.field(  # exploration rate, or a schedule of env steps
        default_factory=lambda: LinearSchedule(1.0, 0.05, 10_000))
    reward_scale: float | None = None  # M; None: 1 / max |reward| stored at the first update, then fixed
    choice_lr: float = 0.01          # Adam's learning rate for the choice model
    slate_optimizer: str = "exact"   # "exact", "top-k" or "greedy"
    seed: int | np.random.Generator | None = 0  # networks, replay sampling, exploration
    dtype: type = np.float32         # of Q_bar (the choice model is float64); float64 for exact checks

    def __post_init__(self):
        self.hidden = tuple(check_int("hidden entry", h, minimum=1) for h in np.atleast_1d(self.hidden))
        self.lr = check_float("lr", self.lr, 0.0, low_open=True)
        self.gamma = check_float("gamma", self.gamma, 0.0, 1.0)
        for name in ("batch_size", "buffer_size", "train_freq"):
            setattr(self, name, check_int(name, getattr(self, name), minimum=1))
        self.learning_starts = check_int("learning_starts", self.learning_starts, minimum=0)
        self.tau = check_float("tau", self.tau, 0.0, 1.0, low_open=True)
        self.choice_lr = check_float("choice_lr", self.choice_lr, 0.0, low_open=True)
        if self.max_grad_norm is not None:
            self.max_grad_norm = check_float("max_grad_norm", self.max_grad_norm, 0.0, low_open=True)
        if self.reward_scale is not None:
            self.reward_scale = check_float("reward_scale", self.reward_scale, 0.0, low_open=True)
        if not callable(self.epsilon):
            self.epsilon = check_float("epsilon", self.epsilon, 0.0, 1.0)
        if self.slate_optimizer not in OPTIMIZERS:
            raise ValueError(f"slate_optimizer must be one of {OPTIMIZERS}, got {self.slate_optimizer!r}")
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype!r}")
        self.dtype = np.dtype(self.dtype).type


class SlateReplay:
    """Preallocated ring buffer of ``(s, A, c, r, s', terminated, mask(s'))``; uniform sampling."""

    def __init__(self, capacity, obs_dim, n_items, slate_size, dtype, rng):
        self.capacity, self.size, self.pos, self.rng = capacity, 0, 0, rng
        self.obs = np.zeros((capacity, obs_dim), dtype)
        self.next_obs = np.zeros((capacity, obs_dim), dtype)
        self.slates = np.zeros((capacity, slate_size), np.int64)
        self.clicked = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity)
        self.terminated = np.zeros(capacity, bool)
        self.next_mask = np.ones((capacity, n_items), bool)

    def add(self, x, A, c, r, x2, done, mask2) -> None:
        i = self.pos
        self.obs[i], self.slates[i], self.clicked[i], self.rewards[i] = x, A, c, r
        self.next_obs[i], self.terminated[i], self.next_mask[i] = x2, done, mask2
        self.pos, self.size = (i + 1) % self.capacity, min(self.size + 1, self.capacity)

    def sample_indices(self, n: int) -> np.ndarray:
        return self.rng.integers(0, self.size, n)


class SlateQAgent:
    """``SlateQAgent(obs_dim, item_features (N, d_item), slate_size, one_hot=False, clicked_in_obs=False,
    **hyperparameters)``; the hyperparameters are ``SlateQConfig``'s fields. ``act`` returns a slate
    ``(k,)`` int64. ``clicked_in_obs``: observations end with the clicked slot (``SlateShopEnv``'s)."""

    def __init__(self, obs_dim: int, item_features, slate_size: int, one_hot: bool = False,
                 clicked_in_obs: bool = False, **hyperparameters):
        self.config = cfg = SlateQConfig(**hyperparameters)
        self.obs_dim, self.one_hot = check_int("obs_dim", obs_dim, minimum=1), bool(one_hot)
        self.clicked_in_obs = bool(clicked_in_obs) and not self.one_hot
        self.choice = ConditionalLogit(self.obs_dim, item_features, slate_size, lr=cfg.choice_lr)
        self.n_items, self.slate_size = self.choice.n_items, self.choice.slate_size
        self.rng = as_generator(cfg.seed)
        self.online = MLP([self.obs_dim, *cfg.hidden, self.n_items + 1], seed=self.rng, dtype=cfg.dtype)
        self.target = self.online.copy()
        self.opt = Adam(self.online.params, cfg.lr)
        self.buffer = SlateReplay(cfg.buffer_size, self.obs_dim, self.n_items, self.slate_size, cfg.dtype, self.rng)
        self.reward_scale = cfg.reward_scale
        self.steps = self.updates = 0
        self.metadata = None                # what save(metadata=...) stored, after load

    @classmethod
    def for_env(cls, env, **hyperparameters) -> "SlateQAgent":
        """An agent for ``env``'s observations and slates; products are described by
        ``env.item_features`` when it has them, else by their one-hot ids."""
        one_hot, obs_dim = check_space("SlateQAgent", env, "observation")
        space = getattr(env, "action_space", None)
        if type(space).__name__ != "Slate":
            raise TypeError(f"SlateQAgent needs an env whose action_space is a Slate (e.g. SlateShopEnv), "
                            f"got {type(env).__name__} with {space!r}")
        items = getattr(env, "item_features", None)
        items = np.eye(space.n) if items is None else items
        return cls(obs_dim, items, space.slate_size, one_hot=one_hot, clicked_in_obs=reports_click_in_obs(env),
                   **hyperparameters)

    # ------------------------------------------------------------------ acting
    def encode(self, obs) -> np.ndarray:
        return encode_states(obs, self.obs_dim, self.one_hot, self.config.dtype)[0]

    def epsilon(self) -> float:
        eps = self.config.epsilon
        return float(eps(self.steps)) if callable(eps) else eps

    def q_values(self, obs) -> np.ndarray:
        """``Q_bar(s, .)`` in reward units: ``(N + 1,)``, the last entry no click."""
        return self.online.predict(self.encode(obs))[0].astype(np.float64) / (self.reward_scale or 1.0)

    def slate_value(self, obs, slate) -> float:
        """``Q(s, A)`` by the decomposition, with the learned choice model, in reward units."""
        x, A = self.encode(obs), self._check_slate("slate", slate)
        q = self.q_values(obs)
        return float(slate_value(self.choice.utilities(x)[0], q[:-1], self.choice.rho, A, 0.0, q[-1]))

    def _optimise(self, v, q, mask):
        """Best slates of rows ``v (n, N)``, ``q (n, N + 1)`` by the configured optimiser: ``(n, k)``."""
        rho, how = self.choice.rho, self.config.slate_optimizer
        if how == "exact":
            return best_slate(v, q[:, :-1], rho, mask, 0.0, q[:, -1])[0]
        if how == "greedy":
            return greedy_slate(v, q[:, :-1], rho, mask, 0.0, q[:, -1])
        return top_k_slate(v, q[:, :-1], rho, mask)

    def act(self, obs, explore: bool = True, action_mask=None) -> np.ndarray:
        """A slate of ``k`` distinct allowed products: ε-greedy when ``explore``."""
        mask = check_mask("action_mask", action_mask, (self.n_items,))
        allowed = np.ones(self.n_items, bool) if mask is None else mask
        if allowed.sum() < self.slate_size:
            raise ValueError(f"action_mask allows {int(allowed.sum())} products, fewer than a slate of "
                             f"{self.slate_size}")
        x = self.encode(obs)
        if explore and self.rng.random() < self.epsilon():
            return self.rng.choice(np.flatnonzero(allowed), self.slate_size, replace=False).astype(np.int64)
        q = self.online.predict(x).astype(np.float64)
        return self._optimise(self.choice.utilities(x), q, allowed[None, :])[0]

    # ------------------------------------------------------------------ learning
    def _check_slate(self, name, slate) -> np.ndarray:
        A = np.asarray(slate)
        if (A.shape != (self.slate_size,) or not np.issubdtype(A.dtype, np.integer) or A.min() < 0
                or A.max() >= self.n_items or np.unique(A).size != A.size):
            raise ValueError(f"{name} must be {self.slate_size} distinct product ids in [0, {self.n_items}), "
                             f"got {slate!r}")
        return A.astype(np.int64)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None, clicked=None):
        """Store one transition (``clicked``: the slot chosen, -1 for none; when not given, read
        from ``next_obs`` if ``clicked_in_obs``, else a ``TypeError``) and, every ``train_freq``
        steps after ``learning_starts``, run ``train_step``; returns its loss or ``None``."""
        A = self._check_slate("action", action)
        x, x2 = self.encode(obs)[0], self.encode(next_obs)[0]
        c = clicked_of("SlateQAgent", clicked, x2, self.clicked_in_obs, self.slate_size)
        r = check_float("reward", reward)
        mask2 = check_mask("next_action_mask", next_action_mask, (self.n_items,), allow_empty=bool(terminated))
        if mask2 is not None and not terminated and mask2.sum() < self.slate_size:
            raise ValueError(f"next_action_mask allows {int(mask2.sum())} products, fewer than a slate of "
                             f"{self.slate_size}, in a state that did not terminate")
        self.buffer.add(x, A, c, r, x2, bool(terminated), True if mask2 is None else mask2)
        self.steps += 1
        cfg = self.config
        if self.steps >= cfg.learning_starts and self.steps % cfg.train_freq == 0 and self.buffer.size > 0:
            return self.train_step()
        return None

    def _loss_and_grads(self, idx: np.ndarray) -> float:
        """The SlateQ loss on transitions ``idx (B,)``; writes ``dL/dtheta`` into ``online.grads``."""
        buf, cfg, N = self.buffer, self.config, self.n_items
        S, A, c, S2 = buf.obs[idx], buf.slates[idx], buf.clicked[idx], buf.next_obs[idx]  # (B,d) (B,k) (B,) (B,d)
        done, M2 = buf.terminated[idx], buf.next_mask[idx] | buf.terminated[idx, None]        # ended: any mask
        rows = np.arange(idx.size)
        v2 = self.choice.utilities(S2.astype(np.float64))                                      # (B, N)
        q2_target = self.target.predict(S2).astype(np.float64)                                # (B, N + 1)
        q2_pick = self.online.predict(S2).astype(np.float64) if cfg.double else q2_target
        A2 = self._optimise(v2, q2_pick, M2)                                                   # (B, k)
        next_q = slate_value(v2, q2_target[:, :-1], self.choice.rho, A2, 0.0, q2_target[:, -1])  # (B,)
        td_target = buf.rewards[idx] * self.reward_scale + cfg.gamma * np.where(done, 0.0, next_q)
        chosen = np.where(c >= 0, A[rows, np.maximum(c, 0)], N)                               # (B,): N = no click
        Q = self.online.forward(S)                                                             # (B, N + 1)
        loss, dq = huber(Q[rows, chosen], td_target.astype(Q.dtype))
        if not (math.isfinite(loss) and np.isfinite(td_target).all()):  # before backward: nothing written
            raise self._divergence(loss, norm=None)
        dQ = np.zeros_like(Q)
        dQ[rows, chosen] = dq                      # only the chosen item's Q_bar gets a gradient
        self.online.backward(dQ, input_grad=False)
        return loss

    def train_step(self) -> float:
        """One vectorized update of ``Q_bar`` (module docstring) and of the choice model on the
        same batch; returns the TD loss. Both gradients are computed first and both steps taken
        only when every number is finite: a divergence is a ``FloatingPointError`` that leaves
        the networks, the choice model and both optimizers as they were."""
        buf, cfg = self.buffer, self.config
        if buf.size == 0:
            raise RuntimeError("train_step() needs at least one stored transition")
        if self.reward_scale is None:
            top = np.abs(buf.rewards[:buf.size]).max()
            if top == 0:
                return 0.0                          # nothing to scale by yet: wait for a reward
            self.reward_scale = 1.0 / float(top)
        idx = buf.sample_indices(cfg.batch_size)
        self.choice.loss_and_grad(buf.obs[idx].astype(np.float64), buf.slates[idx], buf.clicked[idx])
        loss = self._loss_and_grads(idx)            # raises before backward when the loss is not finite
        norm = clip_grad_norm(self.online.grads, cfg.max_grad_norm or np.inf)
        if not (math.isfinite(norm) and np.isfinite(self.choice.grads).all()):
            raise self._divergence(loss, norm)
        self.opt.step(self.online.grads)
        self.choice.opt.step(self.choice.grads)     # the trap: only once Q_bar's step is known to be sound
        self.target.params += cfg.tau * (self.online.params - self.target.params)
        self.updates += 1
        return loss

    def _divergence(self, loss, norm) -> FloatingPointError:
        cfg = self.config
        return FloatingPointError(
            f"SlateQ diverged at update {self.updates + 1} (env step {self.steps}): loss={loss}, "
            f"gradient norm={norm}; nothing was updated. Try a smaller lr (now {cfg.lr}) or choice_lr "
            f"(now {cfg.choice_lr}), a reward_scale that brings rewards near [-1, 1] (now "
            f"{self.reward_scale}) or max_grad_norm (now {cfg.max_grad_norm}).")

    # ------------------------------------------------------------------ snapshots and files
    def snapshot(self) -> dict:
        """What was learned (both networks, the choice model, the reward scale), for ``keep_best``."""
        return {"online": self.online.params.copy(), "target": self.target.params.copy(),
                "choice": self.choice.params.copy(), "reward_scale": self.reward_scale}

    def restore(self, snapshot: dict) -> None:
        self.online.params[:], self.target.params[:] = snapshot["online"], snapshot["target"]
        self.choice.params[:] = snapshot["choice"]
        self.reward_scale = snapshot["reward_scale"]

    def save(self, path, metadata: dict | None = None) -> None:
        """Networks, choice model, both optimizers, counts, reward scale and the config: ``.npz``,
        no pickle (the replay is not saved)."""
        save_slate_q(self, path, metadata)

    @classmethod
    def load(cls, path, **overrides) -> "SlateQAgent":
        """Rebuild an agent written by :meth:`save`; ``overrides`` replace saved hyperparameters
        that do not define the network, nor ``seed`` (a ``TypeError``: a loaded agent continues
        its saved random state). A file that is not sound is a ``ValueError`` naming it."""
        return load_slate_q(cls, path, overrides)

    def __repr__(self) -> str:
        return (f"SlateQAgent(obs_dim={self.obs_dim}, n_items={self.n_items}, slate_size={self.slate_size}, "
                f"steps={self.steps}, updates={self.updates})")

"""ItemDQNAgent: deep Q-learning over products described by their features, so a new product
gets a Q-value the moment it enters the catalogue.

``DQNAgent`` has one output per product id; here ``Q(s, i) = Q(s, x_i)`` is computed from the
state and product ``i``'s features ``x_i`` (a row of ``ShopEnv.item_features``). Everything else is
``DQNAgent``'s, inherited: ε-greedy acting with random tie-breaking, masks, ``recommend``,
``observe`` (n-step returns included), the reward scale, the Double-DQN target
``y = r + gamma Q_target(s', argmax_{i in C} Q_online(s', i))`` over the allowed items of the
catalogue ``C``, Huber loss, clipping, Adam, the target sync and ``snapshot``/``restore``. What
differs is the network (``item_networks.py``), the replay, which also keeps the chosen product's
features, and ``set_items``.

**The network: two towers, for their cost.** ``Q(s, i) = phi(s) . u_i + b_i`` with ``[u_i, b_i]
= psi(x_i)`` (``architecture="two-tower"``, the default) against one MLP over ``[s, x_i]``
(``"concat"``), both with hidden (64, 64) (``k = 32``), batch 64, one core
(``benchmarks/bench_catalogue.py --architectures``): a ``train_step`` takes 0.92 ms with two
towers and 7.2 ms with the concatenation at 100 products, 2.9 ms and 80 ms at 1,000, because the
target's max runs the whole concatenated network on all ``B x N`` pairs (and holds them: 19 MiB
at 1,000 products against 1.1 MiB); scoring 256 shoppers against 1,000 products takes 3.6 ms and
161 ms. In learning the concatenation did better on a short budget: after 30,000 steps of the
settings below (its defaults) it earned 1.03 and 1.18 times the myopic oracle's revenue per session (seeds 1, 2),
the two towers 0.92 and 0.70 (training took 157 s against 18 s, means of the two; both before
``item_noise``). The towers are the default because they scale to large catalogues; their
100,000-step results are below and in ``benchmarks/cold_start.py``'s table. Their limit: the
state–product interaction is a rank-``k`` bilinear form of learned features (here: the
categories a shopper has shown interest in against the product's category), plus a product's
own worth ``b_i``.

**Noise on the shown product's features (``item_noise``, on by default).** Trained on one
catalogue, the item tower sees 100 products, and it can fit their values one by one: between
them its Q is whatever the fit left there, and a max over 1,000 new products finds those places.
Without noise, seed 0 scored 0.51 times the myopic oracle on 1,000 new products (1.64 on its own
catalogue): its first recommendation there had a median price of 0.29 (1.54 on its own), because
its Q rose toward low prices, where the training catalogue has two products below 0.4. Clipping
new products' features to the training catalogue's range changed nothing (0.47), so the cause is
interpolation, not extrapolation. So each update sees the shown products' features plus
Gaussian noise, ``x_j + sigma * sd * eps_j`` (``sd``: each feature's standard deviation over the
catalogue; the target's max runs on the clean catalogue): Q must hold for products *near* the
ones shown, which smooths it between them (seed 0's first recommendation among the 1,000 then
has a median price of 2.04 and quality 0.67, against 0.29 and 0.38 without). Revenue per
session over the myopic oracle's, median (min - max) over seeds 0-4, 100,000 steps with its
defaults (``benchmarks/cold_start.py --no-dqn --set item_noise=...``):

    sigma   training catalogue    100 new products     1,000 new products
    0       1.59 (1.36 - 1.64)    1.12 (1.01 - 1.18)   0.90 (0.51 - 1.03)
    0.02    1.42 (1.11 - 1.55)    0.97 (0.77 - 0.99)   0.84 (0.60 - 1.04)
    0.05    1.52 (1.47 - 1.55)    1.20 (1.07 - 1.23)   1.08 (0.99 - 1.22)
    0.1     1.39 (1.36 - 1.60)    1.10 (1.06 - 1.20)   1.00 (0.94 - 1.18)
    0.3     1.27 (1.11 - 1.40)    1.10 (1.00 - 1.22)   0.93 (0.81 - 1.15)   (seeds 0-3)

Too much noise blurs what tells products apart (a trap from a plain product), too little does
not smooth. Sigma was chosen on these seeds; on seeds 5-9, not used to choose it, 0 gives 1.50
(1.28 - 1.55), 1.10 (1.03 - 1.15), 1.05 (0.82 - 1.19) and 0.05 gives 1.36 (1.27 - 1.51), 1.09
(1.02 - 1.13), 1.01 (0.89 - 1.04). Over all ten, 0.05 mostly removes the collapses on 1,000 new
products (worst seed 0.51 -> 0.89, mean 0.95 -> 1.03, median 1.00 -> 1.02) for a little on the
training catalogue (median 1.52 -> 1.48): a modest gain, five seeds per row a guide only.

**Its own defaults: what carries to new products.** Trained as ``benchmarks/cold_start.py`` does
(8 shoppers in parallel, 100,000 steps, seeds 0-4), with ``DQNConfig``'s defaults it learns its
own catalogue as well as with the settings below (1.53 times the oracle's revenue) but earns 0.85
and 0.46 times the oracle's on 100 and 1,000 new products; with them, 1.20 and 1.08. So its
defaults differ from ``DQNAgent``'s in four fields (:func:`item_defaults`, any of them can still be
given): ``gamma=0.8``, one update per two transitions, ε from 1 to 0.05 over 50,000 steps and a
constant learning rate. No one of them does it alone: switched back one at a time, the medians
on 1,000 new products are 0.83 (gamma; one seed collapses), 1.04, 0.94 and 1.07 (README).

**Changing the catalogue.** ``set_items(X)`` replaces the products (any number, same feature
columns). Their Q-values follow at once: nothing is indexed by product id. The replay stores, per
transition, the *features* of the product shown (``ItemReplay.item_x``), so ``Q(s, a)`` of an old
transition is still the product that was shown; the target's max runs over the *current*
catalogue, because the target estimates the value of going on with the policy that now acts, and
it acts on today's products. Stored next-state masks and action indices referred to the old
catalogue: they are reset (all allowed, index 0); n-step windows still open are dropped.

Cost: the two towers' ``train_step`` runs the item tower on the whole catalogue twice (online and
target) per update, ``O(N h^2)``; acting costs ``O(n N k)`` once the catalogue's embedding is
cached (it is computed again after each update). Measured at 10,000 products
(``benchmarks/bench_catalogue.py``): ``train_step`` 14 ms (0.9 ms at 100), ``recommend`` 2.2 ms
(6.0 ms right after an update), peak memory of a step 10.5 MiB. So the full max stays affordable
and no candidate set is used. Replay memory is ``capacity x (2 obs_dim + d_item) x itemsize``
plus one byte per (transition, product) for the masks: linear in the catalogue, but the masks
dominate (10 KB a transition at 10,000 products: lower ``buffer_size`` for such catalogues). Not
covered: slates, candidate generation for millions of products, features of the user–product
pair other than the state.
"""
from __future__ import annotations

import numpy as np

from ._item_dqn_checkpoint import load_item_dqn, save_item_dqn
from ._validate import check_array, check_float, check_int, check_space
from .dqn import DQNAgent
from .item_networks import NETWORKS
from .replay import ReplayBuffer
from .schedules import LinearSchedule


def item_defaults() -> dict:
    """``ItemDQNAgent``'s defaults where they differ from ``DQNConfig``'s (module docstring: why);
    made afresh at each call, since the schedule is an object."""
    return dict(gamma=0.8, train_freq=2, epsilon=LinearSchedule(1.0, 0.05, 50_000), lr_end_factor=1.0)


class ItemReplay(ReplayBuffer):
    """A ``ReplayBuffer`` over states whose actions index ``catalogue`` ``(N, d_item)``; it also
    keeps the chosen product's features ``item_x`` ``(capacity, d_item)``, written by ``add``."""

    def __init__(self, capacity, obs_dim, catalogue, obs_dtype, seed, gamma):
        super().__init__(capacity, (obs_dim,), obs_dtype, seed=seed, n_actions=catalogue.shape[0], gamma=gamma)
        self.item_x = np.zeros((self.capacity, catalogue.shape[1]), obs_dtype)
        self.catalogue = catalogue

    def set_catalogue(self, catalogue: np.ndarray) -> None:
        """New products: stored masks and indices (of the old catalogue) are reset, ``item_x`` kept."""
        if catalogue.shape[0] != self.n_actions:
            self.next_action_mask = np.ones((self.capacity, catalogue.shape[0]), bool)
        else:
            self.next_action_mask[:] = True
        self.n_actions = catalogue.shape[0]
        self.actions[:] = 0
        self.catalogue = catalogue

    def add(self, obs, action, *fields, **named) -> None:
        """``ReplayBuffer.add`` (which checks everything first), then the chosen products' features."""
        start = self.pos
        super().add(obs, action, *fields, **named)
        action = np.asarray(action).reshape(-1)
        skip = max(0, action.size - self.capacity)  # of a batch larger than the buffer, the tail stays
        self.item_x[(start + skip + np.arange(action.size - skip)) % self.capacity] = self.catalogue[action[skip:]]

    STATE_KEYS = ReplayBuffer.STATE_KEYS + ("item_x",)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "item_x": self.item_x[:self.size].copy()}

    def load_state_dict(self, state: dict) -> None:
        """``ReplayBuffer.load_state_dict`` plus ``item_x``, checked before anything is written."""
        try:
            n = int(np.asarray(state["size"]).item())
            item_x = check_array("item_x", state["item_x"], shape=(n, self.item_x.shape[1]), dtype=self.item_x.dtype)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"replay state is incomplete or malformed: {e}") from e
        super().load_state_dict(state)
        self.item_x[:n] = item_x


class ItemDQNAgent(DQNAgent):
    """``ItemDQNAgent(obs_dim, item_features, embed_dim=32, architecture="two-tower",
    one_hot=False, **hyperparameters)``; the hyperparameters are ``DQNConfig``'s fields, with
    :func:`item_defaults` in place of four of its defaults.

    ``item_features`` ``(N, d_item)``: one row of real numbers per product (``N`` is the action
    count, ``n_actions``, until :meth:`set_items` changes it). ``embed_dim`` is ``k``, the width of
    the towers' meeting point (unused by ``"concat"``). ``item_noise`` ``sigma`` in ``[0, 10]``:
    each update sees the shown products' features plus Gaussian noise of ``sigma`` times each
    feature's standard deviation over the current catalogue (0 turns it off; why it is on: the
    module docstring).
    """

    def __init__(self, obs_dim: int, item_features, embed_dim: int = 32, architecture: str = "two-tower",
                 one_hot: bool = False, item_noise: float = 0.05, **hyperparameters):
        if architecture not in NETWORKS:
            raise ValueError(f"architecture must be one of {tuple(NETWORKS)}, got {architecture!r}")
        if hyperparameters.get("dueling"):
            raise ValueError("dueling=True is not available for ItemDQNAgent: its Q comes from (state, product) "
                             "pairs, with no per-state advantage head")
        if hyperparameters.get("cql_alpha"):  # its logsumexp would score the whole catalogue in every state
            raise ValueError(f"cql_alpha={hyperparameters['cql_alpha']!r} is not available for ItemDQNAgent: "
                             "conservative Q-learning is implemented for DQNAgent only")
        hyperparameters = {**item_defaults(), **hyperparameters}
        self.architecture = architecture
        self.embed_dim = check_int("embed_dim", embed_dim, minimum=1)
        self.item_noise = check_float("item_noise", item_noise, 0.0, 10.0)
        items = self._check_items(item_features)
        self.d_item = items.shape[1]
        self.items = items                  # float64 until the config's dtype is known
        self._cache = None                  # (update count, version, online net's catalogue embedding)
        self._version = 0                   # bumped whenever parameters or products change outside Adam
        super().__init__(obs_dim, items.shape[0], one_hot=one_hot, **hyperparameters)
        self.items = self.items.astype(self.config.dtype)
        self.buffer.catalogue = self.items
        self._item_sd = self.items.std(axis=0)  # (d_item,): the scale of item_noise, per feature

    @classmethod
    def for_env(cls, env, **hyperparameters) -> "ItemDQNAgent":
        """An agent for ``env``'s observations and products (``env.item_features``)."""
        one_hot, obs_dim = check_space("ItemDQNAgent", env, "observation")
        if getattr(env, "item_features", None) is None:
            raise TypeError(f"ItemDQNAgent needs an env with item_features (n_items, d_item), got "
                            f"{type(env).__name__} without them")
        return cls(obs_dim, env.item_features, one_hot=one_hot, **hyperparameters)

    def _check_items(self, item_features, d_item: int | None = None) -> np.ndarray:
        x = check_array("item_features", item_features, ndim=2, dtype=np.float64)
        if x.shape[0] < 1 or x.shape[1] < 1 or (d_item is not None and x.shape[1] != d_item):
            want = f"(n_items >= 1, {d_item if d_item is not None else 'd_item >= 1'})"
            raise ValueError(f"item_features must have shape {want}, got {x.shape}")
        return x

    def _network(self, seed: int):
        cfg = self.config
        return NETWORKS[self.architecture](self.obs_dim, self.d_item, cfg.hidden, self.embed_dim,
                                           cfg.activation, cfg.dtype, seed=seed)

    def _replay(self, seed: int) -> ItemReplay:
        cfg = self.config
        return ItemReplay(cfg.buffer_size, self.obs_dim, self.items.astype(cfg.dtype), cfg.dtype, seed, cfg.gamma)

    # ------------------------------------------------------------------ the catalogue
    def set_items(self, item_features) -> None:
        """Replace the catalogue by ``item_features`` ``(N', d_item)``: from now on actions index
        these products and every Q-value is theirs (no retraining). Stored transitions keep the
        features of the product they showed; their masks and indices are reset, and n-step
        windows still open are dropped (see the module docstring)."""
        items = self._check_items(item_features, self.d_item).astype(self.config.dtype)
        self.end_episodes()
        self.items = items
        self.n_actions = items.shape[0]
        self.buffer.set_catalogue(items)
        self._item_sd = items.std(axis=0)
        self._version += 1

    def _embed_catalogue(self) -> None:
        """Point the online network at the catalogue's embedding, computed again only when the
        parameters or the products changed since (Adam's count or ``_version``)."""
        key = (self.updates, self._version)
        if self._cache is None or self._cache[:2] != key:
            self._cache = (*key, self.online.embed(self.items))
        self.online.items = self._cache[2]

    def _finite_q(self, x: np.ndarray, *args, **kwargs) -> np.ndarray:
        self._embed_catalogue()
        return super()._finite_q(x, *args, **kwargs)

    def restore(self, snapshot: dict) -> None:
        super().restore(snapshot)
        self._version += 1

    def pair_input_gradients(self, obs, actions) -> tuple[np.ndarray, np.ndarray]:
        """``(X, G)`` for ``explain``: ``X (len(actions), obs_dim + d_item)`` the rows ``[s, x_a]``,
        ``G`` the same shape, ``dQ(s, a)/d[s, x_a]`` in reward units (one backward pass for all)."""
        x, batched = self.encode(obs)
        if batched:
            raise ValueError("explain takes one observation, got a batch")
        actions = np.asarray(actions, np.int64)
        S, X = np.repeat(x, actions.size, axis=0), self.items[actions]
        net = self.online.copy()  # leave the agent's gradient buffer alone
        net.forward_pairs(S, X)
        dS, dX = net.backward_pairs(np.ones(actions.size, net.params.dtype), input_grad=True)
        return np.concatenate([S, X], axis=1), np.concatenate([dS, dX], axis=1) / self.reward_scale

    # ------------------------------------------------------------------ learning
    def train_step(self) -> float:
        """One vectorized Double-DQN update: ``B`` sampled transitions, the target's max over the
        ``N`` current products for all ``B`` next states at once (``(B, k) @ (k, N)``), the loss
        on ``Q(s_j, x_j + sigma sd * eps_j)`` of the products shown (their stored features, plus
        ``item_noise``; ``eps_j ~ N(0, I)`` from the agent's generator), backward through both
        towers, clip, Adam, target sync. ``tests/test_item_dqn.py`` checks it against a loop over
        transitions and products."""
        buf = self.buffer
        idx = buf.sample_indices(self.config.batch_size)                   # (B,)
        obs, _, rew, next_obs, done = buf.batch(idx)                       # (B, d) . (B,) (B, d) (B,)
        self._embed_catalogue()
        self.target.items = self.target.embed(self.items)                  # (N, k + 1): target's own products
        td_target = self._td_target(idx, rew, next_obs, done)              # (B,), DQNAgent's target
        x = buf.item_x[idx]                                                # (B, d_item): the shown products
        if self.item_noise:  # the target's catalogue stays clean: noise only where gradients flow
            x = x + (self.item_noise * self._item_sd * self.rng.standard_normal(x.shape)).astype(x.dtype)
        q = self.online.forward_pairs(obs, x)                              # (B,): Q(s_j, x_j) of the shown product
        loss, dq = self._loss(q, td_target.astype(q.dtype))
        if not np.isfinite(loss):
            raise self._divergence(loss, norm=None)
        self.online.backward_pairs(dq)
        return self._apply_gradients(loss)

    # ------------------------------------------------------------------ checkpoints
    REPLAY_KEYS = ItemReplay.STATE_KEYS

    def save(self, path, include_buffer: bool = False, metadata: dict | None = None) -> None:
        """As ``DQNAgent.save``, plus the catalogue, the architecture and ``embed_dim``; ``.npz``."""
        save_item_dqn(self, path, include_buffer, metadata)

    @classmethod
    def load(cls, path, **overrides) -> "ItemDQNAgent":
        """Rebuild an agent written by :meth:`save` (with its catalogue); ``overrides`` replace saved
        hyperparameters that do not define the network (``lr``, ``epsilon``, ...). A file that is
        not a sound ``ItemDQNAgent`` checkpoint is a ``ValueError`` naming it."""
        return load_item_dqn(cls, path, overrides)

    def __repr__(self) -> str:
        return (f"ItemDQNAgent(obs_dim={self.obs_dim}, n_items={self.n_actions}, d_item={self.d_item}, "
                f"architecture={self.architecture!r}, item_noise={self.item_noise}, steps={self.steps}, "
                f"updates={self.updates})")

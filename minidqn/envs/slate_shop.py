"""SlateShopEnv: ``ShopEnv``'s shoppers shown a page of ``k`` products at a time.

Each step the shop shows a *slate* of ``k = slate_size`` distinct products in ranked slots; the
shopper clicks at most one of them (or none), then buys it or not. The catalogue, the shoppers
(taste, price sensitivity, patience), the purchase, patience and interest equations are those of
``ShopEnv`` (``shop.py``'s module docstring), computed by the same functions of ``catalogue.py``;
what is new is the choice among several products. Not covered: several clicks per page, cascade
browsing, a batched version.

Choice, a multinomial logit with a no-click option and a position effect (``minidqn.slate_choice``):
product ``i`` has the click logit of ``ShopEnv``, ``v_i = click_bias + click_appeal (a_i - 1/2)
+ click_taste log(match_floor + m_i)``; slot ``j = 0..k-1`` adds ``rho_j = -position_decay * j``;
not clicking has utility 0:

    P(click slot j | A) = exp(v_{A_j} + rho_j) / (1 + sum_l exp(v_{A_l} + rho_l))
    P(no click | A)     = 1 / (1 + sum_l exp(v_{A_l} + rho_l))

so with ``slate_size=1`` a product is clicked with ``ShopEnv``'s ``sigma(v_i)``. A clicked
product ``i`` is bought with ``ShopEnv``'s ``P(buy_i | click)``; the reward is ``p_i bought +
click_reward clicked``; patience and interest then move as in ``ShopEnv`` with the clicked
product (no click: ``P -= ignore_cost``, however many products were ignored).

Actions: an int array of ``k`` distinct product ids, in slot order; a product already bought is
masked (``info["action_mask"]`` False) and refused. The visit ends (``terminated``) when the
shopper leaves (``info["left"]``) or fewer than ``k`` products remain unbought
(``info["sold_out"]``); it is cut (``truncated``) after ``max_steps`` pages.

Observation (float32, ``4 K + 7 + k``): ``ShopEnv``'s entries, where ``views_c`` counts every
product shown in category ``c`` (times 0.1), ``last_price``/``last_quality``/``last_appeal``
describe the product clicked (0 without a click), then ``clicked_slot_j`` (1 for the slot clicked
at the last step): what the shop's page log records. ``clicked_slot`` reads it back (and
``clicked_of``, for the slate agents, only for this env's observations: ``reports_click_in_obs``). Caveat for
SlateQ: since ``views_c`` counts the whole slate, the observed next state depends on the items not
clicked too, so SlateQ's "only the chosen item matters" assumption holds for the hidden state
(patience, interest) but only approximately for the observation.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_generator, check_float, check_int
from ..slate_choice import slate_probs
from ..spaces import Box, Slate
from .catalogue import attach_catalogue, catalogue_choice_logits, draw_shoppers, sigmoid
from .shop_config import CLICK_RATE_DECAY, COUNT_SCALE, ShopConfig, as_shop_config, observation_space


def clicked_slot(obs, slate_size: int):
    """The slot clicked at the step that produced ``obs`` (``(d,)`` → int, ``(n, d)`` → ``(n,)``),
    -1 for no click: read from the last ``slate_size`` entries."""
    slots = np.asarray(obs)[..., -slate_size:]
    slot = np.where(slots.max(axis=-1) > 0.5, slots.argmax(axis=-1), -1)
    return int(slot) if slot.ndim == 0 else slot


class SlateShopEnv:
    """``SlateShopEnv(config=None, slate_size=3, seed=None, position_decay=0.5)``.

    Attributes as ``ShopEnv`` (``config``, ``catalogue``, ``price``, ``quality``, ``appeal``,
    ``category``, ``item_features``, ``feature_names``, ...) plus ``slate_size``, ``rho`` ``(k,)``
    (the slots' utilities), ``observation_space`` (``Box``, ``(4 K + 7 + k,)``) and
    ``action_space`` (``Slate(n_items, k)``: ``k`` distinct ids).
    """

    metadata = {"render_modes": []}

    def __init__(self, config: ShopConfig | None = None, slate_size: int = 3, seed=None,
                 position_decay: float = 0.5):
        self.config = config = as_shop_config(config)
        self.slate_size = k = check_int("slate_size", slate_size, minimum=1, maximum=config.n_items)
        self.position_decay = check_float("position_decay", position_decay, 0.0, 20.0)
        self.rho = -self.position_decay * np.arange(k, dtype=np.float64)
        cat = attach_catalogue(self, config)
        self.feature_names = self.feature_names + [f"clicked_slot_{j}" for j in range(k)]
        shop_space = observation_space(config, cat.price)
        high = np.concatenate([shop_space.high, np.ones(k, np.float32)])
        K = config.n_categories
        high[K:2 * K] *= k                                   # up to k products seen per page
        self.observation_space = Box(0.0, high, dtype=np.float32)
        self.action_space = Slate(config.n_items, k)
        self._rng = as_generator(seed)
        self._item_last = np.stack([cat.price / config.mean_price, cat.quality, cat.appeal], axis=1)
        self._t = None                                       # None until reset: step() refuses

    def reset(self, seed=None, options=None):
        """Draw a new shopper → ``(obs, info)``; ``info["action_mask"]`` is all True."""
        if seed is not None:
            self._rng = as_generator(seed)
        s = draw_shoppers(self.config, self.catalogue, self._rng, 1)
        self._taste, self._buy_base = s.taste[0], s.buy_base[0]
        self._beta = float(s.price_sensitivity[0])
        self._patience0 = self._patience = float(s.patience[0])
        self._deficit = np.zeros(self.n_categories)          # 1 - interest, per category
        self._bought = np.zeros(self.n_items, dtype=bool)
        self._raw = np.zeros(len(self.feature_names))
        self._raw[s.entry[0]] = 1.0
        self._t, self._done = 0, False
        return self._raw.astype(np.float32), {"action_mask": np.ones(self.n_items, dtype=bool)}

    def _require_reset(self, what: str) -> None:
        if self._t is None:
            raise RuntimeError(f"call reset() before {what}()")

    def slate_model(self):
        """The true choice model now: ``(v (N,), rho (k,), r (N,), mask (N,))`` with the click
        utilities ``v``, the slots' ``rho``, each product's expected reward given a click ``r_i =
        click_reward + P(buy_i | click) p_i``, and the products that may be shown. The expected
        reward of slate ``A`` is ``slate_value(v, r, rho, A)``. Hidden-state knowledge, for
        oracles and tests only."""
        self._require_reset("slate_model")
        v, p_buy = self._model()
        return v, self.rho.copy(), self.config.click_reward + p_buy * self.price, ~self._bought

    def _model(self):
        """``(v, P(buy | click))``, each ``(N,)``, from ``catalogue.py``'s equations."""
        v, buy_logit = catalogue_choice_logits(self.config, self.catalogue, self._taste, self._deficit,
                                               self._buy_base)
        return v, sigmoid(buy_logit)

    def choice_probs(self, slate):
        """``(P(click slot j) (k,), P(no click))`` for ``slate`` now (hidden-state knowledge)."""
        self._require_reset("choice_probs")
        A = self._check_slate(slate)
        v, rho, _, _ = self.slate_model()
        return slate_probs(v[A], rho)

    def hidden_state(self) -> dict:
        """Copies of the hidden state, as ``ShopEnv.hidden_state``."""
        self._require_reset("hidden_state")
        return {"taste": self._taste.copy(), "interest": 1.0 - self._deficit, "bought": self._bought.copy(),
                "price_sensitivity": self._beta, "patience": self._patience,
                "initial_patience": self._patience0}

    def _check_slate(self, action) -> np.ndarray:
        """``action`` as ``(k,)`` int64 ids of distinct, unbought products, or a clear error."""
        a = np.asarray(action)
        if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"action must be an integer array of {self.slate_size} product ids, got {action!r}")
        if a.shape != (self.slate_size,):
            raise ValueError(f"action must have shape ({self.slate_size},) (one product per slot), "
                             f"got shape {a.shape}: {action!r}")
        a = a.astype(np.int64)
        if a.min() < 0 or a.max() >= self.n_items:
            bad = a[(a < 0) | (a >= self.n_items)][0]
            raise ValueError(f"action ids must be in [0, {self.n_items}), got {bad} in {a.tolist()}")
        if np.unique(a).size != a.size:
            raise ValueError(f"action must show distinct products, got duplicates in {a.tolist()}")
        if self._bought[a].any():
            raise ValueError(f"action shows products the action mask forbids (already bought): "
                             f"{a[self._bought[a]].tolist()} in {a.tolist()}")
        return a

    def step(self, action):
        """Show slate ``action`` → ``(obs, reward, terminated, truncated, info)``.

        ``info``: ``clicked`` (slot index, -1 for none), ``item`` (product clicked, -1),
        ``purchased``, ``left``, ``sold_out`` (bool), ``revenue`` (float), ``action_mask``
        ``(n_items,)`` bool (False = already bought).
        """
        if self._t is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        A = self._check_slate(action)
        cfg, K, k, raw = self.config, self.n_categories, self.slate_size, self._raw
        v, p_buy = self._model()
        p, _ = slate_probs(v[A], self.rho)                    # (k,), no click has the rest
        u = self._rng.random(2)                               # both drawn always: streams stay aligned
        j = int(np.searchsorted(np.cumsum(p), u[0], side="right"))
        clicked = j < k
        i = int(A[j]) if clicked else -1
        purchased = bool(clicked and u[1] < p_buy[i])
        revenue = float(self.price[i]) if purchased else 0.0
        reward = revenue + cfg.click_reward * clicked
        if purchased:
            self._patience = min(self._patience + cfg.purchase_boost, self._patience0)
        else:
            self._patience -= float(self.catalogue.letdown[i]) if clicked else cfg.ignore_cost
        self._deficit *= 1.0 - cfg.recovery
        if purchased:
            c = self.category[i]
            self._deficit[c] = 1.0 - (1.0 - self._deficit[c]) * cfg.satiation
            self._bought[i] = True
        self._t += 1
        np.add.at(raw, K + self.category[A], COUNT_SCALE)
        if clicked:
            raw[2 * K + self.category[i]] += COUNT_SCALE
            raw[3 * K + self.category[i]] += COUNT_SCALE * purchased
        raw[4 * K:4 * K + 3] = self._item_last[i] if clicked else 0.0
        raw[4 * K + 3:4 * K + 6] = (clicked, purchased, self._t / cfg.max_steps)
        raw[4 * K + 6] += CLICK_RATE_DECAY * (clicked - raw[4 * K + 6])
        raw[4 * K + 7:] = 0.0
        if clicked:
            raw[4 * K + 7 + j] = 1.0
        left = self._patience <= 0.0
        sold_out = self.n_items - int(self._bought.sum()) < k
        terminated = left or sold_out
        truncated = self._t >= cfg.max_steps and not terminated
        self._done = terminated or truncated
        info = {"clicked": j if clicked else -1, "item": i, "purchased": bool(purchased), "revenue": revenue,
                "left": left, "sold_out": sold_out, "action_mask": ~self._bought}
        return raw.astype(np.float32), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """``(n_items,)`` bool: the products that may be shown now (not yet bought)."""
        self._require_reset("action_masks")
        return ~self._bought

    def close(self) -> None:
        """Nothing to release; here for Gymnasium compatibility."""


def reports_click_in_obs(env) -> bool:
    """Whether ``env``'s observations end with the clicked slot (``slate_shop.clicked_slot``):
    a ``SlateShopEnv``'s do; any other env's ``info["clicked"]`` must be passed as ``clicked=``."""
    return isinstance(getattr(env, "unwrapped", env), SlateShopEnv)


def clicked_of(who: str, clicked, next_obs, in_obs: bool, slate_size: int) -> int:
    """The clicked slot (-1 for none): ``clicked`` when given (checked), else read from ``next_obs``
    when the agent was built for an env whose observations report it, else a ``TypeError``."""
    if clicked is None:
        if not in_obs:
            raise TypeError(f"{who}.observe needs clicked= (the slot in the env's info['clicked'], -1 for "
                            "none; train() passes it): only a SlateShopEnv's observation reports it, and "
                            "this agent was not built by for_env on one")
        clicked = clicked_slot(next_obs, slate_size)
    return check_int("clicked", clicked, minimum=-1, maximum=slate_size - 1)

"""VectorShopEnv: ``num_envs`` shoppers of ``ShopEnv``'s model stepped at once, with arrays only.

Follows Gymnasium's vector-env conventions with **same-step autoreset** (Gymnasium 1.x
``AutoresetMode.SAME_STEP``):

* when a visit ends at a step (``terminated[i] | truncated[i]``), that same ``step`` call draws a
  new shopper into slot ``i`` and ``obs[i]`` is the *new* shopper's first observation;
* ``info["final_obs"]`` ``(n, d)`` is the true next observation of every slot: the last
  observation of the finished visit where ``info["_final_obs"]`` (= done) is True, and equal to
  ``obs`` elsewhere;
* ``rewards``, ``terminated``, ``truncated`` and the events ``clicked``, ``purchased``,
  ``revenue``, ``left`` belong to the step just taken (the finished visit, where one ended);
* ``info["action_mask"]`` describes the returned ``obs`` (all True for a new shopper), and
  ``info["final_action_mask"]`` describes ``final_obs`` (they differ only where done).

So a training loop stores ``(obs, act, rew, info["final_obs"], terminated)`` (with
``final_action_mask`` as the next mask) for all slots at once, then carries on from ``obs`` and
never calls ``reset`` again. (A truncated visit is not terminal: bootstrap from its
``final_obs``.)

One generator drives the whole batch: with ``num_envs=1`` the random draws, and so the
trajectories, are exactly those of ``ShopEnv`` with the same seed (``ShopEnv`` calling
``reset()`` where the batch resets itself). The model comes from below both shops
(``catalogue.py``, ``shop_config.py``); this module does not import ``shop.py``. A batch whose
peak memory (``estimated_bytes``) would exceed ``MAX_BYTES`` is refused before anything is
allocated. Not covered: per-slot seeds, asynchronous stepping, Gymnasium's batched spaces
(``observation_space`` here is the space of one shopper).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_generator, check_array, check_int
from ..spaces import Discrete
from .catalogue import attach_catalogue, catalogue_choice_probs, draw_shoppers
from .catalogue import choice_probs as _choice_probs  # not to be read as the method below
from .shop_config import (CLICK_RATE_DECAY, COUNT_SCALE, ShopConfig, as_shop_config,
                          observation_space)

MAX_BYTES = 2 * 1024 ** 3   # memory ceiling of one VectorShopEnv: 2 GiB, ~500,000 default shoppers


def estimated_bytes(num_envs: int, config: ShopConfig) -> int:
    """Peak memory of ``VectorShopEnv(num_envs, config)`` stepping: ``num_envs * (26 n_items +
    96 K + 400)`` bytes.

    Per shopper: 26 bytes per product (``buy_base``, float64, held and drawn anew with a
    temporary as shoppers arrive; the bought mask and the masks ``step`` returns), 96 per category
    (taste, interest and their draws, the float64 state of the 4 K counts and the float32 ``obs``
    and ``final_obs`` of them), 400 for the rest. This is the peak tracemalloc measured (NumPy
    2.4) in a step that replaces every shopper; steps that replace fewer need up to a third less.
    """
    return num_envs * (26 * config.n_items + 96 * config.n_categories + 400)


class VectorShopEnv:
    """``num_envs`` independent shoppers; ``obs`` is ``(num_envs, obs_dim)`` float32.

    ``observation_space`` and ``action_space`` describe *one* shopper (as Gymnasium's
    ``single_observation_space``, also available under that name). ``item_features`` and
    ``item_feature_names`` are ``ShopEnv``'s: the products, the same for every shopper.
    """

    # Gymnasium's keys; "SameStep" is the value of gymnasium.vector.AutoresetMode.SAME_STEP.
    metadata = {"render_modes": [], "autoreset_mode": "SameStep"}

    def __init__(self, num_envs: int, config=None, seed=None):
        self.num_envs = n = check_int("num_envs", num_envs, minimum=1)
        self.config = config = as_shop_config(config)
        need = estimated_bytes(n, config)
        if need > MAX_BYTES:   # refused before anything is allocated
            raise ValueError(f"num_envs={n} shoppers of {config.n_items} products would need about "
                             f"{need} bytes; at most {MAX_BYTES} (MAX_BYTES): use fewer shoppers")
        cat = attach_catalogue(self, config)
        # One shopper's spaces, under Gymnasium's vector-env names too.
        self.observation_space = self.single_observation_space = observation_space(config,
                                                                                   cat.price)
        self.action_space = self.single_action_space = Discrete(config.n_items)
        self._rng = as_generator(seed)
        self._match_scale = float(config.n_categories)     # K in the match m = K theta[c] u[c]
        d = len(self.feature_names)
        self._rows = np.arange(n)
        # Row offsets for flat indexing: np.take on a flat index beats arr[rows, cols].
        self._at_k, self._at_d, self._at_m = (self._rows * w for w in (self.n_categories, d,
                                                                       self.n_items))
        self._item_features = np.stack([self.price / self.config.mean_price, self.quality,
                                        self.appeal], axis=1)
        self._raw = np.zeros((n, d))
        self._ready = False

    def _new_shoppers(self, idx: np.ndarray) -> None:
        """Draw fresh shoppers into the slots ``idx`` and clear their visit state."""
        s = draw_shoppers(self.config, self.catalogue, self._rng, idx.size)
        self._taste[idx] = s.taste
        self._beta[idx] = s.price_sensitivity
        self._patience0[idx] = s.patience
        self._patience[idx] = s.patience
        self._buy_base[idx] = s.buy_base
        self._deficit[idx] = 0.0
        self._bought[idx] = False
        self._t[idx] = 0
        self._raw[idx] = 0.0
        self._raw[idx, s.entry] = 1.0

    def reset(self, seed=None, options=None):
        """Draw ``num_envs`` new shoppers → ``(obs (n, d) float32, info)``.

        ``info["action_mask"]`` is ``(n, n_items)`` bool, all True. A ``seed`` reseeds the
        single generator of the batch. ``options`` is accepted for Gymnasium's signature and unused.
        """
        if seed is not None:
            self._rng = as_generator(seed)
        n, k, m = self.num_envs, self.n_categories, self.n_items
        self._taste = np.zeros((n, k))
        self._beta = np.zeros(n)
        self._patience0 = np.zeros(n)
        self._patience = np.zeros(n)
        self._buy_base = np.zeros((n, m))
        self._deficit = np.zeros((n, k))
        self._bought = np.zeros((n, m), dtype=bool)
        self._t = np.zeros(n, dtype=np.int64)
        self._new_shoppers(self._rows)
        self._ready = True
        return self._obs(), {"action_mask": np.ones((n, m), dtype=bool)}

    def _obs(self) -> np.ndarray:
        return self._raw.astype(np.float32)

    def choice_probs(self):
        """``(P(click), P(buy | click))``, each ``(num_envs, n_items)``; 0 clicks on bought items.

        Hidden-state knowledge, for oracles and tests only.
        """
        if not self._ready:
            raise RuntimeError("call reset() before choice_probs()")
        return catalogue_choice_probs(self.config, self.catalogue, self._taste, self._deficit,
                                      self._buy_base, self._bought)

    def expected_reward(self) -> np.ndarray:
        """``(num_envs, n_items)``: ``E[r_i] = P(click_i) (click_reward + P(buy_i|click) p_i)``."""
        p_click, p_buy = self.choice_probs()
        return p_click * (self.config.click_reward + p_buy * self.price)

    def hidden_state(self) -> dict:
        """Copies of the hidden state, as ``ShopEnv.hidden_state`` with a leading ``num_envs``."""
        if not self._ready:
            raise RuntimeError("call reset() before hidden_state()")
        return {"taste": self._taste.copy(), "interest": 1.0 - self._deficit,
                "bought": self._bought.copy(), "price_sensitivity": self._beta.copy(),
                "patience": self._patience.copy(), "initial_patience": self._patience0.copy()}

    def step(self, actions):
        """One product per shopper → ``(obs, rewards, terminated, truncated, info)``.

        ``actions`` ``(num_envs,)`` ints in ``[0, n_items)``; returns ``obs`` ``(n, d)``
        float32 (new shoppers' first obs where done, see the module docstring), ``rewards``
        ``(n,)`` float64, ``terminated`` and ``truncated`` ``(n,)`` bool, and ``info`` with
        ``clicked``, ``purchased``, ``left`` ``(n,)`` bool, ``revenue`` ``(n,)``,
        ``action_mask`` and ``final_action_mask`` ``(n, n_items)`` bool, ``final_obs`` ``(n, d)``
        float32 and ``_final_obs`` ``(n,)`` bool.
        """
        if not self._ready:
            raise RuntimeError("call reset() before step()")
        a = check_array("actions", actions, shape=(self.num_envs,))
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"actions must hold integers, got dtype {a.dtype}")
        if a.min() < 0 or a.max() >= self.n_items:
            bad = a[(a < 0) | (a >= self.n_items)][0]
            raise ValueError(f"actions must be in [0, {self.n_items}), got {bad}")
        cfg, rows, k, raw = self.config, self._rows, self.n_categories, self._raw
        c = self.category[a]
        at_k, at_m = self._at_k + c, self._at_m + a          # flat indices of (row, c), (row, a)
        deficit = self._deficit.reshape(-1)                  # views: writes go through
        match = self._match_scale * np.take(self._taste, at_k) * (1.0 - deficit[at_k])
        p_click, p_buy = _choice_probs(cfg, self.catalogue.click_static[a],
                                       np.take(self._buy_base, at_m), match)
        u = self._rng.random((self.num_envs, 2))
        clicked = (u[:, 0] < p_click) & ~np.take(self._bought, at_m)
        purchased = clicked & (u[:, 1] < p_buy)
        revenue = np.where(purchased, self.price[a], 0.0)
        rewards = revenue + cfg.click_reward * clicked
        # Patience: ignored, disappointed, or restored by a purchase (never above P_0).
        cost = np.where(clicked, self.catalogue.letdown[a], cfg.ignore_cost)
        self._patience = np.where(purchased,
                                  np.minimum(self._patience + cfg.purchase_boost, self._patience0),
                                  self._patience - cost)
        self._deficit *= 1.0 - cfg.recovery
        sat = at_k[purchased]
        deficit[sat] = 1.0 - (1.0 - deficit[sat]) * cfg.satiation
        self._bought.reshape(-1)[at_m[purchased]] = True
        self._t += 1
        flat, at_c = raw.reshape(-1), self._at_d + c
        flat[at_c + k] += COUNT_SCALE
        flat[at_c + 2 * k] += COUNT_SCALE * clicked
        flat[at_c + 3 * k] += COUNT_SCALE * purchased
        raw[:, 4 * k:4 * k + 3] = self._item_features[a]
        raw[:, 4 * k + 3] = clicked
        raw[:, 4 * k + 4] = purchased
        raw[:, 4 * k + 5] = self._t / cfg.max_steps
        raw[:, 4 * k + 6] += CLICK_RATE_DECAY * (clicked - raw[:, 4 * k + 6])
        terminated = self._patience <= 0.0
        truncated = (self._t >= cfg.max_steps) & ~terminated
        done = terminated | truncated
        obs = self._obs()
        info = {"clicked": clicked, "purchased": purchased, "revenue": revenue,
                "left": terminated.copy(), "final_obs": obs.copy(), "_final_obs": done,
                "final_action_mask": ~self._bought}
        if done.any():
            idx = rows[done]
            self._new_shoppers(idx)
            obs[idx] = raw[idx]
            info["action_mask"] = ~self._bought
        else:
            info["action_mask"] = info["final_action_mask"].copy()
        return obs, rewards, terminated, truncated, info

    def close(self) -> None:
        """Nothing to release; here for Gymnasium compatibility."""

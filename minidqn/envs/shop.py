"""ShopEnv: a shop simulator in which the best recommendation is not the likeliest sale.

Each episode is one shopper's visit. Each step the agent recommends one product of a fixed
catalogue; the shopper clicks it or not, buys it or not, and loses or regains patience. The
reward is the revenue of a purchase (plus ``click_reward`` per click). ``VectorShopEnv``
(``vector_shop.py``) runs the same model for many shoppers at once. Below both, ``catalogue.py``
draws the products and the shoppers and holds the choice equations, and ``shop_config.py`` holds
``ShopConfig`` and the observation layout. Not covered: slates of several products, changing
prices, shoppers who learn, returning visitors.

Generative model (``K`` categories; product ``i`` has category ``c_i``, price ``p_i``, quality
``q_i``, appeal ``a_i``; ``sigma`` is the logistic function; hidden means never observed):

* Catalogue, fixed by ``catalogue_seed``: ``n_categories`` balanced categories; plain products
  (quality ~U(0.35, 0.75), appeal ~U(0.3, 0.7)), *traps* (quality ~U(0.05, 0.25), appeal
  ~U(0.85, 1), price times ``trap_markup``) and *gems* (quality ~U(0.8, 1), appeal ~U(0, 0.3)),
  the last two dealt out evenly over the categories; ``price = mean_price * exp(price_spread *
  N(0, 1))`` (rewards are in units of ``mean_price``); category popularity ``pi ~ Dirichlet(2)``.
* Shopper, drawn at each reset: hidden taste ``theta = softmax(log pi + taste_spread * N(0, I))``,
  hidden price sensitivity ``beta = price_sensitivity * exp(price_sensitivity_spread * N(0, 1))``,
  hidden patience ``P = P_0 ~ U(patience_min, patience_max)``, hidden interest ``u_c = 1``; and
  the landing category ``e = argmax theta``, which *is* observed (a shop sees the page the
  shopper arrived on: the category they want most; the rest of the taste stays hidden).
* Match ``m_i = K * theta[c_i] * u[c_i]`` (1 for an average category) enters both choices:

      P(click_i)       = sigma(click_bias + click_taste * log(match_floor + m_i)
                               + click_appeal * (a_i - 1/2))          (0 if i was bought)
      P(buy_i | click) = sigma(buy_bias + buy_taste * log(match_floor + m_i)
                               + buy_quality * (q_i - 1/2) - beta * log(p_i / mean_price))

* Reward ``r = p_i * bought + click_reward * clicked``, so the expected immediate reward is
  ``E[r_i] = P(click_i) * (click_reward + P(buy_i | click) * p_i)`` (``expected_reward()``).
* Patience: ``P -= ignore_cost`` if not clicked; ``P -= ignore_cost + disappoint_cost *
  (1 - q_i)`` if clicked and not bought (the poorer the product, the worse the letdown);
  ``P = min(P + purchase_boost, P_0)`` after a purchase. The shopper leaves (``terminated``,
  ``info["left"]``) when ``P <= 0``; the visit is cut (``truncated``) after ``max_steps``.
* Interest: each step ``1 - u_c`` shrinks by the factor ``1 - recovery`` for every ``c``; then
  a purchase in category ``c`` sets ``u_c = satiation * u_c`` (that need is met for a while).
  A bought product is never clicked nor bought again (``info["action_mask"]`` is False for it).

The long-term trade-off: with the defaults a trap has the highest *immediate* expected revenue
(clicked often, priced high) but mostly ends in a letdown that costs as much patience as five
or six ignored recommendations, so a myopic recommender ends visits early. Traps are the
same products for every shopper, so "product ``i`` is a trap" is learnable from actions and
rewards alone; the landing category and the clicks per category reveal the taste.

Observation (float32, ``4 K + 7`` entries, named in ``feature_names``, in this order):
``entry_c`` (landing category one-hot), ``views_c``, ``clicks_c``, ``purchases_c`` (counts so far
times 0.1), ``last_price`` (last recommended product's price / mean_price), ``last_quality``,
``last_appeal``, ``last_clicked``, ``last_purchased`` (0/1), ``step`` (steps so far /
max_steps), ``click_rate`` (recent click rate: ``x <- x + 0.3 (clicked - x)``, from 0).
"""
from __future__ import annotations

import math

import numpy as np

from .._validate import as_generator, check_int
from ..spaces import Discrete
from .catalogue import attach_catalogue, catalogue_choice_probs, draw_shoppers
# ShopConfig and the observation constants live below both shops; importable from here too.
from .shop_config import (CLICK_RATE_DECAY, COUNT_SCALE, ShopConfig, as_shop_config,
                          observation_space)
# Only for ShopEnv.vector; vector_shop.py does not import this module.
from .vector_shop import VectorShopEnv


class ShopEnv:
    """One shopper at a time; see the module docstring for the model and the observation.

    Attributes: ``config``, ``catalogue`` and its arrays ``price``, ``quality``, ``appeal``,
    ``category`` (shape ``(n_items,)``), ``feature_names``, ``observation_space`` (``Box``,
    float32, shape ``(4 K + 7,)``), ``action_space`` (``Discrete(n_items)``), and what the shop
    knows of its products: ``item_features`` ``(n_items, 3 + K)`` float32 (read-only) with its
    column names ``item_feature_names`` (``shop_config.item_features``).
    """

    metadata = {"render_modes": []}  # Gymnasium's: nothing to render

    def __init__(self, config: ShopConfig | None = None, seed=None):
        self.config = config = as_shop_config(config)
        cat = attach_catalogue(self, config)
        self.observation_space = observation_space(config, cat.price)
        self.action_space = Discrete(config.n_items)
        self._rng = as_generator(seed)
        self._match_scale = float(config.n_categories)     # K in the match m = K theta[c] u[c]
        # Python lists of floats: step() works on scalars, and lists index faster than arrays.
        self._cat = self.category.tolist()
        self._price = self.price.tolist()
        self._click_static = self.catalogue.click_static.tolist()
        self._letdown = self.catalogue.letdown.tolist()
        self._last = [(p / config.mean_price, q, a) for p, q, a in
                      zip(self._price, self.quality.tolist(), self.appeal.tolist())]
        self._t = None                             # None until reset: step() refuses

    @classmethod
    def vector(cls, num_envs: int, config: ShopConfig | None = None, seed=None):
        """``VectorShopEnv(num_envs, config, seed)``: the same model, ``num_envs`` at once."""
        return VectorShopEnv(num_envs, config, seed)

    def reset(self, seed=None, options=None):
        """Draw a new shopper → ``(obs, info)``; ``info["action_mask"]`` is all True.

        A ``seed`` (int or Generator) reseeds the env's generator; without one the next shopper
        comes from the same stream. ``options`` is accepted for Gymnasium's signature and unused.
        """
        if seed is not None:
            self._rng = as_generator(seed)
        s = draw_shoppers(self.config, self.catalogue, self._rng, 1)
        self._taste = s.taste[0]
        self._beta = float(s.price_sensitivity[0])
        self._patience0 = self._patience = float(s.patience[0])
        self._buy_base = s.buy_base[0]
        self._lists = (self._taste.tolist(), self._buy_base.tolist())
        self._deficit = np.zeros(self.n_categories)        # 1 - interest, per category
        self._bought = np.zeros(self.n_items, dtype=bool)
        self._raw = np.zeros(len(self.feature_names))
        self._raw[s.entry[0]] = 1.0
        self._t = 0
        self._done = False
        return self._obs(), {"action_mask": np.ones(self.n_items, dtype=bool)}

    def _obs(self) -> np.ndarray:
        return self._raw.astype(np.float32)

    def choice_probs(self):
        """``(P(click), P(buy | click))``, each ``(n_items,)``, for the current shopper and state.

        Hidden-state knowledge, for oracles and tests only. ``P(click)`` is 0 for bought items.
        """
        if self._t is None:
            raise RuntimeError("call reset() before choice_probs()")
        return catalogue_choice_probs(self.config, self.catalogue, self._taste, self._deficit,
                                      self._buy_base, self._bought)

    def expected_reward(self) -> np.ndarray:
        """``(n_items,)``: ``E[r_i] = P(click_i) (click_reward + P(buy_i | click) p_i)``."""
        p_click, p_buy = self.choice_probs()
        return p_click * (self.config.click_reward + p_buy * self.price)

    def hidden_state(self) -> dict:
        """Copies of the shopper's hidden state (for oracles and tests; an agent must not look).

        ``taste`` ``(K,)``, ``interest`` ``(K,)``, ``bought`` ``(n_items,)``, and the floats
        ``price_sensitivity``, ``patience``, ``initial_patience``.
        """
        if self._t is None:
            raise RuntimeError("call reset() before hidden_state()")
        return {"taste": self._taste.copy(), "interest": 1.0 - self._deficit,
                "bought": self._bought.copy(), "price_sensitivity": self._beta,
                "patience": self._patience, "initial_patience": self._patience0}

    def step(self, action):
        """Recommend product ``action`` → ``(obs, reward, terminated, truncated, info)``.

        ``info``: ``clicked``, ``purchased``, ``left`` (bool; ``left`` = ran out of patience),
        ``revenue`` (float), ``action_mask`` ``(n_items,)`` bool (False = already bought).
        """
        if self._t is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended; "
                               "call reset()")
        if type(action) is not int:                # fast path for plain ints
            action = check_int("action", action)
        if not 0 <= action < self.n_items:
            raise ValueError(f"action must be in [0, {self.n_items}), got {action}")
        cfg, a, c, k, raw = self.config, action, self._cat[action], self.n_categories, self._raw
        taste, buy_base = self._lists
        # Same equations and the same order of operations as catalogue.choice_probs.
        taste_term = math.log(cfg.match_floor
                              + self._match_scale * taste[c] * (1.0 - self._deficit.item(c)))
        click_logit = self._click_static[a] + cfg.click_taste * taste_term
        p_click = 0.5 + 0.5 * math.tanh(0.5 * click_logit)
        p_buy = 0.5 + 0.5 * math.tanh(0.5 * (buy_base[a] + cfg.buy_taste * taste_term))
        u = self._rng.random(2)                    # drawn even when unused: keeps streams aligned
        clicked = u.item(0) < p_click and not self._bought.item(a)
        purchased = clicked and u.item(1) < p_buy
        revenue = self._price[a] if purchased else 0.0
        reward = revenue + cfg.click_reward * clicked
        if purchased:
            self._patience = min(self._patience + cfg.purchase_boost, self._patience0)
        else:
            self._patience -= self._letdown[a] if clicked else cfg.ignore_cost
        self._deficit *= 1.0 - cfg.recovery
        if purchased:
            self._deficit[c] = 1.0 - (1.0 - self._deficit[c]) * cfg.satiation
            self._bought[a] = True
        self._t += 1
        raw[k + c] += COUNT_SCALE
        raw[2 * k + c] += COUNT_SCALE * clicked
        raw[3 * k + c] += COUNT_SCALE * purchased
        raw[4 * k:4 * k + 6] = (*self._last[a], clicked, purchased, self._t / cfg.max_steps)
        raw[4 * k + 6] += CLICK_RATE_DECAY * (clicked - raw[4 * k + 6])
        terminated = self._patience <= 0.0
        truncated = self._t >= cfg.max_steps and not terminated
        self._done = terminated or truncated
        info = {"clicked": clicked, "purchased": purchased, "revenue": revenue,
                "left": terminated, "action_mask": ~self._bought}
        return self._obs(), reward, terminated, truncated, info

    def close(self) -> None:
        """Nothing to release; here for Gymnasium compatibility."""

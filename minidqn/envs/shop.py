"""ShopEnv: a shop simulator in which the best recommendation is not the likeliest sale.

Each episode is one shopper's visit. Each step the agent recommends one product of a fixed
catalogue; the shopper clicks it or not, buys it or not, and loses or regains patience. The
reward is the revenue of a purchase (plus ``click_reward`` per click). ``VectorShopEnv``
(``vector_shop.py``) runs the same model for many shoppers at once; ``catalogue.py`` draws the
products and the shoppers. Not covered: slates of several products, changing prices, shoppers
who learn, returning visitors.

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
from dataclasses import dataclass, fields

import numpy as np

from .._validate import as_generator, check_float, check_int
from ..spaces import Box, Discrete
from .catalogue import catalogue_choice_probs, draw_shoppers, make_catalogue

COUNT_SCALE = 0.1        # observation scale of the per-category counts
CLICK_RATE_DECAY = 0.3   # weight of the newest step in the recent click rate


@dataclass(frozen=True)
class ShopConfig:
    """Every knob of the shop; frozen (vary it with ``dataclasses.replace``), checked on creation.

    The defaults make the long-term trade-off large: the myopic oracle is far from optimal.
    """
    n_items: int = 100                      # products in the catalogue
    n_categories: int = 10                  # product categories K
    catalogue_seed: int = 0                 # fixes the catalogue across episodes and instances
    trap_fraction: float = 0.2              # share of tempting-but-poor products
    gem_fraction: float = 0.15              # share of good-but-plain products
    mean_price: float = 1.0                 # typical price: prices and rewards are in its units
    price_spread: float = 0.4               # sd of log price among products
    trap_markup: float = 4.5                # price multiplier of the traps
    taste_spread: float = 2.0               # sd of the taste logits (large: focused shoppers)
    price_sensitivity: float = 0.5          # median beta, weight of log relative price at checkout
    price_sensitivity_spread: float = 0.3   # sd of log beta among shoppers
    patience_min: float = 3.0               # lowest initial patience P_0
    patience_max: float = 8.0               # highest initial patience P_0
    match_floor: float = 0.05               # keeps log(match) finite for an unwanted category
    click_bias: float = -0.9                # click logit of an average product at match 1
    click_taste: float = 1.5                # weight of log match in the click logit
    click_appeal: float = 4.0               # weight of appeal in the click logit
    buy_bias: float = 0.0                   # purchase logit (given a click) of an average product
    buy_taste: float = 0.3                  # weight of log match in the purchase logit
    buy_quality: float = 3.5                # weight of quality in the purchase logit
    ignore_cost: float = 0.75               # patience lost when a recommendation is ignored
    disappoint_cost: float = 4.0            # extra patience lost on a click without purchase,
                                            # times (1 - quality)
    purchase_boost: float = 3.0             # patience regained by a purchase (capped at P_0)
    satiation: float = 0.5                  # interest left in a category right after a purchase
    recovery: float = 0.1                   # share of lost interest regained each step
    click_reward: float = 0.0               # reward per click, on top of revenue
    max_steps: int = 50                     # visit length cap (truncation)

    def __post_init__(self):
        for f in fields(self):
            name, value = f"config.{f.name}", getattr(self, f.name)
            if f.type in ("int", int):
                value = check_int(name, value, minimum=_INT_MIN.get(f.name, 0))
            else:
                low, high, low_open = _BOUNDS.get(f.name, (0.0, 1e6, False))
                value = check_float(name, value, low, high, low_open=low_open)
            object.__setattr__(self, f.name, value)       # frozen: the only way in
        if self.n_categories > self.n_items:
            raise ValueError(f"config.n_categories must be <= n_items ({self.n_items}), "
                             f"got {self.n_categories}")
        if self.patience_min > self.patience_max:
            raise ValueError(f"config.patience_min must be <= patience_max "
                             f"({self.patience_max}), got {self.patience_min}")
        if self.trap_fraction + self.gem_fraction > 1.0:
            raise ValueError(f"config.trap_fraction + gem_fraction must be <= 1, got "
                             f"{self.trap_fraction} + {self.gem_fraction}")


_INT_MIN = {"n_items": 1, "n_categories": 1, "max_steps": 1}
# (low, high, low excluded); unlisted floats are in [0, 1e6]. The highs keep exp() finite.
_BOUNDS = {"trap_fraction": (0.0, 1.0, False), "gem_fraction": (0.0, 1.0, False),
           "satiation": (0.0, 1.0, False), "recovery": (0.0, 1.0, False),
           "match_floor": (0.0, 1.0, True), "mean_price": (0.0, 1e6, True),
           "price_spread": (0.0, 5.0, False), "trap_markup": (0.0, 100.0, True),
           "taste_spread": (0.0, 10.0, False), "price_sensitivity": (0.0, 10.0, False),
           "price_sensitivity_spread": (0.0, 2.0, False),
           "patience_min": (0.0, 1e6, True), "patience_max": (0.0, 1e6, True),
           **{k: (-50.0, 50.0, False) for k in ("click_bias", "click_taste", "click_appeal",
                                                "buy_bias", "buy_taste", "buy_quality")}}


def _setup(env, config, seed) -> None:
    """What ``ShopEnv`` and ``VectorShopEnv`` share: config, catalogue, spaces, feature names."""
    if config is None:
        config = ShopConfig()
    if not isinstance(config, ShopConfig):
        raise TypeError(f"config must be a ShopConfig or None, got {type(config).__name__}")
    env.config = config
    env.catalogue = cat = make_catalogue(config)
    env.price, env.quality, env.appeal, env.category = (cat.price, cat.quality, cat.appeal,
                                                        cat.category)
    env.n_items, env.n_categories = config.n_items, config.n_categories
    k = config.n_categories
    env.feature_names = ([f"entry_{c}" for c in range(k)] + [f"views_{c}" for c in range(k)]
                         + [f"clicks_{c}" for c in range(k)]
                         + [f"purchases_{c}" for c in range(k)]
                         + ["last_price", "last_quality", "last_appeal", "last_clicked",
                            "last_purchased", "step", "click_rate"])
    d = len(env.feature_names)
    high = np.ones(d)
    high[k:4 * k] = config.max_steps * COUNT_SCALE
    high[4 * k] = cat.price.max() / config.mean_price
    env.observation_space = Box(0.0, high.astype(np.float32), dtype=np.float32)
    env.action_space = Discrete(config.n_items)
    env._rng = as_generator(seed)
    env._match_scale = float(k)


class ShopEnv:
    """One shopper at a time; see the module docstring for the model and the observation.

    Attributes: ``config``, ``catalogue`` and its arrays ``price``, ``quality``, ``appeal``,
    ``category`` (shape ``(n_items,)``), ``feature_names``, ``observation_space`` (``Box``,
    float32, shape ``(4 K + 7,)``), ``action_space`` (``Discrete(n_items)``).
    """

    metadata = {"render_modes": []}  # Gymnasium's: nothing to render

    def __init__(self, config: ShopConfig | None = None, seed=None):
        _setup(self, config, seed)
        config = self.config
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
        from .vector_shop import VectorShopEnv
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
        return catalogue_choice_probs(self)

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

"""``ShopConfig`` and the observation it implies: what fixes a shop before any shopper arrives.

Shared by ``ShopEnv`` (one shopper, ``shop.py``) and ``VectorShopEnv`` (many, ``vector_shop.py``),
which import it and never each other. ``ShopConfig`` holds every knob of the model written out in
``shop.py``'s module docstring, checked on creation. The observation layout is the same for both
shops: ``feature_names(K)`` gives the ``4 K + 7`` names in order, ``observation_space`` their
bounds, and ``COUNT_SCALE`` and ``CLICK_RATE_DECAY`` the two constants of its update. So is what a
shop knows about each product: ``item_features`` (``item_feature_names(K)`` name its ``3 + K``
columns), the input of an agent that scores products by their features. Not covered:
the catalogue and the shoppers (``catalogue.py``), the steps (the two shops).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .._validate import check_float, check_int
from ..spaces import Box

COUNT_SCALE = 0.1        # observation scale of the per-category counts
CLICK_RATE_DECAY = 0.3   # weight of the newest step in the recent click rate


@dataclass(frozen=True)
class ShopConfig:
    """Every knob of the shop; frozen (vary it with ``dataclasses.replace``), checked on creation.

    The symbols are those of the generative model in ``shop.py``'s module docstring. The
    defaults make the long-term trade-off large: the myopic oracle is far from optimal.
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


def as_shop_config(config) -> ShopConfig:
    """``config`` itself, or the default ``ShopConfig()`` for ``None``; ``TypeError`` otherwise."""
    if config is None:
        return ShopConfig()
    if not isinstance(config, ShopConfig):
        raise TypeError(f"config must be a ShopConfig or None, got {type(config).__name__}")
    return config


def feature_names(n_categories: int) -> list:
    """The ``4 K + 7`` observation entries in order: ``entry_c``, ``views_c``, ``clicks_c``,
    ``purchases_c`` for ``c < K``, then the seven features of the last step and the visit."""
    k = range(n_categories)
    return ([f"entry_{c}" for c in k] + [f"views_{c}" for c in k] + [f"clicks_{c}" for c in k]
            + [f"purchases_{c}" for c in k]
            + ["last_price", "last_quality", "last_appeal", "last_clicked", "last_purchased",
               "step", "click_rate"])


def observation_space(config: ShopConfig, price: np.ndarray) -> Box:
    """``Box`` of float32 ``(4 K + 7,)`` from 0 to 1, except the counts (at most ``max_steps``
    of them, times ``COUNT_SCALE``) and ``last_price`` (at most ``max(price) / mean_price``)."""
    k = config.n_categories
    high = np.ones(4 * k + 7)
    high[k:4 * k] = config.max_steps * COUNT_SCALE
    high[4 * k] = price.max() / config.mean_price
    return Box(0.0, high.astype(np.float32), dtype=np.float32)


def item_feature_names(n_categories: int) -> list:
    """The ``3 + K`` columns of ``item_features``: ``price`` (over ``mean_price``), ``quality``,
    ``appeal``, then the category one-hot ``category_c`` for ``c < K``."""
    return ["price", "quality", "appeal"] + [f"category_{c}" for c in range(n_categories)]


def item_features(config: ShopConfig, price, quality, appeal, category) -> np.ndarray:
    """``(n_items, 3 + K)`` float32: what a shop knows about each of its products.

    Price (in units of ``mean_price``, as the observation's ``last_price``), quality (a rating),
    appeal (how tempting its picture and title are) and the category. Nothing about any shopper
    (taste, price sensitivity, patience) and nothing the simulator derives from the population
    (category popularity): a new catalogue's products are described by the same columns.
    """
    n, k = price.shape[0], config.n_categories
    x = np.zeros((n, 3 + k), np.float32)
    x[:, 0] = price / config.mean_price
    x[:, 1] = quality
    x[:, 2] = appeal
    x[np.arange(n), 3 + category] = 1.0
    return x

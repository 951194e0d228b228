"""The shop's fixed world: its catalogue, its population of shoppers and their choice equations.

Shared by ``ShopEnv`` (one shopper) and ``VectorShopEnv`` (many), so both run the same model;
the equations themselves are written out in ``minidqn/envs/shop.py``'s module docstring, their
knobs in ``ShopConfig`` (``shop_config.py``). This module knows nothing of steps, observations or
episodes: the functions take the shopper's state as arrays. ``attach_catalogue`` gives both
shops the same catalogue attributes, including what a shop knows of its products.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shop_config import feature_names, item_feature_names, item_features

# (quality low, quality high, appeal low, appeal high) of each kind of product.
KINDS = {"plain": (0.35, 0.75, 0.3, 0.7),     # ordinary products
         "trap": (0.05, 0.25, 0.85, 1.0),      # tempting but poor: clicked, rarely bought
         "gem": (0.8, 1.0, 0.0, 0.3)}         # good but plain-looking


@dataclass(frozen=True)
class Catalogue:
    """The products, fixed by ``config.catalogue_seed``; every array has shape ``(n_items,)``.

    ``category`` (int64), ``price``, ``quality`` and ``appeal`` (float64, the last two in
    ``[0, 1]``), ``is_trap`` and ``is_gem`` (bool); ``popularity`` ``(n_categories,)`` is the
    population's category popularity ``pi``. The rest are precomputed parts of the equations.
    """
    category: np.ndarray
    price: np.ndarray
    quality: np.ndarray
    appeal: np.ndarray
    is_trap: np.ndarray
    is_gem: np.ndarray
    popularity: np.ndarray
    log_popularity: np.ndarray  # log(pi)
    log_rel_price: np.ndarray   # log(price / mean_price), the price term of the purchase logit
    click_static: np.ndarray    # click_bias + click_appeal * (appeal - 1/2)
    buy_static: np.ndarray      # buy_bias + buy_quality * (quality - 1/2)
    letdown: np.ndarray         # patience lost on a click without purchase (see ShopConfig)


def make_catalogue(config) -> Catalogue:
    """Draw the catalogue and the category popularity from ``config.catalogue_seed``.

    Categories are balanced (``n_items // n_categories`` or one more each); there are
    ``round(fraction * n_items)`` traps and gems, dealt out evenly over the categories;
    ``price = mean_price * exp(price_spread * xi)``, ``xi ~ N(0, 1)``, times ``trap_markup``
    for traps; ``pi ~ Dirichlet(2, ..., 2)``.
    """
    rng = np.random.default_rng(config.catalogue_seed)
    n, k = config.n_items, config.n_categories
    category = rng.permutation(np.arange(n) % k).astype(np.int64)
    # Spread traps and gems evenly over the categories: deal them out by rank within category.
    rank = np.empty(n, dtype=np.int64)
    for c in range(k):
        members = np.flatnonzero(category == c)
        rank[members] = rng.permutation(members.size)
    order = np.lexsort((rng.random(n), rank))             # all rank-0 items first, and so on
    kind = np.zeros(n, dtype=np.int64)                     # 0 plain, 1 trap, 2 gem
    n_trap = int(round(config.trap_fraction * n))
    n_gem = int(round(config.gem_fraction * n))
    kind[order[:n_trap]] = 1
    kind[order[n_trap:n_trap + n_gem]] = 2
    bounds = np.array([KINDS["plain"], KINDS["trap"], KINDS["gem"]])[kind]
    quality = rng.uniform(bounds[:, 0], bounds[:, 1])
    appeal = rng.uniform(bounds[:, 2], bounds[:, 3])
    price = config.mean_price * np.exp(config.price_spread * rng.standard_normal(n))
    price = np.where(kind == 1, price * config.trap_markup, price)
    popularity = rng.dirichlet(np.full(k, 2.0))
    cat = Catalogue(category=category, price=price, quality=quality, appeal=appeal,
                    is_trap=kind == 1, is_gem=kind == 2, popularity=popularity,
                    log_popularity=np.log(popularity),
                    log_rel_price=np.log(price / config.mean_price),
                    click_static=config.click_bias + config.click_appeal * (appeal - 0.5),
                    buy_static=config.buy_bias + config.buy_quality * (quality - 0.5),
                    letdown=config.ignore_cost + config.disappoint_cost * (1.0 - quality))
    for arr in vars(cat).values():
        arr.flags.writeable = False    # ShopEnv keeps list copies: an edit would desync them
    return cat


@dataclass
class Shoppers:
    """A batch of ``n`` fresh shoppers; the hidden state the agent never observes.

    ``taste`` ``(n, n_categories)`` (rows on the simplex), ``price_sensitivity`` ``(n,)``,
    ``patience`` ``(n,)``, ``entry`` ``(n,)`` int64 (the landing category, which *is* observed),
    and ``buy_base`` ``(n, n_items)``, the part of the purchase logit fixed for the visit
    (``catalogue.click_static`` plays that role for clicks, the same for everyone).
    """
    taste: np.ndarray
    price_sensitivity: np.ndarray
    patience: np.ndarray
    entry: np.ndarray
    buy_base: np.ndarray


def draw_shoppers(config, cat: Catalogue, rng: np.random.Generator, n: int) -> Shoppers:
    """Draw ``n`` shoppers from the population, in a fixed order of draws.

    ``taste = softmax(log pi + taste_spread * z)``, ``z ~ N(0, I_K)``; ``beta = price_sensitivity *
    exp(price_sensitivity_spread * N(0, 1))``, ``patience ~ U(patience_min, patience_max)``,
    ``entry = argmax(taste)``. The single and the batched env both call this, so one seed gives
    them the same shoppers.
    """
    k = config.n_categories
    z = rng.standard_normal((n, k + 1))                 # taste logits, then log price sensitivity
    u = rng.random(n)                                   # patience
    # No max-subtraction before exp: ShopConfig caps taste_spread at 10, far from overflow.
    taste = np.exp(cat.log_popularity + config.taste_spread * z[:, :k])
    taste /= taste.sum(axis=1, keepdims=True)
    beta = config.price_sensitivity * np.exp(config.price_sensitivity_spread * z[:, k])
    patience = config.patience_min + (config.patience_max - config.patience_min) * u
    entry = taste.argmax(axis=1)
    buy_base = cat.buy_static - beta[:, None] * cat.log_rel_price
    return Shoppers(taste=taste, price_sensitivity=beta, patience=patience,
                    entry=entry.astype(np.int64), buy_base=buy_base)


def choice_logits(config, click_base, buy_base, match):
    """``(click logit, purchase logit)`` from the per-item bases and the match ``m`` (any shape).

    ``m = K * taste[c] * interest[c]`` for the item's category ``c``; the taste term is
    ``log(match_floor + m)``, so a category the shopper ignores costs a large, finite penalty.
    The slate shop (``slate_shop.py``) puts the click logits into its multinomial logit.
    """
    taste_term = np.log(config.match_floor + match)
    return click_base + config.click_taste * taste_term, buy_base + config.buy_taste * taste_term


def sigmoid(x):
    """``sigma(x)`` computed as ``(1 + tanh(x / 2)) / 2``, which cannot overflow."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def choice_probs(config, click_base, buy_base, match):
    """``(P(click), P(buy | click))``: the sigmoids of :func:`choice_logits`."""
    click_logit, buy_logit = choice_logits(config, click_base, buy_base, match)
    return sigmoid(click_logit), sigmoid(buy_logit)


def catalogue_choice_probs(config, cat: Catalogue, taste, deficit, buy_base, bought) -> tuple:
    """``(P(click), P(buy | click))`` of every product for shoppers in a given state.

    ``taste`` and ``deficit`` (``1 - interest``) are ``(..., K)``, ``buy_base`` and ``bought``
    ``(..., n_items)``: ``(n_items,)`` results for one shopper, ``(n, n_items)`` for ``n``.
    ``P(click)`` is 0 for bought products.
    """
    p_click, p_buy = (sigmoid(x) for x in catalogue_choice_logits(config, cat, taste, deficit, buy_base))
    p_click[bought] = 0.0
    return p_click, p_buy


def catalogue_choice_logits(config, cat: Catalogue, taste, deficit, buy_base) -> tuple:
    """``(click logit, purchase logit)`` of every product, shapes as in :func:`catalogue_choice_probs`
    (nothing is set for bought products: the caller masks them)."""
    c = cat.category
    match = float(config.n_categories) * taste[..., c] * (1.0 - deficit[..., c])
    return choice_logits(config, cat.click_static, buy_base, match)


def attach_catalogue(shop, config) -> Catalogue:
    """Draw ``config``'s catalogue and set on ``shop`` (a ``ShopEnv`` or a ``VectorShopEnv``) what both
    expose of it: ``catalogue``, ``price``, ``quality``, ``appeal``, ``category``, ``n_items``,
    ``n_categories``, ``feature_names``, and what the shop knows of its products, ``item_features``
    (read-only: the simulator keeps its own copies) and ``item_feature_names``. Returns the catalogue."""
    shop.catalogue = cat = make_catalogue(config)
    shop.price, shop.quality, shop.appeal, shop.category = cat.price, cat.quality, cat.appeal, cat.category
    shop.n_items, shop.n_categories = config.n_items, config.n_categories
    shop.feature_names = feature_names(config.n_categories)
    shop.item_features = item_features(config, cat.price, cat.quality, cat.appeal, cat.category)
    shop.item_features.flags.writeable = False
    shop.item_feature_names = item_feature_names(config.n_categories)
    return cat

"""Baselines for slates: the myopic slate oracle, random slates, and the most popular products.

``GreedySlateAgent`` knows the shopper's true choice and purchase probabilities (it reads
``SlateShopEnv.slate_model()``) and shows the slate of highest expected immediate revenue,

    A* = argmax_A  sum_j P(A_j | A) r_{A_j},   r_i = click_reward + P(buy_i | click) p_i,

exactly, under the env's multinomial logit with position effects (``slate_choice.best_slate``,
Dinkelbach's method; not the top ``k`` by ``P(click) r``, since every product on the page takes
clicks from the others). It is the slate version of ``baselines.GreedyAgent``: the bar a
far-sighted learner must clear. ``RandomSlateAgent`` shows ``k`` distinct allowed products
uniformly; ``PopularitySlateAgent`` the ``k`` products bought most often so far (``baselines.
PopularityAgent``'s idea, ranked), learning which product was bought from the clicked slot
(``clicked=``, or the one a ``SlateShopEnv`` observation reports). All follow ``train.py``'s
agent protocol, with slates (``(k,)`` int arrays) as actions. Not covered: learners (``slate_q.py``).
"""
from __future__ import annotations

import numpy as np

from ._validate import as_generator, check_float, check_int, check_mask
from .envs.slate_shop import clicked_of, reports_click_in_obs
from .slate_choice import best_slate


def _slate_size(env, who: str) -> tuple[int, int]:
    space = getattr(env, "action_space", None)
    if type(space).__name__ != "Slate":
        raise TypeError(f"{who} needs an env whose action_space is a Slate (e.g. SlateShopEnv), got "
                        f"{type(env).__name__} with {space!r}")
    return space.n, space.slate_size


def _random_slate(n: int, k: int, mask, rng) -> np.ndarray:
    allowed = np.arange(n) if mask is None else np.flatnonzero(mask)
    if allowed.size < k:
        raise ValueError(f"action_mask allows {allowed.size} products, fewer than a slate of {k}")
    return rng.choice(allowed, k, replace=False).astype(np.int64)


class RandomSlateAgent:
    """``k`` distinct products uniformly at random among the allowed ones."""

    def __init__(self, n_items, slate_size, seed=0):
        self.n_items = check_int("n_items", n_items, minimum=1)
        self.slate_size = check_int("slate_size", slate_size, minimum=1, maximum=self.n_items)
        self.rng = as_generator(seed)

    @classmethod
    def for_env(cls, env, seed=0):
        return cls(*_slate_size(env, cls.__name__), seed=seed)

    def act(self, obs, explore=True, action_mask=None) -> np.ndarray:
        mask = check_mask("action_mask", action_mask, (self.n_items,))
        return _random_slate(self.n_items, self.slate_size, mask, self.rng)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None):
        return None


class PopularitySlateAgent:
    """The ``k`` products rewarded most often so far, most popular in the top slot; ties at random.

    ``observe`` counts ``reward > 0`` for the product in the clicked slot: ``clicked=`` (``train``
    passes the env's ``info["clicked"]``), else, built by ``for_env`` on a ``SlateShopEnv``, the
    slot ``next_obs`` reports (``slate_shop.clicked_slot``). With ``epsilon``, exploring calls show
    a random slate: as with ``PopularityAgent``, a fair baseline learns its counts from random
    slates (``epsilon=1``).
    """

    def __init__(self, n_items, slate_size, seed=0, epsilon=0.0, clicked_in_obs=False):
        self.n_items = check_int("n_items", n_items, minimum=1)
        self.slate_size = check_int("slate_size", slate_size, minimum=1, maximum=self.n_items)
        self.rng = as_generator(seed)
        self.epsilon = check_float("epsilon", epsilon, 0.0, 1.0)
        self.clicked_in_obs = bool(clicked_in_obs)   # next_obs ends with the clicked slot (SlateShopEnv)
        self.counts = np.zeros(self.n_items, dtype=np.int64)

    @classmethod
    def for_env(cls, env, seed=0, epsilon=0.0):
        return cls(*_slate_size(env, cls.__name__), seed=seed, epsilon=epsilon,
                   clicked_in_obs=reports_click_in_obs(env))

    def act(self, obs, explore=True, action_mask=None) -> np.ndarray:
        mask = check_mask("action_mask", action_mask, (self.n_items,))
        if explore and self.epsilon > 0 and self.rng.random() < self.epsilon:
            return _random_slate(self.n_items, self.slate_size, mask, self.rng)
        counts = self.counts if mask is None else np.where(mask, self.counts, -1)
        order = np.lexsort((self.rng.random(self.n_items), -counts))   # by count, ties at random
        return order[:self.slate_size].astype(np.int64)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None, clicked=None):
        A = np.asarray(action)
        if A.shape != (self.slate_size,) or not np.issubdtype(A.dtype, np.integer):
            raise ValueError(f"action must be a slate of {self.slate_size} product ids, got {action!r}")
        j = clicked_of("PopularitySlateAgent", clicked, next_obs, self.clicked_in_obs, self.slate_size)
        if check_float("reward", reward) > 0 and j >= 0:
            self.counts[A[j]] += 1
        return None


class GreedySlateAgent:
    """Myopic slate oracle: the exact ``argmax_A E[r | s, A]`` from ``env.slate_model()``.

    The trap, as with ``GreedyAgent``: it reads the env's *current* hidden state, so it must act on
    the very env object it was built with.
    """

    def __init__(self, env, seed=0):
        if not callable(getattr(env, "slate_model", None)):
            raise TypeError(f"GreedySlateAgent needs an env with slate_model() (a SlateShopEnv), got "
                            f"{type(env).__name__}")
        self.env = env
        self.n_items, self.slate_size = _slate_size(env, "GreedySlateAgent")
        self.rng = as_generator(seed)

    def act(self, obs, explore=True, action_mask=None) -> np.ndarray:
        v, rho, r, allowed = self.env.slate_model()
        mask = check_mask("action_mask", action_mask, (self.n_items,))
        if mask is not None:
            allowed = allowed & mask
        slate, _ = best_slate(v, r, rho, allowed)
        return slate

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None):
        return None

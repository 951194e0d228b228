"""TabularSlateShop: a small finite slate problem with its exact model, the truth SlateQ is checked on.

A shopper of one of two segments browses with a patience of 1 to 3. Each step the shop shows an
ordered slate of 2 of 4 products; the shopper clicks at most one by the multinomial logit of
``minidqn.slate_choice`` (utility ``v[segment, i]``, slot effects ``rho = (0, -0.7)``, no click 0),
then buys the clicked product with probability ``buy[segment, i]``. A purchase earns the price,
restores patience to 3 and, for 30 % of buyers, ends the visit; a click without purchase costs
``miss_cost[i]`` patience, no click costs 1; at zero patience the shopper leaves.

=========  =====  =========  ==================  ==================
product    price  miss cost  utility v           P(buy | click)
                             bargain / spender   bargain / spender
=========  =====  =========  ==================  ==================
socks          5  1           1.0 /  0.0          0.60 / 0.30
t-shirt       15  1           0.5 /  0.5          0.40 / 0.35
jeans         40  2          -0.5 /  0.5          0.10 / 0.35
watch        120  2           1.5 /  1.5          0.03 / 0.15
=========  =====  =========  ==================  ==================

Segments: bargain hunter 0.6, big spender 0.4 (drawn at reset); state ``s = segment * 3 +
(patience - 1)``, ``Discrete(6)``, observed; patience 3 on arrival. The watch is the trap: the
most clicked and, for spenders, a high immediate expected revenue, but a click on it mostly ends
in a letdown worth two ignored pages.

The model satisfies SlateQ's assumptions exactly: the reward and the next state depend on the
slate only through the product chosen (or none). So ``item_model()`` gives, for each choice
``i`` (the 4 products, then 4 = no click), ``R_item[s, i]`` and ``P_item[s, i, s']``, and
``model()`` over the 12 ordered slates (``slates``, ``(12, 2)``) is ``R = C @ R_item``,
``P = C @ P_item`` with ``C[s, A, i] = P(i | s, A)`` (``choice()``). This module does not cover
learning (``slate_q.py``) or the feature-based slate shop (``slate_shop.py``).
"""
from __future__ import annotations

from itertools import permutations

import numpy as np

from .._validate import as_generator, check_int
from ..slate_choice import slate_probs
from ..spaces import Discrete, Slate

PRODUCTS = ("socks", "t-shirt", "jeans", "watch")
PRICES = np.array([5.0, 15.0, 40.0, 120.0])
MISS_COST = np.array([1, 1, 2, 2])
UTILITY = np.array([[1.0, 0.5, -0.5, 1.5],      # bargain hunter
                    [0.0, 0.5, 0.5, 1.5]])      # big spender
BUY_PROB = np.array([[0.60, 0.40, 0.10, 0.03],
                     [0.30, 0.35, 0.35, 0.15]])
SEGMENT_SHARES = np.array([0.6, 0.4])
RHO = np.array([0.0, -0.7])
MAX_PATIENCE = 3
LEAVE_AFTER_PURCHASE = 0.3
NO_CLICK_COST = 1


class TabularSlateShop:
    """The finite slate shop; ``observation_space`` ``Discrete(6)``, ``action_space`` ``Slate(4, 2)``.

    ``slates`` ``(12, 2)``: every ordered slate, the action index of ``model()``. ``step`` takes a
    slate (two distinct product ids). ``max_steps`` truncates a visit (default 100: reached with
    probability below 1e-9, so values are those of ``model()``).
    """

    metadata = {"render_modes": []}
    n_items, slate_size, n_states = 4, 2, 6

    def __init__(self, seed=None, max_steps: int = 100):
        self.max_steps = check_int("max_steps", max_steps, minimum=1)
        self.observation_space = Discrete(self.n_states)
        self.action_space = Slate(self.n_items, self.slate_size)
        self.slates = np.array(list(permutations(range(self.n_items), self.slate_size)), np.int64)
        self.rho = RHO.copy()
        self._rng = as_generator(seed)
        self._s = None

    @staticmethod
    def _state(segment: int, patience: int) -> int:
        return segment * MAX_PATIENCE + patience - 1

    def utilities(self) -> np.ndarray:
        """``(6, 4)``: ``v[s, i]``, the click utility of product ``i`` in state ``s``."""
        return np.repeat(UTILITY, MAX_PATIENCE, axis=0)

    def choice(self) -> np.ndarray:
        """``C[s, A, i]`` ``(6, 12, 5)``: ``P(i | s, A)``, the last column the no-click."""
        v = self.utilities()
        C = np.zeros((self.n_states, len(self.slates), self.n_items + 1))
        for a, A in enumerate(self.slates):
            p, p0 = slate_probs(v[:, A], self.rho)
            C[:, a, A] = p
            C[:, a, -1] = p0
        return C

    def item_model(self):
        """``(P_item (6, 5, 6), R_item (6, 5))``: next state and expected reward given the choice
        (products 0-3, then 4 = no click); rows sum to less than 1 where the visit may end."""
        S, N = self.n_states, self.n_items
        P, R = np.zeros((S, N + 1, S)), np.zeros((S, N + 1))
        for seg in range(2):
            for pat in range(1, MAX_PATIENCE + 1):
                s = self._state(seg, pat)
                for i in range(N):
                    b = BUY_PROB[seg, i]
                    R[s, i] = b * PRICES[i]
                    P[s, i, self._state(seg, MAX_PATIENCE)] += b * (1 - LEAVE_AFTER_PURCHASE)
                    if pat - MISS_COST[i] >= 1:
                        P[s, i, self._state(seg, pat - MISS_COST[i])] += 1 - b
                if pat - NO_CLICK_COST >= 1:
                    P[s, N, self._state(seg, pat - NO_CLICK_COST)] = 1.0
        return P, R

    def model(self):
        """``(P (6, 12, 6), R (6, 12))`` over the ordered slates ``slates``, for ``value_iteration``."""
        C = self.choice()
        P_item, R_item = self.item_model()
        return np.einsum("sai,sit->sat", C, P_item), np.einsum("sai,si->sa", C, R_item)

    def reset(self, seed=None, options=None):
        """A new shopper → ``(state, info)``; ``info["action_mask"]`` all True."""
        if seed is not None:
            self._rng = as_generator(seed)
        self._segment = int(self._rng.choice(2, p=SEGMENT_SHARES))
        self._patience, self._t = MAX_PATIENCE, 0
        self._s = self._state(self._segment, self._patience)
        return self._s, {"action_mask": np.ones(self.n_items, bool)}

    def step(self, action):
        """Show slate ``action`` (two distinct ids) → ``(state, reward, terminated, truncated, info)``."""
        if self._s is None:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        A = np.asarray(action)
        if not self.action_space.contains(A):
            raise ValueError(f"action must be 2 distinct product ids in [0, 4), got {action!r}")
        p, _ = slate_probs(self.utilities()[self._s, A], self.rho)
        u = self._rng.random(3)
        j = int(np.searchsorted(np.cumsum(p), u[0], side="right"))
        i = int(A[j]) if j < self.slate_size else -1
        purchased = i >= 0 and u[1] < BUY_PROB[self._segment, i]
        reward = float(PRICES[i]) if purchased else 0.0
        if purchased:
            self._patience, leaves = MAX_PATIENCE, u[2] < LEAVE_AFTER_PURCHASE
        else:
            self._patience -= MISS_COST[i] if i >= 0 else NO_CLICK_COST
            leaves = self._patience <= 0
        self._t += 1
        s = self._s if leaves else self._state(self._segment, self._patience)
        truncated = self._t >= self.max_steps and not leaves
        info = {"clicked": j if i >= 0 else -1, "item": i, "purchased": bool(purchased), "revenue": reward,
                "left": bool(leaves), "action_mask": np.ones(self.n_items, bool)}
        self._s = None if (leaves or truncated) else s
        return s, reward, bool(leaves), truncated, info

    def close(self) -> None:
        """Nothing to release."""

"""TabularShop: a small finite shop whose exact optimum is known, where thinking ahead pays.

A shopper of one of three segments browses with a patience of 1 to 4. Each step the shop shows
one of five products; the shopper buys it with a probability set by segment and product. A
purchase earns the price and restores patience to 4, but 30 % of buyers then leave satisfied.
A miss costs patience, more for expensive products (a pushy recommendation annoys); at zero
patience the shopper leaves. Shoppers arrive with patience 3.

=========  =====  ==============  =================================================
product    price  patience cost   probability of a purchase, by segment
                  of a miss       bargain hunter   regular   big spender
=========  =====  ==============  ===============  ========  ===========
socks          5  1               0.60             0.50      0.30
t-shirt       15  1               0.35             0.45      0.30
jeans         40  2               0.10             0.25      0.30
jacket       120  2               0.02             0.08      0.20
watch        300  3               0.005            0.02      0.10
=========  =====  ==============  =================================================

=====================  ============================================================
segment (share)        bargain hunter 0.5, regular 0.3, big spender 0.2 (drawn at reset)
state (observation)    ``s = segment * 4 + (patience - 1)``: 12 states, ``Discrete(12)``
reward                 the price on a purchase, else 0
ends (terminated)      patience reaches 0, or the shopper leaves after buying (0.3)
truncated              after ``max_steps`` steps (default 100; a visit lasts ~5, so the
                       chance of reaching it is below 1e-9 and values are those of ``model()``)
=====================  ============================================================

The myopic policy (highest ``price * probability`` now) pushes jeans, jackets and watches,
burning patience; the optimum sells cheap items to keep the shopper and, once only one chance
is left, takes the long shot. Undiscounted, from the start distribution the optimum earns
36.82 per visit and the myopic policy 27.29 (74 %); uniform random earns 16.13.

On termination the observation returned is the state the shopper left from: it is never
bootstrapped from (``terminated=True``) and carries no value. This module does not cover the
feature-based shop (``shop.py``) or pricing (``pricing.py``).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validate import as_generator, check_int
from ..spaces import Discrete

SEGMENTS = ("bargain hunter", "regular", "big spender")
SEGMENT_SHARES = np.array([0.5, 0.3, 0.2])
PRODUCTS = ("socks", "t-shirt", "jeans", "jacket", "watch")
PRICES = np.array([5.0, 15.0, 40.0, 120.0, 300.0])
MISS_COST = np.array([1, 1, 2, 2, 3])
BUY_PROB = np.array([[0.60, 0.35, 0.10, 0.02, 0.005],   # bargain hunter
                     [0.50, 0.45, 0.25, 0.08, 0.02],    # regular
                     [0.30, 0.30, 0.30, 0.20, 0.10]])   # big spender
MAX_PATIENCE = 4
START_PATIENCE = 3
LEAVE_AFTER_PURCHASE = 0.3


class TabularShop:
    """The shop above, Gymnasium-shaped: ``reset(seed=None)`` and ``step(action)``.

    ``info`` carries ``purchased`` (bool), ``revenue`` (float), ``left`` (bool), ``segment`` and
    ``patience`` (after the step; 0 once the shopper left on a miss).
    """

    metadata = {"render_modes": []}  # Gymnasium's: nothing to render
    n_segments, n_actions = BUY_PROB.shape
    n_states = n_segments * MAX_PATIENCE

    def __init__(self, seed=None, max_steps: int = 100):
        self.max_steps = check_int("max_steps", max_steps, minimum=1)
        self.np_random = as_generator(seed)
        self.observation_space = Discrete(self.n_states)
        self.action_space = Discrete(self.n_actions)
        self._P, self._R = self._build_model()
        self._buy, self._prices, self._miss_cost = BUY_PROB.tolist(), PRICES.tolist(), MISS_COST.tolist()
        self._cum_shares = np.cumsum(SEGMENT_SHARES)[:-1]  # segment = how many of these are <= u
        self._state = None  # (segment, patience) while a visit runs
        self._done = True
        self._steps = 0

    # --- the exact model ---------------------------------------------------------------------
    @staticmethod
    def state_index(segment: int, patience: int) -> int:
        """The observation of a shopper of ``segment`` (0..2) with ``patience`` (1..4)."""
        return segment * MAX_PATIENCE + (patience - 1)

    @staticmethod
    def decode(state: int) -> tuple[int, int]:
        """``(segment, patience)`` of an observation."""
        segment, k = divmod(int(state), MAX_PATIENCE)
        return segment, k + 1

    def _build_model(self):
        P = np.zeros((self.n_states, self.n_actions, self.n_states))
        R = np.zeros((self.n_states, self.n_actions))
        for g in range(self.n_segments):
            for k in range(1, MAX_PATIENCE + 1):
                s = self.state_index(g, k)
                for a in range(self.n_actions):
                    b = BUY_PROB[g, a]
                    R[s, a] = b * PRICES[a]
                    P[s, a, self.state_index(g, MAX_PATIENCE)] += b * (1 - LEAVE_AFTER_PURCHASE)
                    if k - MISS_COST[a] >= 1:
                        P[s, a, self.state_index(g, k - MISS_COST[a])] += 1 - b
        return P, R

    def model(self) -> tuple[np.ndarray, np.ndarray]:
        """``(P, R)``: ``P[s, a, s']`` of shape ``(12, 5, 12)`` (rows sum to 1 minus the chance
        of leaving) and ``R[s, a]`` of shape ``(12, 5)``, the expected revenue. Fresh copies."""
        return self._P.copy(), self._R.copy()

    def initial_distribution(self) -> np.ndarray:
        """The distribution of the first observation, shape ``(12,)``."""
        d0 = np.zeros(self.n_states)
        d0[[self.state_index(g, START_PATIENCE) for g in range(self.n_segments)]] = SEGMENT_SHARES
        return d0

    def expected_reward(self) -> np.ndarray:
        """``R[s]`` for the current state, shape ``(5,)``: what a myopic oracle maximises."""
        if self._state is None:
            raise RuntimeError("expected_reward() called before reset()")
        return self._R[self.state_index(*self._state)].copy()

    # --- the Gymnasium interface -------------------------------------------------------------
    def reset(self, seed=None, options=None):
        """Start a visit: ``(obs, info)``. ``seed`` re-seeds; ``None`` continues the generator.
        ``options`` is accepted for Gymnasium's signature and unused."""
        if seed is not None:
            self.np_random = as_generator(seed)
        segment = int(np.searchsorted(self._cum_shares, self.np_random.random(), side="right"))
        self._state, self._done, self._steps = (segment, START_PATIENCE), False, 0
        return self.state_index(segment, START_PATIENCE), {"segment": segment, "patience": START_PATIENCE}

    def _check_action(self, action) -> int:
        if isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer):
            action = action.item()
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, numbers.Integral):
            raise TypeError(f"action must be an int in [0, {self.n_actions - 1}], got {action!r}")
        return int(action)

    def step(self, action):
        """Show product ``action``: ``(obs, reward, terminated, truncated, info)``."""
        if self._state is None:
            raise RuntimeError("step() called before reset()")
        if self._done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        a = action if type(action) is int else self._check_action(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action must be in [0, {self.n_actions - 1}], got {a}")
        segment, patience = self._state
        s = self.state_index(segment, patience)
        u_buy, u_leave = self.np_random.random(2).tolist()  # two draws every step, needed or not
        purchased = u_buy < self._buy[segment][a]
        if purchased:
            revenue, patience = self._prices[a], MAX_PATIENCE
            left = u_leave < LEAVE_AFTER_PURCHASE
        else:
            revenue, patience = 0.0, max(patience - self._miss_cost[a], 0)
            left = patience == 0
        self._steps += 1
        truncated = not left and self._steps >= self.max_steps
        self._done = left or truncated
        if not left:
            self._state = (segment, patience)
            s = self.state_index(segment, patience)
        info = {"purchased": purchased, "revenue": revenue, "left": left,
                "segment": segment, "patience": patience}
        return s, revenue, left, truncated, info

    def close(self) -> None:
        """Nothing to release; here so that code written for Gymnasium can call it."""

    def __repr__(self) -> str:
        return f"TabularShop(max_steps={self.max_steps})"

r"""PricingEnv: sell a limited stock over a short season by choosing a price each period.

A finite-horizon dynamic pricing problem small enough to solve exactly, so learned policies can
be scored against the true optimum and against the two pricing rules a shop would use without
learning: the best single fixed price and the myopic price. Covered: the simulator, its exact
model ``(P, R)``, backward induction for the optimum, exact values of any fixed policy. Not
covered: restocking, competitors, shoppers who wait for a markdown, several products.

Model (``T`` periods, ``N`` units, price levels ``p_0 < ... < p_{A-1}``; period ``t = 0..T-1``):

* Shoppers arrive ``Poisson(lambda_t)``, a season-shaped rate peaking mid-season::

      lambda_t = arrival_rate * (1 - a + a * sin(pi * (t + 1/2) / T)),  a = season_amplitude

* Each shopper values the product ``V ~ Exponential(mean v_t)`` and buys iff ``V >= p``, so
  ``P(buy) = exp(-p / v_t)``. Willingness to pay falls over the season (early buyers pay more)::

      v_t = valuation_start + (valuation_end - valuation_start) * t / (T - 1)

* Thinning a Poisson stream gives the demand ``D ~ Poisson(mu_{t,a})`` with
  ``mu_{t,a} = lambda_t * exp(-p_a / v_t)`` (``demand_rate``, shape ``(T, A)``).
* With ``n`` units in stock, ``sold = min(D, n)``, reward ``r = p_a * sold`` (revenue), and the
  state moves to ``(t + 1, n - sold)``. The episode *terminates* when the stock is 0 (sold
  out) or after period ``T - 1`` (season over); unsold units are worth nothing.

Exact model (``pi_k = P(D = k)`` for ``mu = mu_{t,a}``): ``R[s, a] = p_a * E[min(D, n)] =
p_a * (sum_{k<n} k pi_k + n P(D >= n))`` and ``P[s, a, (t+1, n-k)] = pi_k`` for ``k < n`` when
``t + 1 < T``. The missing row mass, ``P(D >= n)`` (sell out) or 1 (last period), is the
probability that the episode ends. Undiscounted (``gamma = 1``) value iteration converges since
every path ends within ``T`` steps.

States: ``(period, stock)`` with ``0 <= period < T`` and ``1 <= stock <= N`` has index
``period * N + stock - 1``; index ``T * N`` (``ended_index``, last) is the observation returned
by the step that ends the episode. It is never acted from: its rows of ``P`` and ``R`` are 0
and no row of ``P`` sends mass to it (that mass is the ending probability), so a tabular agent
can index ``Q[next_obs]`` safely. ``n_states = T * N + 1``.

Observations: ``obs_mode="index"``: the state index (``Discrete(n_states)``), for tabular agents.
``obs_mode="features"``: float32 ``[time_left, stock_left, arrivals, valuation]`` in ``[0, 1]``
(``feature_names``): ``(T - t) / T``, ``n / N``, ``lambda_t / arrival_rate`` and
``v_t / max(v)``; the last two are 0 once the season is over.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, fields, replace

import numpy as np

from .._validate import as_generator, check_float, check_int
from ..spaces import Box, Discrete

OBS_MODES = ("index", "features")
MAX_MODEL_SIZE = 25_000_000   # entries of P (200 MB)


@dataclass
class PricingConfig:
    """The pricing problem. With the defaults the best fixed price earns 88.6 % of the optimum
    (390.81 per season) and the myopic price 72.7 %."""
    periods: int = 12                       # season length T (selling periods, e.g. weeks)
    stock: int = 12                         # units N at the start; none arrive later
    prices: tuple = (10.0, 20.0, 30.0, 40.0, 50.0)  # price levels, strictly increasing
    arrival_rate: float = 10.0              # expected shoppers per period at the season's peak
    season_amplitude: float = 0.3           # share of the peak rate that follows the season
    valuation_start: float = 25.0           # mean willingness to pay in the first period
    valuation_end: float = 5.0              # mean willingness to pay in the last period
    obs_mode: str = "index"                 # "index" (tabular) or "features" (DQN)

    def __post_init__(self):
        self.periods = check_int("config.periods", self.periods, minimum=1)
        self.stock = check_int("config.stock", self.stock, minimum=1)
        if isinstance(self.prices, (str, bytes)) or not hasattr(self.prices, "__len__"):
            raise TypeError(f"config.prices must be a sequence of numbers, got {self.prices!r}")
        if len(self.prices) == 0:
            raise ValueError("config.prices must hold at least one price, got ()")
        prices = tuple(check_float(f"config.prices[{i}]", p, 0.0, 1e9, low_open=True)
                       for i, p in enumerate(self.prices))
        if any(b <= a for a, b in zip(prices, prices[1:])):
            raise ValueError(f"config.prices must be strictly increasing, got {prices}")
        self.prices = prices
        for name in ("arrival_rate", "valuation_start", "valuation_end"):
            setattr(self, name, check_float(f"config.{name}", getattr(self, name), 0.0, 1e9,
                                            low_open=True))
        self.season_amplitude = check_float("config.season_amplitude", self.season_amplitude,
                                            0.0, 1.0)
        size = (self.periods * self.stock + 1) ** 2 * len(prices)
        if size > MAX_MODEL_SIZE:   # the exact model P is dense: n_states^2 * n_prices floats
            raise ValueError(f"config.periods * stock = {self.periods * self.stock} states with "
                             f"{len(prices)} prices make a model of {size} floats; at most "
                             f"{MAX_MODEL_SIZE} (keep the problem small)")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"config.obs_mode must be one of {OBS_MODES}, got {self.obs_mode!r}")


class PricingEnv:
    """Dynamic pricing over a season (see the module docstring for the model and indexing).

    ``PricingEnv(config=None, seed=None, **overrides)``: ``overrides`` are ``PricingConfig``
    fields, e.g. ``PricingEnv(obs_mode="features", seed=0)``. Actions are price indices.
    """

    feature_names = ("time_left", "stock_left", "arrivals", "valuation")
    metadata = {"render_modes": []}  # Gymnasium's: nothing to render

    def __init__(self, config: PricingConfig | None = None, seed=None, **overrides):
        if config is None:
            config = PricingConfig()
        if not isinstance(config, PricingConfig):
            raise TypeError(f"config must be a PricingConfig or None, got {type(config).__name__}")
        names = {f.name for f in fields(PricingConfig)}
        for key in overrides:
            if key not in names:
                raise TypeError(f"unknown PricingEnv argument {key!r}; expected one of "
                                f"{sorted(names)}")
        self.config = cfg = replace(config, **overrides) if overrides else config
        self._rng = as_generator(seed)
        self.periods, self.max_stock = T, N = cfg.periods, cfg.stock
        self.prices = np.array(cfg.prices)
        self.n_prices = len(cfg.prices)
        self.n_states = T * N + 1
        self.ended_index = T * N
        t = np.arange(T)
        season = np.sin(np.pi * (t + 0.5) / T)
        self.arrival_rates = cfg.arrival_rate * (1 - cfg.season_amplitude
                                                 + cfg.season_amplitude * season)   # (T,)
        frac = t / (T - 1) if T > 1 else np.zeros(1)
        self.valuations = (cfg.valuation_start
                           + (cfg.valuation_end - cfg.valuation_start) * frac)      # (T,)
        self.demand_rate = self.arrival_rates[:, None] * np.exp(
            -self.prices[None, :] / self.valuations[:, None])                       # (T, A)
        space_seed = seed if isinstance(seed, numbers.Integral) else None
        self.action_space = Discrete(self.n_prices, seed=space_seed)
        if cfg.obs_mode == "index":
            self.observation_space = Discrete(self.n_states, seed=space_seed)
        else:
            self.observation_space = Box(0.0, 1.0, shape=(len(self.feature_names),),
                                         dtype=np.float32, seed=space_seed)
        self._P, self._R = self._build_model()
        self._t = self._n = None     # None: not reset yet, or the episode has ended

    def state_index(self, period: int, stock: int) -> int:
        """``period * N + stock - 1`` for ``0 <= period < T``, ``1 <= stock <= N``."""
        period = check_int("period", period, 0, self.periods - 1)
        stock = check_int("stock", stock, 1, self.max_stock)
        return period * self.max_stock + stock - 1

    def state_of(self, index: int) -> tuple[int, int]:
        """Inverse of ``state_index``; ``ended_index`` maps to ``(T, 0)``."""
        index = check_int("index", index, 0, self.n_states - 1)
        if index == self.ended_index:
            return self.periods, 0
        return index // self.max_stock, index % self.max_stock + 1

    def features_of(self, index: int) -> np.ndarray:
        """The ``"features"`` observation of state ``index``, float32 ``(4,)``, whatever ``obs_mode``
        is (to score a feature-based agent's policy exactly, state by state)."""
        t, n = self.state_of(index)
        return self._features(t, n)

    def initial_distribution(self) -> np.ndarray:
        """``(n_states,)``: all mass on period 0 with full stock."""
        d = np.zeros(self.n_states)
        d[self.max_stock - 1] = 1.0
        return d

    def _build_model(self):
        T, N, A = self.periods, self.max_stock, self.n_prices
        k = np.arange(N + 1)
        # pi[t, a, k] = P(D = k) in log space: mu^k / k! overflows for large mu, and mu can
        # underflow to 0 for a price far above the valuations (log 0 would warn).
        log_fact = np.concatenate([[0.0], np.cumsum(np.log(k[1:]))])
        mu = self.demand_rate[:, :, None]
        pi = np.exp(k * np.log(np.maximum(mu, 1e-300)) - mu - log_fact)             # (T, A, N+1)
        P = np.zeros((self.n_states, A, self.n_states))
        R = np.zeros((self.n_states, A))
        for t in range(T):
            for n in range(1, N + 1):
                s, pk = t * N + n - 1, pi[t, :, :n]                                  # (A, n)
                sell_out = np.maximum(1.0 - pk.sum(axis=1), 0.0)   # P(D >= n), rounding-safe
                R[s] = self.prices * (pk @ k[:n] + n * sell_out)
                if t + 1 < T:   # the season's last period leaves all its mass missing
                    nxt = (t + 1) * N + (n - k[:n]) - 1          # sold k -> stock n - k
                    P[s, :, nxt] = pk.T
        return P, R

    def model(self) -> tuple[np.ndarray, np.ndarray]:
        """``(P, R)``: ``P[s, a, s']`` ``(n_states, A, n_states)``, ``R[s, a]`` expected revenue.

        ``1 - P[s, a].sum()`` is the probability that the episode ends after ``(s, a)``.
        Copies: changing them does not change the environment.
        """
        return self._P.copy(), self._R.copy()

    def optimal_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Backward induction over periods: ``(Q_star (n_states, A), V_star (n_states,))``.

        ``Q[s, a] = R[s, a] + sum_s' P[s, a, s'] V[s']``, ``V[s] = max_a Q[s, a]`` (gamma = 1),
        solved from the last period back; exact, no tolerance.
        """
        return self._backward(None)

    def policy_values(self, policy) -> np.ndarray:
        """``V_pi`` ``(n_states,)`` of a deterministic policy: an int array ``(n_states,)`` of
        price indices, all valid (the one at ``ended_index`` is never used)."""
        arr = np.asarray(policy)
        if arr.shape != (self.n_states,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"policy must be an integer array of shape ({self.n_states},), "
                             f"got shape {arr.shape} and dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() >= self.n_prices:
            i = int(np.flatnonzero((arr < 0) | (arr >= self.n_prices))[0])
            raise ValueError(f"policy[{i}] must be a price index in [0, {self.n_prices - 1}], "
                             f"got {arr[i]}")
        return self._backward(np.eye(self.n_prices)[arr])[1]

    def _backward(self, weights):
        """``(Q, V)`` with ``V[s] = sum_a weights[s, a] Q[s, a]``, or ``max_a`` if ``None``."""
        N = self.max_stock
        Q, V = np.zeros((self.n_states, self.n_prices)), np.zeros(self.n_states)
        # Transitions only go from period t to t + 1, i.e. to larger indices: one sweep suffices.
        for t in reversed(range(self.periods)):
            b = slice(t * N, (t + 1) * N)
            Q[b] = self._R[b] + self._P[b] @ V
            V[b] = Q[b].max(axis=1) if weights is None else (Q[b] * weights[b]).sum(axis=1)
        return Q, V

    def expected_return(self, policy) -> float:
        """Exact expected season revenue of ``policy`` from the initial state."""
        return float(self.initial_distribution() @ self.policy_values(policy))

    def optimal_policy(self) -> np.ndarray:
        """``(n_states,)`` ``argmax_a Q_star`` (ties to the cheaper price)."""
        return self.optimal_values()[0].argmax(axis=1)

    def fixed_price_policy(self, action: int) -> np.ndarray:
        """``(n_states,)``: price level ``action`` everywhere."""
        action = check_int("action", action, 0, self.n_prices - 1)
        return np.full(self.n_states, action, dtype=np.int64)

    def fixed_price_values(self) -> np.ndarray:
        """``(A,)``: exact expected season revenue of each constant-price policy."""
        return np.array([self.expected_return(self.fixed_price_policy(a))
                         for a in range(self.n_prices)])

    def best_fixed_price(self) -> tuple[int, float]:
        """``(action, value)`` of the best constant price."""
        v = self.fixed_price_values()
        return int(v.argmax()), float(v.max())

    def myopic_policy(self) -> np.ndarray:
        """``(n_states,)`` ``argmax_a R[s, a]``: maximise this period's expected revenue only."""
        return self._R.argmax(axis=1)

    def baseline_values(self) -> dict:
        """Exact expected season revenues: ``optimal``, ``best_fixed`` (and its
        ``best_fixed_action``), ``myopic`` and ``random`` (uniform price each period)."""
        a, fixed = self.best_fixed_price()
        d = self.initial_distribution()
        uniform = np.full((self.n_states, self.n_prices), 1.0 / self.n_prices)
        return {"optimal": float(d @ self.optimal_values()[1]), "best_fixed": fixed,
                "best_fixed_action": a, "myopic": self.expected_return(self.myopic_policy()),
                "random": float(d @ self._backward(uniform)[1])}

    def _obs(self, t: int, n: int):
        if self.config.obs_mode == "index":
            return self.ended_index if (t >= self.periods or n == 0) else t * self.max_stock + n - 1
        return self._features(t, n)

    def _features(self, t: int, n: int) -> np.ndarray:
        in_season = t < self.periods
        return np.array([(self.periods - t) / self.periods, n / self.max_stock,
                         self.arrival_rates[t] / self.config.arrival_rate if in_season else 0.0,
                         self.valuations[t] / self.valuations.max() if in_season else 0.0],
                        dtype=np.float32)

    def reset(self, seed=None, options=None):
        """Start a season: period 0, full stock. ``seed`` (int or Generator) reseeds the demand;
        ``options`` is accepted for Gymnasium's signature and unused."""
        if seed is not None:
            self._rng = as_generator(seed)
        self._t, self._n = 0, self.max_stock
        return self._obs(0, self._n), {"period": 0, "stock": self._n}

    def expected_reward(self) -> np.ndarray:
        """``(A,)``: ``R[s]`` of the current state, the expected revenue of each price now."""
        self._check_running()
        return self._R[self._t * self.max_stock + self._n - 1].copy()

    def _check_running(self) -> None:
        if self._t is None:
            raise RuntimeError("PricingEnv: call reset() first (not reset, or the episode ended)")

    def step(self, action):
        """One period: ``D ~ Poisson(mu[t, action])``, sell ``min(D, stock)`` at the price.

        Returns ``(obs, revenue, terminated, truncated=False, info)``; ``info`` has ``revenue``,
        ``sold``, ``demand``, ``price``, ``purchased`` (``sold > 0``), and the ``period`` just
        played and the ``stock`` left after it.
        """
        self._check_running()
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        action = check_int("action", action, 0, self.n_prices - 1)
        t, n = self._t, self._n
        demand = int(self._rng.poisson(self.demand_rate[t, action]))
        sold = min(demand, n)
        price = float(self.prices[action])
        revenue = price * sold
        self._t, self._n = t + 1, n - sold
        # Trap: the season's end is a true terminal state (time is part of the state and unsold
        # stock is worth 0), not a time-limit truncation; do not bootstrap past it.
        terminated = self._t >= self.periods or self._n == 0
        obs = self._obs(self._t, self._n)
        info = {"revenue": revenue, "sold": sold, "demand": demand, "price": price,
                "purchased": sold > 0, "period": t, "stock": self._n}
        if terminated:
            self._t = self._n = None
        return obs, revenue, terminated, False, info

    def close(self) -> None:
        """Nothing to release; here for Gymnasium compatibility."""

    def __repr__(self) -> str:
        return (f"PricingEnv(periods={self.periods}, stock={self.max_stock}, "
                f"prices={self.config.prices}, obs_mode={self.config.obs_mode!r})")

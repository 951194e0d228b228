"""Baseline agents: the bars a learner must clear, and the ceiling it must approach.

``RandomAgent`` (uniform over allowed actions), ``PopularityAgent`` (the action most often
rewarded so far, whatever the state), ``GreedyAgent`` (myopic oracle: the highest true expected
immediate reward, from the env's ``expected_reward()``) and ``OracleAgent`` (optimal: greedy in
``Q_star`` from value iteration on the env's exact ``model()``). All follow the agent protocol of
``train.py``: ``act(obs, explore=True, action_mask=None)`` and ``observe(...)``. None of them has
a learning rate or a network; this module does not cover the learners (``tabular.py``, ``dqn.py``).
"""
from __future__ import annotations

import numpy as np

from ._validate import as_generator, check_float, check_int, check_mask, check_space
from ._policy import greedy_action, greedy_actions, random_action
from .tabular import value_iteration


def _n_actions(env, who: str) -> int:
    return check_space(who, env, "action", discrete_only=True)[1]


class RandomAgent:
    """Uniform over the ``n_actions`` actions (over the allowed ones when a mask is given)."""

    def __init__(self, n_actions, seed=0):
        self.n_actions = check_int("n_actions", n_actions, minimum=1)
        self.rng = as_generator(seed)

    @classmethod
    def for_env(cls, env, seed=0):
        return cls(_n_actions(env, cls.__name__), seed=seed)

    def act(self, obs, explore=True, action_mask=None) -> int:
        return random_action(self.n_actions, check_mask("action_mask", action_mask, (self.n_actions,)), self.rng)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None):
        return None


class PopularityAgent:
    """Recommends the action rewarded most often so far (a purchase count when rewards are
    revenue), ignoring the state; ties and the untried start are broken at random.

    ``observe`` counts ``reward > 0`` per action (it learns while training, but has no loss, so
    it returns ``None``). Actions a mask forbids (e.g. already bought) are skipped. With
    ``epsilon``, exploring calls recommend at random instead: counting only its own choices,
    popularity feeds on itself (the first product bought is shown to everyone), so a fair
    baseline learns its counts from a log of random recommendations (``epsilon=1``).
    """

    def __init__(self, n_actions, seed=0, epsilon=0.0):
        self.n_actions = check_int("n_actions", n_actions, minimum=1)
        self.rng = as_generator(seed)
        self.epsilon = check_float("epsilon", epsilon, 0.0, 1.0)
        self.counts = np.zeros(self.n_actions, dtype=np.int64)

    @classmethod
    def for_env(cls, env, seed=0, epsilon=0.0):
        return cls(_n_actions(env, cls.__name__), seed=seed, epsilon=epsilon)

    def act(self, obs, explore=True, action_mask=None) -> int:
        mask = check_mask("action_mask", action_mask, (self.n_actions,))
        if explore and self.epsilon > 0 and self.rng.random() < self.epsilon:
            return random_action(self.n_actions, mask, self.rng)
        return greedy_action(self.counts, mask, self.rng)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None):
        action = check_int("action", action, 0, self.n_actions - 1)
        if check_float("reward", reward) > 0:
            self.counts[action] += 1
        return None


class GreedyAgent:
    """Myopic oracle: ``argmax_a E[r | s, a]`` read from ``env.expected_reward()``.

    On a vector env (``expected_reward()`` of shape ``(num_envs, n_actions)``) it acts for every
    copy at once.

    The trap: it reads the env's *current* state, not ``obs``, so it must act on the very env
    object it was built with (pass that env to ``evaluate``/``train``). Ties go at random.
    """

    accepts_batches = True  # on a vector env it reads the whole batch from the env itself

    def __init__(self, env, seed=0):
        if not callable(getattr(env, "expected_reward", None)):
            raise TypeError(f"GreedyAgent needs an env with expected_reward(), got {type(env).__name__}")
        self.env = env
        self.n_actions = _n_actions(env, "GreedyAgent")
        self.rng = as_generator(seed)

    def act(self, obs, explore=True, action_mask=None) -> int:
        values = np.asarray(self.env.expected_reward(), dtype=float)
        if values.ndim == 2:  # a vector env: one row per copy, one action each
            return greedy_actions(values, check_mask("action_mask", action_mask, values.shape), self.rng)
        return greedy_action(values, check_mask("action_mask", action_mask, (self.n_actions,)), self.rng)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None):
        return None


class OracleAgent:
    """Optimal: ``argmax_a Q_star[obs, a]`` with ``(Q_star, V_star) = value_iteration(*env.model(),
    gamma)``. Observations must be the model's state indices (ints).

    ``gamma=1`` (the default) maximises the expected total reward of an episode, which is what
    ``evaluate`` measures; it needs every policy to end with probability 1.
    """

    def __init__(self, env, gamma=1.0, tol=1e-10, seed=0):
        if not callable(getattr(env, "model", None)):
            raise TypeError(f"OracleAgent needs an env with model(), got {type(env).__name__}")
        self.Q_star, self.V_star = value_iteration(*env.model(), gamma=gamma, tol=tol)
        self.n_states, self.n_actions = self.Q_star.shape
        self.policy = self.Q_star.argmax(axis=1)
        self.rng = as_generator(seed)

    def act(self, obs, explore=True, action_mask=None) -> int:
        if isinstance(obs, np.ndarray) and obs.shape == () and np.issubdtype(obs.dtype, np.integer):
            obs = obs.item()
        s = check_int("obs", obs, 0, self.n_states - 1)
        mask = check_mask("action_mask", action_mask, (self.n_actions,))
        return greedy_action(self.Q_star[s], mask, self.rng)

    def observe(self, obs, action, reward, next_obs, terminated, next_action_mask=None):
        return None

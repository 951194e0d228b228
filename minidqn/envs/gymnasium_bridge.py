"""``to_gymnasium(env)``: any minidqn shop as a real ``gymnasium.Env``, for Gymnasium's tools.

The shops follow Gymnasium's API by duck typing, which ``train`` and ``evaluate`` need, but
Gymnasium's ``check_env``, its wrappers, its vector envs and libraries built on it (e.g.
Stable-Baselines3) want a subclass of ``gymnasium.Env`` with Gymnasium's own spaces. This module
makes one: observations, rewards and ``info`` pass through unchanged (``info["action_mask"]``
included), ``Box`` and ``Discrete`` become Gymnasium's ``Box`` (same dtype and bounds) and
``Discrete``. Gymnasium is imported only when ``to_gymnasium`` is called; it is the optional extra
``minidqn[gym]``, never a dependency. Not covered: ``VectorShopEnv`` (build Gymnasium's
``SyncVectorEnv`` from wrapped single shops instead), rendering.
"""
from __future__ import annotations

import numpy as np

_CLASSES: dict = {}  # the wrapper class, made once per gymnasium module


def _gymnasium():
    try:
        import gymnasium
    except ImportError as e:
        raise ImportError("to_gymnasium needs Gymnasium, which minidqn does not depend on: "
                          "pip install 'minidqn[gym]' (or pip install gymnasium)") from e
    return gymnasium


def gymnasium_space(space, gymnasium=None):
    """Gymnasium's ``Discrete(n)`` or ``Box(low, high, shape, dtype)`` for a ``minidqn.spaces``
    one (a Gymnasium space is returned as it is)."""
    gymnasium = gymnasium or _gymnasium()
    if isinstance(space, gymnasium.spaces.Space):
        return space
    kind = type(space).__name__
    if kind == "Discrete":
        return gymnasium.spaces.Discrete(int(space.n))
    if kind == "Box":
        return gymnasium.spaces.Box(low=np.asarray(space.low), high=np.asarray(space.high),
                                    shape=tuple(space.shape), dtype=space.dtype)
    raise TypeError(f"to_gymnasium converts Discrete and Box spaces, got {space!r}")


def _wrapper_class(gymnasium):
    if gymnasium in _CLASSES:
        return _CLASSES[gymnasium]

    class MinidqnEnv(gymnasium.Env):
        """A minidqn shop as a ``gymnasium.Env``; ``self.env`` is the shop inside."""

        metadata = {"render_modes": []}

        def __init__(self, env):
            self.env = env
            self.observation_space = gymnasium_space(env.observation_space, gymnasium)
            self.action_space = gymnasium_space(env.action_space, gymnasium)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)  # seeds self.np_random, as Gymnasium's contract asks
            return self.env.reset(seed=seed, options=options)

        def step(self, action):
            if isinstance(action, np.ndarray) and action.shape == ():
                action = action.item()  # Gymnasium hands out numpy scalars; the shops take ints
            return self.env.step(action)

        def close(self):
            self.env.close()

        def __repr__(self) -> str:
            return f"to_gymnasium({self.env!r})"

    _CLASSES[gymnasium] = MinidqnEnv
    return MinidqnEnv


def to_gymnasium(env):
    """A ``gymnasium.Env`` running ``env`` (a ``ShopEnv``, ``TabularShop``, ``PricingEnv`` or any
    single env with their API and ``Discrete``/``Box`` spaces); ``.env`` is ``env`` itself.

    Stepping the wrapper steps ``env``: keep one owner. Raises ``ImportError`` (naming the extra
    ``minidqn[gym]``) without Gymnasium, and ``TypeError`` for a vector env.
    """
    if hasattr(env, "num_envs"):
        raise TypeError(f"to_gymnasium wraps a single env, got a vector env of {env.num_envs}; build "
                        "gymnasium.vector.SyncVectorEnv([lambda: to_gymnasium(ShopEnv(...)), ...], "
                        "autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP) instead")
    for method in ("reset", "step"):
        if not callable(getattr(env, method, None)):
            raise TypeError(f"env must have reset() and step(), got {type(env).__name__}")
    gymnasium = _gymnasium()
    return _wrapper_class(gymnasium)(env)

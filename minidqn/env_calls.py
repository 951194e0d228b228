"""Calling an environment (and an agent) the Gymnasium way, with the checks every loop needs.

``train`` and ``evaluate`` drive envs only through these: reset and step checked to return
Gymnasium's tuples, rewards checked to be finite scalars, the action mask read from ``info``.
Nothing here loops, learns or records.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["check_agent", "check_env", "reset_env", "step_env", "finite_rewards", "action_mask"]


def check_agent(agent) -> None:
    """``TypeError`` unless ``agent`` has ``act()`` and ``observe()``."""
    for method in ("act", "observe"):
        if not callable(getattr(agent, method, None)):
            raise TypeError(f"agent must have act() and observe() methods, got {type(agent).__name__} "
                            f"without {method}()")


def check_env(name: str, env) -> None:
    """``TypeError`` unless ``env`` has Gymnasium's ``reset()`` and ``step()``."""
    for method in ("reset", "step"):
        if not callable(getattr(env, method, None)):
            raise TypeError(f"{name} must have Gymnasium's reset() and step(), got {type(env).__name__}")


def reset_env(env, seed):
    """``env.reset(seed=seed)``, checked to return ``(obs, info)``."""
    out = env.reset(seed=seed)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"env.reset() must return (obs, info) as in Gymnasium, got {type(out).__name__}")
    return out


def step_env(env, action):
    """``env.step(action)``, checked to return Gymnasium's five values."""
    out = env.step(action)
    if not (isinstance(out, tuple) and len(out) == 5):
        raise TypeError("env.step() must return (obs, reward, terminated, truncated, info) as in "
                        f"Gymnasium (old Gym's 4-tuple is not supported), got {type(out).__name__}"
                        + (f" of length {len(out)}" if isinstance(out, tuple) else ""))
    return out


def finite_rewards(rewards, shape: tuple, t: int):
    """The env's reward(s) as a float (``shape == ()``) or a float64 array of ``shape``; a clear
    error naming the step when the shape is wrong or a reward is NaN or infinite (it would poison
    every mean, and a learner's values, without a word)."""
    if shape == () and type(rewards) is float and math.isfinite(rewards):
        return rewards  # the common case, without NumPy calls
    r = np.asarray(rewards, dtype=np.float64)
    if r.shape != shape:
        raise TypeError(f"env.step returned rewards of shape {r.shape} at step {t}; expected "
                        + ("a scalar" if shape == () else f"shape {shape}, one per copy"))
    if not np.isfinite(r).all():
        raise ValueError(f"env.step returned a non-finite reward {r[~np.isfinite(r)].flat[0]} at step {t}; "
                         "the run stops there")
    return float(r) if shape == () else r


def action_mask(info):
    """``info["action_mask"]`` when the env gives one, else ``None``."""
    return info.get("action_mask") if isinstance(info, dict) else None

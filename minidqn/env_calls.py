"""Calling an environment (and an agent) the Gymnasium way, with the checks every loop needs.

``train`` and ``evaluate`` drive envs only through these: reset and step checked to return
Gymnasium's tuples, rewards checked to be finite, the action mask read from ``info``; for vector
envs, the same-step autoreset protocol (where a finished copy's last observation and mask are
found); for agents, whether ``observe`` wants to hear of truncations and of the mask of the
observation acted on. Nothing here loops, learns or records.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

__all__ = ["check_agent", "check_env", "reset_env", "step_env", "finite_rewards", "action_mask", "observe_takes",
           "check_same_step_autoreset", "vector_action_mask", "final_observations", "final_action_masks"]


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


def observe_takes(agent, keyword: str) -> bool:
    """Whether ``agent.observe`` accepts ``keyword``: ``"truncated"`` (most agents learn nothing
    from it) or ``"action_mask"``, the mask of ``obs`` (a dueling DQN's ``Q(s, .)`` depends on it)."""
    try:
        return keyword in inspect.signature(agent.observe).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False


def _autoreset_mode(env) -> str | None:
    """A vector env's ``metadata["autoreset_mode"]`` as ``"samestep"``, ``"nextstep"``,
    ``"disabled"`` (or another word), from Gymnasium's ``AutoresetMode`` or its value or name;
    ``None`` when the env does not say."""
    mode = (getattr(env, "metadata", None) or {}).get("autoreset_mode")
    if mode is None:  # Gymnasium's vector envs before 1.1 do not say: they reset on the next step
        return "nextstep" if type(env).__module__.startswith("gymnasium.") else None
    return str(getattr(mode, "value", mode)).split(".")[-1].replace("_", "").lower()


_SAME_STEP_HOW = ("make it with autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP "
                  "(SyncVectorEnv(..., autoreset_mode=...) or gym.make_vec(..., "
                  "vector_kwargs={'autoreset_mode': ...}))")


def check_same_step_autoreset(env) -> None:
    mode = _autoreset_mode(env)
    if mode in (None, "samestep"):
        return
    given = (getattr(env, "metadata", None) or {}).get("autoreset_mode", "None (Gymnasium < 1.1: next-step)")
    if mode == "nextstep":
        why = ("with next-step autoreset (Gymnasium's default) the step after an episode ends only "
               "resets that copy and ignores its action, so a stored transition would cross two episodes")
    elif mode == "disabled":
        why = ("with autoreset disabled, finished copies stay finished until the caller resets them "
               "with reset(options={'reset_mask': ...}), which train does not do")
    else:
        why = "this mode is unknown to train"
    raise TypeError(f"train drives vector envs with same-step autoreset only, got autoreset_mode={given}: "
                    f"{why}; {_SAME_STEP_HOW}")


def vector_action_mask(info, present_key="_action_mask"):
    """``info["action_mask"]`` of a vector env, ``(n, n_actions)``; rows a copy did not report
    (``info["_action_mask"]`` False, zero-filled by Gymnasium) allow everything."""
    mask = action_mask(info)
    if mask is None:
        return None
    present = info.get(present_key)
    if present is not None and not np.all(present):
        mask = np.where(np.asarray(present, bool)[:, None], mask, 1)
    return mask


def final_observations(info, next_obs, done) -> np.ndarray:
    """The true next observation of every copy: ``info["final_obs"][i]`` where copy ``i``'s
    episode ended at this step, ``next_obs[i]`` (already the next episode's first) elsewhere.

    Gymnasium's same-step mode gives ``final_obs`` as an object array holding ``None`` for copies
    that did not finish (and ``_final_obs`` flags the others); ``VectorShopEnv`` gives a full array.
    """
    final = info.get("final_obs") if isinstance(info, dict) else None
    if final is None:
        raise ValueError("a copy's episode ended but the vector env's info has no 'final_obs' (its last "
                         "observation); train needs same-step autoreset that reports it, as Gymnasium's does")
    final = np.asarray(final)
    flagged = np.asarray(info.get("_final_obs", done), bool)
    if final.shape[:1] != done.shape or np.any(done & ~flagged):
        raise ValueError(f"info['final_obs'] must hold the last observation of every copy that finished "
                         f"(copies {np.flatnonzero(done).tolist()}), got shape {final.shape} flagged "
                         f"{np.flatnonzero(flagged).tolist()}")
    stored = np.array(next_obs)  # a copy: next_obs goes on to be acted on
    if final.dtype != object:
        stored[done] = final[done]
    else:
        for i in np.flatnonzero(done):
            stored[i] = final[i]
    return stored


def final_action_masks(info, next_mask, done) -> np.ndarray:
    """The action mask of every copy's true next observation: the finished episode's last mask
    where one ended (``info["final_action_mask"]`` of ``VectorShopEnv``, or Gymnasium's
    ``info["final_info"]["action_mask"]``; everything allowed when neither is there)."""
    final = info.get("final_action_mask")
    if final is None and isinstance(info.get("final_info"), dict):
        final = vector_action_mask(info["final_info"])
    stored = np.array(next_mask)
    stored[done] = 1 if final is None else np.asarray(final)[done]
    return stored

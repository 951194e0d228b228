"""Checks at the public boundary, shared by every module.

Each helper raises a ``TypeError`` or ``ValueError`` whose message names the argument, the value
received and what was expected, and returns the value (converted) when it is fine. Nothing here is
used on hot paths over data the library stored itself.
"""
from __future__ import annotations

import numbers

import numpy as np


def as_generator(seed, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``None``, an int or a ``Generator`` (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {seed!r}")
        return np.random.default_rng(int(seed))
    raise TypeError(f"{name} must be None, an int or a numpy.random.Generator, got {seed!r}")


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (Python or NumPy, not bool) in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the interval given (closed unless ``low_open``/``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_array(name: str, x, shape: tuple | None = None, ndim: int | None = None,
                finite: bool = True, dtype=None) -> np.ndarray:
    """An array of real numbers; ``shape`` entries of ``None`` match any length.

    Converts to ``dtype`` when given (without copying when it already is), refuses non-numeric
    input, and with ``finite`` refuses NaN and infinities.
    """
    try:
        arr = np.asarray(x)
    except Exception as e:  # ragged nested lists and the like
        raise TypeError(f"{name} must be array-like of numbers, got {type(x).__name__}: {e}") from e
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," * (len(shape) == 1)) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if dtype is not None:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow becomes inf: refused below
            arr = arr.astype(dtype, copy=False)
    if finite and not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
        raise ValueError(f"{name} must be finite, got {arr.reshape(-1)[bad[0]]} "
                         f"at flat index {bad[0]} ({bad.size} non-finite entries)")
    return arr


def check_mask(name: str, mask, shape: tuple, allow_empty=False) -> np.ndarray:
    """An action mask as a bool array of ``shape`` (``(n_actions,)`` or ``(n, n_actions)``).

    True (or 1) allows an action. Bool arrays and integer arrays of 0s and 1s are accepted
    (Gymnasium's masks are ``int8``: ``Discrete.sample(mask=...)`` wants them so); anything else
    (floats, other values, another shape) is refused. Every row must allow at least one action,
    except where ``allow_empty`` (a bool, or one per row: e.g. ``terminated``) is True.
    ``None`` (no mask: everything allowed) is returned as ``None``.
    """
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must be a bool or integer 0/1 array (True or 1 = allowed), "
                            f"got dtype {arr.dtype}")
        if arr.size and not np.all((arr == 0) | (arr == 1)):
            bad = arr.reshape(-1)[~((arr.reshape(-1) == 0) | (arr.reshape(-1) == 1))][0]
            raise ValueError(f"{name} must hold only 0 and 1 (or bools), got {bad}")
        arr = arr.astype(bool)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if arr.size:
        stuck = ~arr.any(axis=-1) & ~np.asarray(allow_empty, dtype=bool)
        if np.any(stuck):
            where = "" if isinstance(allow_empty, (bool, np.bool_)) else " in a non-terminal state"
            raise ValueError(f"{name} allows no action{where} (all False or 0); at least one must be allowed")
    return arr


def check_space(who: str, env, role: str, discrete_only: bool = False) -> tuple[bool, int]:
    """What an agent reads from ``env``'s ``role`` space (``"observation"`` or ``"action"``).

    The space of one copy for a vector env (``single_observation_space``). Returns ``(True, n)``
    for ``Discrete(n)`` (states or actions ``0 .. n-1``) and ``(False, d)`` for a flat ``Box`` of
    shape ``(d,)`` or ``MultiBinary(d)`` (refused with ``discrete_only``). Anything else is a
    ``TypeError`` that names the space and the Gymnasium wrapper that makes it fit. Works by
    duck typing on Gymnasium's spaces and ``minidqn.spaces`` alike (Gymnasium is not imported).
    """
    space = getattr(env, f"single_{role}_space", None)
    if space is None:
        space = getattr(env, f"{role}_space", None)
    if space is None:
        raise TypeError(f"{who} needs an env with an {role}_space, got {type(env).__name__} without one")
    kind, shape = type(space).__name__, getattr(space, "shape", None)
    wrappers = "gymnasium.wrappers"
    if kind == "Discrete" or (kind not in ("MultiBinary", "Box") and hasattr(space, "n") and shape == ()):
        n, start = int(space.n), int(getattr(space, "start", 0))
        if start != 0:
            fix = (f"{wrappers}.TransformObservation(env, lambda s: s - {start}, gymnasium.spaces.Discrete({n}))"
                   if role == "observation" else
                   f"{wrappers}.TransformAction(env, lambda a: a + {start}, gymnasium.spaces.Discrete({n}))")
            raise TypeError(f"{who} needs {role}s numbered from 0, got {space!r}: wrap the env in {fix}")
        return True, n
    if role == "action":
        fix = (f"discretize it with {wrappers}.DiscretizeAction" if kind == "Box" else
               f"map one Discrete(n) choice onto it with {wrappers}.TransformAction")
        raise TypeError(f"{who} chooses among n actions and needs a Discrete(n) action space, got {space!r}: {fix}")
    flat = kind in ("Box", "MultiBinary") and shape is not None and len(shape) == 1
    if flat and not discrete_only:
        return False, int(shape[0])
    if discrete_only:
        fix = (f"use DQNAgent, or discretize it with {wrappers}.DiscretizeObservation" if kind == "Box" else
               f"use DQNAgent on {wrappers}.FlattenObservation(env), or map each observation to a state "
               f"index with {wrappers}.TransformObservation")
        raise TypeError(f"{who} needs a Discrete(n) observation space (integer states), got {space!r}: {fix}")
    if kind == "Box" and shape is not None and len(shape) > 1:
        raise TypeError(f"{who} takes flat observations of shape (d,), got the image-like {space!r}: wrap the env "
                        f"in {wrappers}.FlattenObservation (after {wrappers}.GrayscaleObservation and "
                        f"ResizeObservation, to keep images small)")
    raise TypeError(f"{who} needs a Box of shape (d,) or a Discrete(n) observation space, got {space!r}: wrap "
                    f"the env in {wrappers}.FlattenObservation, which makes it a flat Box (one-hot for "
                    f"discrete parts)")


def check_layer_sizes(sizes) -> list[int]:
    """A network's layer widths ``[input, *hidden, output]`` as a list of positive ints."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of layer widths, got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {list(sizes)}")
    return [check_int(f"sizes[{i}]", n, minimum=1) for i, n in enumerate(sizes)]


def encode_states(obs, obs_dim: int, one_hot: bool, dtype, name: str = "obs") -> tuple[np.ndarray, bool]:
    """A Q-network's input for one observation or a batch: a ``(n, obs_dim)`` array of ``dtype``
    (with ``one_hot``, integer states as one-hot rows), and whether the input was a batch."""
    if one_hot:
        states = np.asarray(obs)
        if not np.issubdtype(states.dtype, np.integer) or states.ndim > 1:
            raise TypeError(f"{name} must be an integer state or a 1-D array of them, got {obs!r}")
        if np.any(states < 0) or np.any(states >= obs_dim):
            raise ValueError(f"{name} must be in [0, {obs_dim}), got {obs!r}")
        encoded = np.zeros((states.size, obs_dim), dtype)
        encoded[np.arange(states.size), states.reshape(-1)] = 1.0
        return encoded, states.ndim == 1
    x = check_array(name, obs, dtype=dtype)
    if x.ndim == 1:
        return check_array(name, x, shape=(obs_dim,))[None, :], False
    return check_array(name, x, shape=(None, obs_dim)), True

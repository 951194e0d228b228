"""Saving and loading named arrays as ``.npz`` files, with no pickle anywhere.

Every file carries a ``__kind__`` (what wrote it, e.g. ``"MLP"``) and a ``__version__`` (the layout
of its arrays). Loading checks both, refuses object arrays (which would need unpickling) and turns
every way a file can be broken into a ``ValueError`` that names the path.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT_VERSION = 1
_BIT_GENERATORS = {g.__name__: g for g in (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox,
                                           np.random.SFC64, np.random.MT19937)}


def save_arrays(path, kind: str, arrays: dict) -> None:
    """Write ``arrays`` (name -> array-like) to ``path`` with the kind and format version."""
    data = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in data.items():
        if value.dtype == object:
            raise TypeError(f"cannot save {name!r}: object arrays would need pickle")
    data["__kind__"] = np.array(kind)
    data["__version__"] = np.array(FORMAT_VERSION)
    # Write beside the target, then rename: a crash mid-write leaves the old checkpoint intact.
    path = os.path.abspath(os.fspath(path))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:  # a file object keeps numpy from appending ".npz"
            np.savez(f, **data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def checkpoint_kind(path) -> str:
    """What wrote the file at ``path`` (e.g. ``"DQNAgent"``); ``ValueError`` if it is no checkpoint."""
    return str(load_arrays(path, None)["__kind__"])


def load_arrays(path, kind: str | None, required: tuple = ()) -> dict:
    """Read a file written by :func:`save_arrays` for ``kind``; returns name -> array.

    Raises ``ValueError`` when the file is not an ``.npz``, is truncated, holds pickled objects,
    was written by another kind or format version, or lacks one of ``required``.
    """
    path = os.fspath(path)
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an .npz archive")
        with npz:
            data = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise
    except ValueError as e:
        if "Object arrays" in str(e):
            raise ValueError(f"{path!r} holds pickled objects; minidqn never unpickles") from e
        if "pickled" in str(e):
            raise ValueError(f"{path!r} is not an .npz archive (reading it would need unpickling, "
                             "which minidqn never does)") from e
        raise ValueError(f"{path!r} is not a readable minidqn checkpoint: {e}") from e
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"{path!r} is not a readable minidqn checkpoint: {e}") from e
    if "__kind__" not in data:
        raise ValueError(f"{path!r} is not a minidqn checkpoint (no __kind__ entry)")
    if kind is None:  # only asking what it is
        return data
    found = str(data.pop("__kind__"))
    if found != kind:
        raise ValueError(f"{path!r} holds a {found!r} checkpoint, expected {kind!r}")
    version = data.pop("__version__", None)
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise ValueError(f"{path!r} has no integer checkpoint format version")
    if int(version) != FORMAT_VERSION:
        raise ValueError(f"{path!r} has checkpoint format version {version}, "
                         f"this minidqn reads version {FORMAT_VERSION}")
    missing = [name for name in required if name not in data]
    if missing:
        raise ValueError(f"{path!r} lacks the entries {missing} of a {kind} checkpoint")
    return data


def generator_to_json(rng: np.random.Generator) -> dict:
    """A generator's complete state as JSON-able data (arrays become lists)."""
    state = rng.bit_generator.state
    if state.get("bit_generator") not in _BIT_GENERATORS:
        raise TypeError(f"cannot save a {state.get('bit_generator')} generator; "
                        f"supported: {sorted(_BIT_GENERATORS)}")
    return json.loads(json.dumps(state, default=lambda x: x.tolist()))


def generator_from_json(state) -> np.random.Generator:
    """A generator continuing exactly where the one given to :func:`generator_to_json` was."""
    try:
        bit_generator = _BIT_GENERATORS[state["bit_generator"]]()
        bit_generator.state = state
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"unusable random generator state: {e}") from e
    return np.random.Generator(bit_generator)

"""Saving and loading named arrays as ``.npz`` files, with no pickle anywhere.

Every file carries a ``__kind__`` (what wrote it, e.g. ``"MLP"``) and a ``__version__`` (the layout
of its arrays). The one reader here, :func:`open_checkpoint`, is used by every loader; before any
array's data is read it checks, from the zip directory and each member's ``.npy`` header alone:

- the kind and format version, and that every member is one the kind knows (unknown ones refused);
- each member's header against its zip entry: no object dtype (that would need unpickling), and
  the declared ``shape x itemsize`` must be exactly the bytes the entry holds, within
  :data:`MAX_BYTES` (so a header claiming 8 TB in a 1 KB entry, or a deflated entry inflating to
  gigabytes, is refused unread);

and the loaders then compare the sizes a file declares (network sizes, buffer capacity) with the
stored arrays' header shapes before they construct anything. Every way a file can be broken or
hostile ends as a ``ValueError`` naming the path. Writes are atomic: a temporary file beside the
target, renamed over it.
"""
from __future__ import annotations

import json
import math
import os
import struct
import threading
import zipfile
import zlib

import numpy as np

FORMAT_VERSION = 1
MAX_BYTES = 2**31  # the most a checkpoint may make minidqn read or allocate (2 GiB); a module
                   # constant so a program that really needs more can raise it
MAX_MEMBERS = 256  # a DQN checkpoint with its buffer has 24
TMP_MARK = ".minidqn-tmp-"  # temporary files are ".<name>.minidqn-tmp-<pid>-<thread>"
_BIT_GENERATORS = {g.__name__: g for g in (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox,
                                           np.random.SFC64, np.random.MT19937)}
# What a hostile zip or .npy header can make the standard library or NumPy raise.
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, KeyError,
                ValueError, TypeError, NotImplementedError, RuntimeError, MemoryError, struct.error,
                OverflowError, SyntaxError, UnicodeDecodeError)


# ---------------------------------------------------------------------------------------- writing
def check_metadata(metadata) -> dict:
    """``metadata`` for ``save``: ``None`` (stored as ``{}``) or a dict with string keys and
    JSON-able values; ``TypeError`` naming what is not."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict (e.g. {{'env': 'shop'}}), got {type(metadata).__name__} "
                        f"{metadata!r}")
    bad_keys = [k for k in metadata if not isinstance(k, str)]
    if bad_keys:
        raise TypeError(f"metadata keys must be strings (JSON turns others into strings), got {bad_keys!r}")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as e:
        raise TypeError(f"metadata values must be JSON-able (str, int, float, bool, None, lists and dicts "
                        f"of them): {e}") from e
    return metadata


def save_arrays(path, kind: str, arrays: dict) -> None:
    """Write ``arrays`` (name -> array-like) to ``path`` with the kind and format version.

    Atomic: the data goes to ``.<name>.minidqn-tmp-<pid>-<thread>`` beside the file (beside the
    target of a symlink, which is written through), then is renamed over it. The file keeps the
    mode of the one it replaces; a new file gets ``0o666`` less the umask, as ``open`` gives.
    Temporary files of processes that no longer run (a save killed by SIGKILL) are removed.
    Errors name ``path``, not the temporary file.
    """
    data = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in data.items():
        if value.dtype == object:
            raise TypeError(f"cannot save {name!r}: object arrays would need pickle")
    data["__kind__"] = np.array(kind)
    data["__version__"] = np.array(FORMAT_VERSION)
    asked = os.fspath(path)
    target = os.path.realpath(asked)  # through symlinks: replace the file, not the link
    folder, name = os.path.split(target)
    _remove_stale_temporaries(folder, name)
    tmp = os.path.join(folder, f".{name}{TMP_MARK}{os.getpid()}-{threading.get_ident()}")
    try:
        mode = os.stat(target).st_mode & 0o777
    except OSError:
        mode = None
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        except FileExistsError:  # left by a dead process that had our pid and thread id
            os.unlink(tmp)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise type(e)(e.errno, f"cannot write a checkpoint there: {e.strerror}", asked) from e
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:  # a file object keeps numpy from appending ".npz"
            np.savez(f, **data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno is not None:
            raise type(e)(e.errno, e.strerror, asked) from e
        raise


def _remove_stale_temporaries(folder: str, name: str) -> None:
    """Delete ``.<name>.minidqn-tmp-<pid>-*`` files whose process is gone (POSIX only: elsewhere
    ``os.kill`` cannot ask whether a process lives)."""
    if os.name != "posix":
        return
    prefix = f".{name}{TMP_MARK}"
    try:
        entries = [e for e in os.listdir(folder or ".") if e.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # alive (or not ours to ask): leave it
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.unlink(os.path.join(folder, entry))
        except OSError:
            pass


# ---------------------------------------------------------------------------------------- reading
class _Refused(ValueError):
    """A member refused by the checks below (the path is added where it is caught)."""


class Checkpoint:
    """An open checkpoint whose members' headers are checked and none of whose data is read yet.

    ``headers[name]`` is ``(shape, dtype)``; :meth:`read` reads one member. Use as a context
    manager (or call :meth:`close`).
    """

    def __init__(self, path, zf: zipfile.ZipFile, members: dict, headers: dict):
        self.path, self.where = os.fspath(path), repr(os.fspath(path))
        self._zf, self._members, self.headers = zf, members, headers
        self.kind = None  # what wrote it, once read

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zf.close()

    def __contains__(self, name: str) -> bool:
        return name in self.headers

    def shape(self, name: str) -> tuple:
        return self.headers[name][0]

    def read(self, name: str) -> np.ndarray:
        """The array ``name`` (its header already checked against the zip entry)."""
        try:
            with self._zf.open(self._members[name]) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        except _READ_ERRORS as e:
            raise ValueError(f"{self.where} is not a readable minidqn checkpoint: member {name!r}: "
                             f"{type(e).__name__}: {e}") from e

    def read_scalar(self, name: str, kinds: str, limit: int = 1 << 20) -> np.ndarray:
        """A 0-d member of dtype kind in ``kinds`` (e.g. ``"iu"`` or ``"U"``), at most ``limit`` bytes."""
        shape, dtype = self.headers[name]
        if shape != () or dtype.kind not in kinds or dtype.itemsize > limit:
            raise ValueError(f"{self.where}: {name!r} must be a single {kinds!r} value of at most {limit} "
                             f"bytes, got {dtype} {shape}")
        return self.read(name)

    def expect(self, name: str, shape: tuple, kinds: str = "f") -> None:
        """Refuse the file unless member ``name`` declares ``shape`` and a dtype kind in ``kinds``."""
        got_shape, dtype = self.headers[name]
        if got_shape != tuple(shape) or dtype.kind not in kinds:
            raise ValueError(f"{self.where}: {name!r} is {dtype} {got_shape}, the checkpoint's sizes "
                             f"need {tuple(shape)} of kind {kinds!r}")


def open_checkpoint(path, kind: str | None, required: tuple = (), optional=()) -> Checkpoint:
    """Open a file written by :func:`save_arrays` for ``kind`` and check it without reading data.

    Every member must be in ``required`` or ``optional`` (``optional=None`` allows any name);
    ``kind=None`` only asks what wrote the file. Raises ``ValueError`` naming the path for a file
    that is not a zip of ``.npy`` members, holds pickled objects, declares more bytes than its
    entries hold (or than :data:`MAX_BYTES`), has unknown or missing members, or was written by
    another kind or format version.
    """
    where = repr(os.fspath(path))
    try:
        zf = zipfile.ZipFile(os.fspath(path))
    except FileNotFoundError:
        raise
    except _READ_ERRORS as e:
        raise ValueError(f"{where} is not an .npz archive ({type(e).__name__}: {e}); minidqn reads "
                         "only .npz files it wrote and never unpickles") from e
    try:
        members, headers = {}, {}
        if len(zf.infolist()) > MAX_MEMBERS:
            raise _Refused(f"it has {len(zf.infolist())} members; no minidqn checkpoint has more than {MAX_MEMBERS}")
        for info in zf.infolist():
            if not info.filename.endswith(".npy") or info.filename[:-4] in members:
                raise _Refused(f"member {info.filename!r} is not a (single) .npy array")
            name = info.filename[:-4]
            members[name] = info
            headers[name] = _read_header(zf, info)
        ckpt = Checkpoint(path, zf, members, headers)
        if "__kind__" not in members:
            raise ValueError(f"{where} is not a minidqn checkpoint (no __kind__ entry)")
        ckpt.kind = found = str(ckpt.read_scalar("__kind__", "U", 400))
        if kind is None:
            return ckpt
        if found != kind:
            raise ValueError(f"{where} holds a {found!r} checkpoint, expected {kind!r}")
        if "__version__" not in members:
            raise ValueError(f"{where} has no integer checkpoint format version")
        version = int(ckpt.read_scalar("__version__", "iu"))
        if version != FORMAT_VERSION:
            raise ValueError(f"{where} has checkpoint format version {version}, "
                             f"this minidqn reads version {FORMAT_VERSION}")
        names = set(members) - {"__kind__", "__version__"}
        if optional is not None:
            unknown = sorted(names - set(required) - set(optional))
            if unknown:
                raise ValueError(f"{where} holds members {unknown} that a {kind} checkpoint does not have")
        missing = [name for name in required if name not in names]
        if missing:
            raise ValueError(f"{where} lacks the entries {missing} of a {kind} checkpoint")
        return ckpt
    except BaseException as e:
        zf.close()
        if isinstance(e, _Refused):
            raise ValueError(f"{where}: {e}") from None
        if isinstance(e, ValueError) and str(e).startswith(where):
            raise
        if isinstance(e, _READ_ERRORS):
            raise ValueError(f"{where} is not a readable minidqn checkpoint: {type(e).__name__}: {e}") from e
        raise


def _read_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple:
    """``(shape, dtype)`` from a member's ``.npy`` header, checked against its zip entry's size."""
    name = info.filename[:-len(".npy")]
    if info.file_size > MAX_BYTES:
        raise _Refused(f"member {name!r} declares {info.file_size} bytes, more than minidqn's "
                         f"ceiling of {MAX_BYTES} (minidqn._checkpoint.MAX_BYTES)")
    with zf.open(info) as f:
        major, _ = np.lib.format.read_magic(f)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif major in (2, 3):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise _Refused(f"member {name!r} has .npy format version {major}")
        header_len = f.tell()
    if dtype.hasobject:
        raise _Refused(f"member {name!r} holds pickled objects; minidqn never unpickles")
    if any(n < 0 for n in shape):
        raise _Refused(f"member {name!r} declares the shape {shape}")
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if header_len + declared != info.file_size:
        raise _Refused(f"member {name!r} declares {dtype} {shape} ({declared} bytes) but its entry "
                         f"holds {info.file_size - header_len}")
    return tuple(shape), dtype


def checkpoint_kind(path) -> str:
    """What wrote the file at ``path`` (e.g. ``"DQNAgent"``); ``ValueError`` if it is no checkpoint."""
    with open_checkpoint(path, None) as ckpt:
        return ckpt.kind


def load_arrays(path, kind: str, required: tuple = (), optional=None) -> dict:
    """Every member of a file written by :func:`save_arrays` for ``kind``: name -> array (kind and
    version entries left out), after :func:`open_checkpoint`'s checks."""
    with open_checkpoint(path, kind, required, optional) as ckpt:
        return {name: ckpt.read(name) for name in ckpt.headers if name not in ("__kind__", "__version__")}


def read_json(ckpt: Checkpoint, name: str, limit: int = 1 << 24):
    """A JSON document stored as a 0-d string member (at most ``limit`` bytes)."""
    try:
        return json.loads(str(ckpt.read_scalar(name, "U", limit)))
    except json.JSONDecodeError as e:
        raise ValueError(f"{ckpt.where}: {name!r} is not valid JSON: {e}") from e


def check_allocation(ckpt: Checkpoint, what: str, nbytes: int, hint: str = "") -> None:
    """Refuse a file whose declared sizes would make loading allocate more than :data:`MAX_BYTES`."""
    if nbytes > MAX_BYTES:
        raise ValueError(f"{ckpt.where} declares {what} needing {nbytes / 2**30:.3g} GiB, more than "
                         f"minidqn's ceiling of {MAX_BYTES / 2**30:.3g} GiB (minidqn._checkpoint.MAX_BYTES)"
                         f"{'; ' + hint if hint else ''}")


# ---------------------------------------------------------------------------------------- generators
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

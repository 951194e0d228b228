"""Running NumPy's BLAS on one thread, for DQN-sized matrix products.

A DQN step multiplies small matrices (a batch of 64 through a 128 x 128 layer): split over threads
they gain nothing, and OpenBLAS's spinning threads stall when another process wants the cores (we
measured a train step at 80 ms instead of 0.5 ms with one other busy process on two cores).
``limit_blas_threads`` sets the thread count of the BLAS NumPy loaded, with threadpoolctl when it
is installed (the optional extra ``blas``: any BLAS it knows, any platform), and otherwise through
OpenBLAS's own ``set_num_threads`` function found via ``/proc/self/maps`` and ctypes (Linux with
OpenBLAS only; elsewhere it does nothing). It returns which of the two ran, and
``minidqn._blas.limited_by`` remembers it. The command line, the tests and the benchmarks call it;
a program embedding minidqn decides for itself.
"""
from __future__ import annotations

import ctypes

from ._validate import check_int

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = tuple(name.replace("set_", "get_") for name in _SETTERS)

limited_by: str | None = None  # what the last limit_blas_threads call used: "threadpoolctl", "ctypes" or None
_limiter = None  # threadpoolctl's limiter, kept so its limits are not lost with it


def limit_blas_threads(n: int = 1) -> str | None:
    """Use ``n`` BLAS threads from now on; returns ``"threadpoolctl"`` or ``"ctypes"`` (the way
    that set them), or ``None`` when no BLAS it can control was found."""
    global limited_by, _limiter
    n = check_int("n", n, minimum=1)
    limited_by = None
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        _limiter = threadpoolctl.threadpool_limits(limits=n, user_api="blas")
        if any(info.get("user_api") == "blas" for info in threadpoolctl.threadpool_info()):
            limited_by = "threadpoolctl"
            return limited_by
    if _call_openblas(_SETTERS, int(n)):  # the setters return nothing: count the libraries
        limited_by = "ctypes"
    return limited_by


def openblas_threads() -> list[int]:
    """The thread count of every OpenBLAS loaded, read through ctypes (``[]`` where none is found)."""
    return _call_openblas(_GETTERS)


def _call_openblas(names: tuple, *args) -> list:
    """Call the first of ``names`` each loaded OpenBLAS exports; the results, one per library."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and ".so" in line}
    except OSError:
        return []
    results = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            function = getattr(lib, name, None)
            if function is not None:
                results.append(function(*args))
                break
    return results

"""Running NumPy's BLAS on one thread, for DQN-sized matrix products.

A DQN step multiplies small matrices (a batch of 64 through a 128 x 128 layer): split over threads
they gain nothing, and OpenBLAS's spinning threads stall when another process wants the cores (we
measured a train step at 80 ms instead of 0.5 ms with one other busy process on two cores).
``limit_blas_threads`` asks the OpenBLAS that NumPy loaded to use ``n`` threads, through the
library's own ``set_num_threads`` function, as threadpoolctl does; where NumPy uses another BLAS,
or the platform has no ``/proc/self/maps``, it does nothing and returns False. The command line,
the tests and the benchmarks call it; a program embedding minidqn decides for itself.
"""
from __future__ import annotations

import ctypes

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")


def limit_blas_threads(n: int = 1) -> bool:
    """Set the thread count of every loaded OpenBLAS to ``n``; True if one was found."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and ".so" in line}
    except OSError:
        return False
    done = False
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(int(n))
                done = True
                break
    return done

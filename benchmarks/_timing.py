"""Timing helpers shared by the benchmark scripts: medians of repeated runs, and a plain table."""
from __future__ import annotations

import statistics
import time

from minidqn._blas import limit_blas_threads

# Every benchmark measures the configuration the command line and the tests use: one BLAS thread.
BLAS_ONE_THREAD = limit_blas_threads(1)


def median_seconds(fn, repeat: int = 15, number: int | None = None, budget: float = 0.2) -> float:
    """Median over ``repeat`` runs of the time of one call of ``fn``.

    Each run times ``number`` back-to-back calls (chosen so a run lasts about ``budget / repeat``
    seconds when not given) and divides, so sub-microsecond calls are measured above timer noise.
    """
    fn()  # warm-up: workspaces, caches
    if number is None:
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        number = max(1, int(budget / repeat / once))
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def print_table(headers: list[str], rows: list[list]) -> None:
    """Right-aligned columns, one header line, one line a row."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))

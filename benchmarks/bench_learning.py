"""Learning results: the demo's recipes trained from scratch, timed, against their baselines.

Prints the demo's results table (exact values on the finite shops, fresh shoppers on the feature
shop) and the wall time of the whole run. Run: ``python benchmarks/bench_learning.py [--quick]``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import _timing  # noqa: E402,F401  (one BLAS thread, as everywhere)

from minidqn.experiments import run_demo  # noqa: E402


def main() -> None:
    quick = "--quick" in sys.argv
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        report = run_demo(out, seed=0, episodes=100 if quick else 500, quick=quick, progress=False)
    print(report.rsplit("\n\n", 1)[0])  # without the line about saved files
    print(f"\nwall time of all training and evaluation: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

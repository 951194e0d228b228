"""Run every speed benchmark and the demo's learning table in turn, each in its own process:
``python benchmarks/run_all.py``. The learning distributions over seeds (``seeds.py``, ``ablation.py``,
``cold_start.py``) take tens of minutes and run on their own."""
from __future__ import annotations

import os
import subprocess
import sys
import time

SCRIPTS = ["bench_mlp.py", "bench_train_step.py", "bench_torch_step.py", "bench_replay.py", "bench_env.py",
           "bench_catalogue.py",
           "shop_calibration.py", "bench_learning.py"]


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    failed = []
    for script in SCRIPTS:
        print(f"\n=== {script} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, os.path.join(here, script), *sys.argv[1:]])
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Replay buffer: adding transitions one at a time and in batches, and sampling a batch.

Prints the median time per call and per transition, and the ratio of one-by-one to batched adds,
measured side by side. Run: ``python benchmarks/bench_replay.py``.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_seconds, print_table  # noqa: E402

from minidqn.replay import ReplayBuffer  # noqa: E402


def main() -> None:
    rows = []
    for obs_dim, batch in [(47, 64), (47, 256), (128, 256)]:
        buf = ReplayBuffer(100_000, obs_dim, seed=0, n_actions=100)
        rng = np.random.default_rng(0)
        n = 1024
        obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
        act, rew, term = rng.integers(100, size=n), rng.normal(size=n), rng.random(n) < 0.1
        t_batch = median_seconds(lambda: buf.add(obs, act, rew, obs, term)) / n
        t_one = median_seconds(lambda: buf.add(obs[0], int(act[0]), float(rew[0]), obs[0], bool(term[0])))
        t_sample = median_seconds(lambda: buf.sample(batch))
        rows.append([obs_dim, batch, f"{t_one * 1e6:.1f}", f"{t_batch * 1e6:.3f}", f"{t_one / t_batch:.0f}x",
                     f"{t_sample * 1e6:.1f}"])
    print_table(["obs dim", "batch", "add one us", "add in batch us/transition", "batch speed-up",
                 "sample(batch) us"], rows)


if __name__ == "__main__":
    main()

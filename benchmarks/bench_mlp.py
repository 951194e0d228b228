"""One MLP training step (forward, backward, Adam) on DQN-sized networks, against the machine's matmul.

Prints, per network and batch size, the median time of ``forward + backward + Adam.step`` and the
floating-point rate it achieves, next to the rate of one large float32 matmul measured in the same
run (the practical ceiling on this machine). Run: ``python benchmarks/bench_mlp.py``.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_seconds, print_table  # noqa: E402

from minidqn.losses import huber  # noqa: E402
from minidqn.mlp import MLP  # noqa: E402
from minidqn.optim import Adam  # noqa: E402

CASES = [([16, 64, 64, 10], 32), ([32, 128, 128, 50], 64), ([64, 256, 256, 200], 128),
         ([64, 256, 256, 200], 256)]


def step_flops(sizes: list[int], batch: int) -> int:
    """Multiply-adds x 2 of forward, dW for every layer and dA for all but the first layer."""
    layer = [2 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    return 2 * sum(layer) + sum(layer[1:])


def main() -> None:
    rng = np.random.default_rng(0)
    n = 1024
    A, B = rng.normal(size=(n, n)).astype(np.float32), rng.normal(size=(n, n)).astype(np.float32)
    peak = 2 * n ** 3 / median_seconds(lambda: A @ B, repeat=7) / 1e9
    print(f"reference: {n}x{n} float32 matmul at {peak:.1f} GFLOP/s\n")

    rows = []
    for sizes, batch in CASES:
        net = MLP(sizes, seed=0)
        opt = Adam(net.params, lr=1e-4)
        x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
        target = rng.normal(size=(batch, sizes[-1])).astype(np.float32)

        def step():
            _, grad = huber(net.forward(x), target)
            net.backward(grad, input_grad=False)
            opt.step(net.grads)

        t = median_seconds(step)
        gflops = step_flops(sizes, batch) / t / 1e9
        rows.append(["-".join(map(str, sizes)), batch, net.n_params, f"{t * 1e6:.0f}",
                     f"{gflops:.2f}", f"{gflops / peak:.1%}"])
    print_table(["network", "batch", "params", "step us (median)", "GFLOP/s", "of matmul peak"], rows)


if __name__ == "__main__":
    main()

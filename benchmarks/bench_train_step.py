"""The DQN train step: vectorized, against a per-sample loop, against its matrix products alone.

For several network and batch sizes, prints the median time of ``DQNAgent.train_step()``, of the
same update written one transition at a time (the speed-up of vectorizing), and of the step's
matrix products alone on preallocated arrays (its floor: how much the rest costs).
Run: ``python benchmarks/bench_train_step.py``.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_seconds, print_table  # noqa: E402

from minidqn.dqn import DQNAgent  # noqa: E402
from minidqn.losses import huber  # noqa: E402
from minidqn.optim import clip_grad_norm  # noqa: E402

CASES = [(16, (64, 64), 10, 32), (32, (128, 128), 50, 64), (64, (256, 256), 200, 128)]


def make_agent(obs_dim, hidden, n_actions, batch):
    agent = DQNAgent(obs_dim, n_actions, hidden=hidden, batch_size=batch, learning_starts=10 ** 9, seed=0)
    rng = np.random.default_rng(0)
    n = 5000
    agent.observe(rng.normal(size=(n, obs_dim)), rng.integers(n_actions, size=n), rng.normal(size=n),
                  rng.normal(size=(n, obs_dim)), rng.random(n) < 0.1)
    return agent


def per_sample_step(agent):
    """The same Double-DQN update, one transition at a time (what vectorizing replaces)."""
    cfg, buf, net = agent.config, agent.buffer, agent.online
    idx = buf.sample_indices(cfg.batch_size)
    grads = np.zeros_like(net.params)
    for i in idx:
        best = np.argmax(net.predict(buf.next_obs[i]))
        next_q = 0.0 if buf.terminated[i] else agent.target.predict(buf.next_obs[i])[best]
        y = buf.rewards[i] + cfg.gamma * next_q
        q = net.forward(buf.obs[i][None])
        a = buf.actions[i]
        _, dq = huber(q[0, a:a + 1], np.array([y], np.float32))
        grad_out = np.zeros_like(q)
        grad_out[0, a] = dq[0] / idx.size
        net.backward(grad_out, input_grad=False)
        grads += net.grads
    clip_grad_norm(grads, cfg.max_grad_norm)
    agent.optimizer.step(grads)


def matmul_floor(agent):
    """The step's matrix products on preallocated arrays: 3 forward passes, dW per layer, dA."""
    B, net = agent.config.batch_size, agent.online
    rng = np.random.default_rng(1)
    acts = [rng.normal(size=(B, n)).astype(np.float32) for n in net.sizes]
    outs = [np.empty((B, n), np.float32) for n in net.sizes]

    def run():
        for _ in range(3):  # online(s), online(s'), target(s')
            for i, W in enumerate(net.weights):
                np.matmul(acts[i], W, out=outs[i + 1])
        for i, W in enumerate(net.weights):
            np.matmul(acts[i].T, outs[i + 1], out=net.grads[:W.size].reshape(W.shape))
            if i > 0:
                np.matmul(outs[i + 1], W.T, out=outs[i])
    return run


def main() -> None:
    rows = []
    for obs_dim, hidden, n_actions, batch in CASES:
        agent = make_agent(obs_dim, hidden, n_actions, batch)
        t_vec = median_seconds(agent.train_step)
        t_loop = median_seconds(lambda: per_sample_step(agent), repeat=7)
        t_mm = median_seconds(matmul_floor(agent))
        net = "-".join(map(str, agent.online.sizes))
        rows.append([net, batch, f"{t_vec * 1e6:.0f}", f"{t_loop * 1e6:.0f}", f"{t_mm * 1e6:.0f}",
                     f"{t_loop / t_vec:.1f}x", f"{t_vec / t_mm:.2f}x"])
    print_table(["network", "batch", "train_step us", "per-sample us", "matmuls us",
                 "vectorized speed-up", "step / matmuls"], rows)


if __name__ == "__main__":
    main()

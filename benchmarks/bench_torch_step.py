"""minidqn's train step side by side with the same update in PyTorch, both on one CPU thread.

The PyTorch step is the textbook one (sample from tensors, Double-DQN target under ``no_grad``,
``smooth_l1_loss``, ``backward``, ``clip_grad_norm_``, ``Adam``, a hard target copy every 500
updates), on the same stored transitions, network sizes and batch sizes. Prints the median time
of each and the ratio minidqn / PyTorch (below 1: minidqn is faster).

PyTorch is not a dependency: this script runs only where ``torch`` is installed, e.g. in a scratch
virtual environment: ``pip install torch numpy`` there, then
``PYTHONPATH=. python benchmarks/bench_torch_step.py`` from the repository.
"""
from __future__ import annotations

import copy
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_seconds, print_table  # noqa: E402

from minidqn.dqn import DQNAgent  # noqa: E402

CASES = [(16, (64, 64), 10, 32), (32, (128, 128), 50, 64), (64, (256, 256), 200, 128), (64, (256, 256), 200, 256)]
N_STORED = 5000


def stored(obs_dim, n_actions, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N_STORED, obs_dim)).astype(np.float32), rng.integers(n_actions, size=N_STORED),
            rng.normal(size=N_STORED).astype(np.float32), rng.normal(size=(N_STORED, obs_dim)).astype(np.float32),
            rng.random(N_STORED) < 0.1)


def minidqn_step(obs_dim, hidden, n_actions, batch):
    agent = DQNAgent(obs_dim, n_actions, hidden=hidden, batch_size=batch, learning_starts=10 ** 9, seed=0,
                     reward_scale=1.0)
    agent.observe(*stored(obs_dim, n_actions))
    return agent.train_step


def torch_step(torch, obs_dim, hidden, n_actions, batch, gamma=0.99, target_update=500):
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    sizes = [obs_dim, *hidden, n_actions]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    online = nn.Sequential(*layers)
    target = copy.deepcopy(online)
    optimizer = torch.optim.Adam(online.parameters(), lr=1e-3)
    obs, act, rew, next_obs, done = (torch.as_tensor(x) for x in stored(obs_dim, n_actions))
    done = done.float()
    updates = [0]

    def step():
        idx = torch.randint(0, N_STORED, (batch,))
        s, a, r, s2, d = obs[idx], act[idx], rew[idx], next_obs[idx], done[idx]
        with torch.no_grad():
            next_a = online(s2).argmax(dim=1, keepdim=True)
            next_q = target(s2).gather(1, next_a).squeeze(1)
            y = r + gamma * (1.0 - d) * next_q
        q = online(s).gather(1, a.unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q, y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(online.parameters(), 10.0)
        optimizer.step()
        updates[0] += 1
        if updates[0] % target_update == 0:
            target.load_state_dict(online.state_dict())
        return loss.item()
    return step


def main() -> None:
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed here: this comparison runs only where it is (see the docstring).")
        return
    torch.set_num_threads(1)
    rows = []
    for obs_dim, hidden, n_actions, batch in CASES:
        ours = median_seconds(minidqn_step(obs_dim, hidden, n_actions, batch), repeat=21)
        theirs = median_seconds(torch_step(torch, obs_dim, hidden, n_actions, batch), repeat=21)
        net = "-".join(map(str, [obs_dim, *hidden, n_actions]))
        rows.append([net, batch, f"{ours * 1e6:.0f}", f"{theirs * 1e6:.0f}", f"{ours / theirs:.2f}x"])
    print(f"PyTorch {torch.__version__}, one thread; NumPy {np.__version__}, one BLAS thread")
    print_table(["network", "batch", "minidqn us", "PyTorch us", "minidqn / PyTorch"], rows)


if __name__ == "__main__":
    main()

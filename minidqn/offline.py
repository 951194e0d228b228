"""Learning from a log alone: fill a DQN's replay with logged transitions and train without acting.

``train_offline(agent, log, updates)`` replaces what the agent's replay holds by the ``n`` logged
transitions of a :class:`~minidqn.logs.Log` and runs ``updates`` of the agent's own
``train_step`` on them: the same target, loss, clipping, Adam and target-network sync as online
training, but no ``act`` and no environment (and a constant learning rate: ``lr_end_factor``
decays it over a ``train()`` run's env steps, and there are none here). With ``n_steps > 1`` each row ``i`` of an episode
whose last row is ``e`` becomes the k-step transition the online agent would have stored,

    k = min(n_steps, e - i + 1),   R = sum_{m<k} gamma^m r_{i+m},   bootstrap state s'_{i+k-1},
    discount gamma^k,   terminated = terminated_{i+k-1},

(``nstep.py``'s semantics: windows cut by the episode's end keep the steps they have; after a
time-limit cut the last state is still bootstrapped from; the return is the logging policy's,
uncorrected, as online). The mask of each next state is the next row's ``action_mask``; an
episode's last row has no next row, so a truncated one takes its own (what was allowed at ``s``; a
product bought at that very step then looks still allowed), a terminated one needs none.

Why a conservative learner (``DQNConfig.cql_alpha``): the target's max ranges over every allowed
action, including those the log never tried in states like ``s'``; their values are never corrected
by data, so plain offline DQN overestimates them and its greedy policy picks them. CQL's penalty
(``losses.cql_penalty``) pushes them down (README, "Learning from logs", measures the difference).

Not covered: collecting logs (``logs.py``), estimating a policy's value from one (``ope.py``),
choosing hyperparameters from the log alone (the README's ``cql_alpha`` for logs was chosen by
evaluating in the simulator), slate or vector logs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._validate import check_int
from .dqn import DQNAgent
from .logs import Log
from .progress import Progress

__all__ = ["OfflineHistory", "train_offline", "logged_transitions"]


@dataclass
class OfflineHistory:
    """What ``train_offline`` recorded. An "update" is one gradient step (1-based)."""

    transitions: int = 0           # logged transitions loaded into the replay
    updates: int = 0               # gradient updates run
    losses: list[float] = field(default_factory=list)  # the loss of every update, in order
    dropped_pending: int = 0       # n-step transitions of earlier online steps dropped before loading
    interrupted: bool = False      # stopped by KeyboardInterrupt; what is here was done
    wall_time: float = 0.0         # seconds spent in train_offline

    @property
    def updates_per_second(self) -> float:
        return self.updates / self.wall_time if self.wall_time > 0 else float("nan")

    @property
    def episode_returns(self) -> list:
        """None: nothing is played offline (the progress line reads it, and ``losses``, as a History's)."""
        return []


def _check(agent, log) -> None:
    if not isinstance(agent, DQNAgent):
        raise TypeError(f"train_offline needs a DQNAgent (or ItemDQNAgent), got {type(agent).__name__}: "
                        "agents without a replay and a train_step cannot learn from a log")
    if not isinstance(log, Log):
        raise TypeError(f"log must be a minidqn.logs.Log (Log.load(path) reads one), got {type(log).__name__}")
    if len(log) == 0:
        raise ValueError("log is empty: there is nothing to learn from")
    if log.n_actions != agent.n_actions:
        raise ValueError(f"log has {log.n_actions} actions (action_mask columns), the agent "
                         f"{agent.n_actions}: the log is from another env")
    want = "(n,) integer states" if agent.one_hot else f"(n, {agent.obs_dim})"
    fits = (log.obs.ndim == 1 and np.issubdtype(log.obs.dtype, np.integer)) if agent.one_hot \
        else log.obs.shape[1:] == (agent.obs_dim,)
    if not fits:
        raise ValueError(f"log.obs has shape {log.obs.shape} ({log.obs.dtype}), the agent expects {want}: "
                         "the log is from another env")
    if len(log) > agent.config.buffer_size:
        raise ValueError(f"log has {len(log):,} transitions but the agent's buffer_size is "
                         f"{agent.config.buffer_size:,}: make the agent with buffer_size >= {len(log):,}, "
                         "or the oldest would be overwritten before the first update")
    if agent.config.batch_size > len(log):
        raise ValueError(f"log has {len(log)} transitions, fewer than the agent's batch_size "
                         f"{agent.config.batch_size}")


def logged_transitions(log: Log, n_steps: int, gamma: float) -> tuple:
    """The replay transitions of ``log`` for an ``n_steps``-step learner, one per row:
    ``(obs, action, R, next_obs, terminated, discount, next_mask, mask)`` with a leading axis
    ``n`` (``R`` and ``discount`` float64; module docstring for the equations)."""
    n = len(log)
    rows = np.arange(n)
    last = np.r_[log.episode[1:] != log.episode[:-1], True]              # (n,) an episode's last row
    end = np.minimum.accumulate(np.where(last, rows, n)[::-1])[::-1]     # (n,) index of each row's last row
    k = np.minimum(n_steps, end - rows + 1)                              # (n,) steps in each return
    R = np.zeros(n)
    for m in range(n_steps):                                             # a loop over n_steps, not rows
        inside = m < k
        R[inside] += gamma ** m * log.reward[rows[inside] + m]
    j = rows + k - 1                                                     # (n,) the row that ends the return
    next_mask = np.where(last[j, None], log.action_mask[j], log.action_mask[np.minimum(j + 1, n - 1)])
    next_mask[log.terminated[j]] = True  # a terminal state is never bootstrapped from; any mask will do
    return (log.obs, log.action, R, log.next_obs[j], log.terminated[j], gamma ** k.astype(np.float64),
            next_mask, log.action_mask)


def train_offline(agent, log, updates: int, progress=True) -> OfflineHistory:
    """Load ``log`` into ``agent``'s replay and run ``updates`` gradient updates on it, acting never.

    What the replay held before (and any n-step windows still open) is replaced: the agent
    learns from the log alone. Target-network updates follow ``agent.config`` (``tau`` every update, or a
    hard copy every ``target_update``) exactly as in online training; the reward scale, if not
    given, is fixed from the log's rewards at the first update. ``agent.steps`` (env steps, which
    drive an ε schedule) does not move. ``progress``: ``True`` (stderr), ``False``, or a text stream.

    Returns an :class:`OfflineHistory`. A loss or gradient that stops being finite raises the train
    step's ``FloatingPointError`` (nothing updated at that step), as in ``train``; Ctrl-C returns
    the updates done with ``interrupted=True``. Bad input (not a DQN agent or a ``Log``, a log of
    another env's shapes, more rows than ``buffer_size``) is refused before anything changes.
    """
    _check(agent, log)
    updates = check_int("updates", updates, minimum=1)
    report = Progress(progress, updates)  # checks progress before anything changes
    cfg = agent.config
    obs, act, R, next_obs, done, discount, next_mask, mask = logged_transitions(log, cfg.n_steps, cfg.gamma)
    if not np.isfinite(R).all():
        raise ValueError(f"the {cfg.n_steps}-step returns of the log overflow; scale its rewards down")
    x, _ = agent.encode(obs, "log.obs")
    x_next, _ = agent.encode(next_obs, "log.next_obs")
    buf = agent.buffer
    h = OfflineHistory(transitions=len(log))
    start = time.perf_counter()
    buf.check(x, act, R, x_next, done, next_mask, discount.astype(cfg.dtype), mask)  # all, before any change
    h.dropped_pending = agent.end_episodes()
    buf.pos = buf.size = 0
    buf.add(x, act, R, x_next, done, next_mask, discount.astype(cfg.dtype), mask)
    report.message(f"loaded {len(log):,} logged transitions ({log.n_episodes:,} episodes"
                   + (f", {cfg.n_steps}-step returns" if cfg.n_steps > 1 else "") + ") into the replay")
    try:
        for t in range(1, updates + 1):
            h.losses.append(float(agent.train_step()))
            h.updates = t
            if t >= report.next_step:
                report.update(t, h, None)
    except KeyboardInterrupt:
        h.interrupted = True
        report.message(f"interrupted at update {h.updates:,} of {updates:,}: returning what was done "
                       "(OfflineHistory.interrupted is True)")
    h.wall_time = time.perf_counter() - start
    report.close()
    return h

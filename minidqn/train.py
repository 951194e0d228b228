"""The interaction loop: ``train`` an agent on an env (single, or vector with same-step autoreset).

Works with any agent that has ``act(obs, explore=True, action_mask=None) -> int`` and
``observe(obs, action, reward, next_obs, terminated, next_action_mask=None) -> float | None``
(a loss or TD-error size when it learned something, else ``None``), and any env with
Gymnasium's API: ``reset(seed=None) -> (obs, info)``, ``step(action) -> (obs, reward,
terminated, truncated, info)``. The mask keywords are passed only when the env's ``info`` has an
``"action_mask"``, so agents that know nothing of masks work on envs that have none; likewise
``truncated=``, ``action_mask=`` (the mask of ``obs``) and ``clicked=`` (``info["clicked"]``: a slate
env's clicked slot) go only to an ``observe`` that names them. This module does not cover what agents do inside ``observe``, evaluation (``evaluation.py``, whose
``evaluate`` is re-exported here), the record (``history.py``) or its display (``progress.py``).
Vector envs are driven when they use same-step autoreset (``VectorShopEnv``, Gymnasium's
``AutoresetMode.SAME_STEP``); next-step and disabled modes are refused.
"""
from __future__ import annotations

import time

import numpy as np

from ._validate import check_int
from .env_calls import (action_mask, check_agent, check_env, check_same_step_autoreset, final_action_masks,
                        final_observations, finite_rewards, observe_takes, reset_env, step_env,
                        vector_action_mask)
from .evaluation import DEFAULT_MAX_EPISODE_STEPS, evaluate
from .history import History
from .progress import Progress, epsilon_of

__all__ = ["History", "train", "evaluate", "DEFAULT_MAX_EPISODE_STEPS"]  # evaluate lives in evaluation.py


def train(agent, env, total_steps: int, seed: int | None = 0, eval_env=None, eval_every: int | None = None,
          progress=True, eval_episodes: int = 20, keep_best: bool = False) -> History:
    """Run ``agent`` on ``env`` for ``total_steps`` steps, letting it learn; returns a ``History``.

    Each step: ``a = agent.act(obs)``, ``env.step(a)``, ``agent.observe(obs, a, r, next_obs,
    terminated)``. On ``terminated or truncated`` the env is reset. A time limit is not a terminal
    state, so the agent still bootstraps; an agent whose ``observe`` takes ``truncated=`` (DQN:
    n-step windows must close where an episode was cut) gets it too, the others do not, and for
    it the run's last step cuts every episode still running (the next run starts with a reset).
    The first reset uses ``seed``, later ones continue the env's own generator. An episode still
    running at the end is not recorded. A non-finite reward from the env stops the run with a
    ``ValueError`` naming the step.

    ``env`` may also be a vector env with same-step autoreset (``num_envs`` copies; see
    ``_run_vector``): agents with ``accepts_batches`` act on the whole batch at once.

    ``eval_env`` (a separate, single env object) is used by ``evaluate`` every ``eval_every`` steps and
    at the end (only at the end when ``eval_every`` is None), with ``eval_episodes`` episodes and
    the same episode seeds each time. ``progress``: ``True`` (stderr), ``False``, or a text stream.

    ``keep_best`` (needs ``eval_env``; the way to train when an evaluation env exists): the agent
    ends with the learned parameters it had at its best evaluation (highest mean return; the
    earliest of equals), as Stable-Baselines3's ``EvalCallback`` keeps its best model;
    ``History.best_step`` and ``History.best_eval`` say which. Only what ``agent.snapshot()``
    holds is restored (the weights or the table); step counts, optimizer and replay go on.

    Ctrl-C (``KeyboardInterrupt``) during the run ends it early: the partial ``History`` is
    returned with ``interrupted=True`` (and, with ``keep_best``, the best weights so far restored).
    """
    check_agent(agent)
    check_env("env", env)
    total_steps = check_int("total_steps", total_steps, minimum=1)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    if eval_env is not None:
        check_env("eval_env", eval_env)
        if eval_env is env:
            raise ValueError("eval_env must be a separate env object: evaluating resets it")
    if eval_every is not None:
        eval_every = check_int("eval_every", eval_every, minimum=1)
        if eval_env is None:
            raise ValueError(f"eval_every={eval_every} needs an eval_env")
    eval_episodes = check_int("eval_episodes", eval_episodes, minimum=1)
    if not isinstance(keep_best, (bool, np.bool_)):
        raise TypeError(f"keep_best must be a bool, got {keep_best!r}")
    if keep_best:
        if eval_env is None:
            raise ValueError("keep_best=True needs an eval_env to choose the best weights on")
        for method in ("snapshot", "restore"):
            if not callable(getattr(agent, method, None)):
                raise TypeError(f"keep_best=True needs an agent with snapshot() and restore(), got "
                                f"{type(agent).__name__} without {method}()")
    report = Progress(progress, total_steps)
    scheduled = callable(getattr(agent, "start_run", None))  # e.g. DQN's learning rate decays over the run
    if scheduled:
        agent.start_run(total_steps)
    h = History()
    best = _Best(agent) if keep_best else None
    start = time.perf_counter()
    run = _run_vector if hasattr(env, "num_envs") else _run_single
    try:
        run(agent, env, total_steps, seed, h, report,
            lambda t: _evaluate_during(agent, eval_env, eval_every, eval_episodes, seed, total_steps, t, h,
                                       report, best))
    except KeyboardInterrupt:
        h.interrupted = True
        # episodes stopped mid-way cannot be completed: an agent that holds transitions back
        # (DQN's n-step windows) drops them rather than glue them onto the next run's episodes
        dropped = agent.end_episodes() if callable(getattr(agent, "end_episodes", None)) else 0
        report.message(f"interrupted at step {h.total_steps:,} of {total_steps:,}: returning what was done "
                       "(History.interrupted is True)"
                       + (f"; {dropped} pending n-step transitions dropped" if dropped else ""))
    finally:
        if scheduled:
            agent.start_run(None)  # the run is over, however it ended: the agent's own settings again
    if best is not None and best.snapshot is not None:
        agent.restore(best.snapshot)
        report.message(f"kept the weights of step {h.best_step:,} "
                       f"(eval mean return {h.best_eval['mean_return']:.3f})")
    h.wall_time = time.perf_counter() - start
    report.close()
    return h


class _Best:
    """The best evaluation so far and the agent's snapshot then (for ``keep_best``)."""

    def __init__(self, agent):
        self.agent, self.snapshot = agent, None

    def offer(self, t: int, metrics: dict, h: History) -> None:
        if h.best_eval is None or metrics["mean_return"] > h.best_eval["mean_return"]:
            self.snapshot = self.agent.snapshot()
            h.best_step, h.best_eval = t, metrics


def _record_episode(h, agent, t, ep_return, ep_length, truncated) -> None:
    h.episode_ends.append(t)
    h.episode_returns.append(float(ep_return))
    h.episode_lengths.append(int(ep_length))
    h.episode_truncated.append(bool(truncated))
    h.episode_epsilons.append(epsilon_of(agent, t))


def _evaluate_during(agent, eval_env, eval_every, episodes, seed, total_steps, t, h, report, best) -> None:
    """Evaluate at every multiple of ``eval_every`` passed since the last call, and at the end;
    offer the result to ``best`` (``keep_best``) when there is one."""
    if eval_env is None:
        return
    last = h.evals[-1][0] if h.evals else 0
    due = t >= total_steps or (eval_every and t // eval_every > last // eval_every)
    if due:
        metrics = evaluate(agent, eval_env, episodes, seed=0 if seed is None else seed)
        h.evals.append((t, metrics))
        if best is not None:
            best.offer(t, metrics, h)
        report.message(f"eval at step {t:,}: mean return {metrics['mean_return']:.3f} "
                       f"± {metrics['mean_return_se']:.3f} over {episodes} episodes")


def _observe_extras(agent) -> set:
    """The optional keywords ``agent.observe`` names: ``truncated``, ``action_mask`` (of ``obs``)
    and ``clicked`` (the slot a slate env's ``info`` reports); only those are passed (``_told``)."""
    return {key for key in ("truncated", "action_mask", "clicked") if observe_takes(agent, key)}


def _told(takes: set, **values) -> dict:
    """``values`` that ``observe`` takes and that exist (a ``None`` is an absent mask or event)."""
    return {key: value for key, value in values.items() if key in takes and value is not None}


def _run_single(agent, env, total_steps, seed, h, report, evaluate_at) -> None:
    takes = _observe_extras(agent)
    obs, info = reset_env(env, seed)
    mask = action_mask(info)
    ep_return, ep_length = 0.0, 0
    for t in range(1, total_steps + 1):
        action = agent.act(obs, explore=True, **({} if mask is None else {"action_mask": mask}))
        next_obs, reward, terminated, truncated, info = step_env(env, action)
        reward = finite_rewards(reward, (), t)
        next_mask = action_mask(info)
        loss = agent.observe(obs, action, reward, next_obs, terminated,
                             **({} if next_mask is None else {"next_action_mask": next_mask}),
                             **_told(takes, action_mask=mask, clicked=info.get("clicked"),
                                     truncated=bool((truncated or t == total_steps) and not terminated)))
        if loss is not None:
            h.loss_steps.append(t)
            h.losses.append(float(loss))
        ep_return += reward
        ep_length += 1
        h.total_steps = t
        obs, mask = next_obs, next_mask  # easy to miss: the next action is chosen from next_obs
        if terminated or truncated:
            _record_episode(h, agent, t, ep_return, ep_length, truncated and not terminated)
            obs, info = reset_env(env, None)
            mask = action_mask(info)
            ep_return, ep_length = 0.0, 0
        evaluate_at(t)
        if t >= report.next_step:
            report.update(t, h, agent)


def _run_vector(agent, env, total_steps, seed, h, report, evaluate_at) -> None:
    """The loop for a vector env with same-step autoreset (``VectorShopEnv``, Gymnasium's
    ``SAME_STEP`` mode): each step moves ``num_envs`` copies, finished ones already restarted.

    The stored transition of a finished copy ends in ``info["final_obs"]``, not in the returned
    observation, which is already the next episode's first (see ``final_observations``); its next action
    mask likewise comes from the final info. Steps count transitions, so the run stops at the
    first multiple of ``num_envs`` at or above ``total_steps``. Next-step and disabled autoreset
    are refused, each saying why.
    """
    check_same_step_autoreset(env)
    n = int(env.num_envs)
    batched = getattr(agent, "accepts_batches", False)
    takes = _observe_extras(agent) - {"clicked"}  # slate envs, the only ones to report a slot, are never vector envs
    obs, info = reset_env(env, seed)
    mask = vector_action_mask(info)
    ep_return, ep_length = np.zeros(n), np.zeros(n, np.int64)
    t = 0
    while t < total_steps:
        if batched:
            actions = agent.act(obs, explore=True, **({} if mask is None else {"action_mask": mask}))
        else:
            actions = np.array([agent.act(obs[i], explore=True,
                                          **({} if mask is None else {"action_mask": mask[i]}))
                                for i in range(n)])
        next_obs, rewards, terminated, truncated, info = step_env(env, actions)
        rewards = finite_rewards(rewards, (n,), t + n)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        if not terminated.shape == truncated.shape == (n,):
            raise ValueError(f"a vector env of {n} must return terminated and truncated of shape "
                             f"({n},), got {terminated.shape} and {truncated.shape}")
        next_mask, done = vector_action_mask(info), terminated | truncated
        cut = (truncated | (t + n >= total_steps)) & ~terminated  # the run's end cuts episodes too
        stored_obs, stored_mask = next_obs, next_mask
        if done.any():  # the transition ends where the finished episode ended
            stored_obs = final_observations(info, next_obs, done)
            if next_mask is not None:
                stored_mask = final_action_masks(info, next_mask, done)
        if batched:
            loss = agent.observe(obs, actions, rewards, stored_obs, terminated,
                                 **({} if stored_mask is None else {"next_action_mask": stored_mask}),
                                 **_told(takes, action_mask=mask, truncated=cut))
        else:  # one call per copy; keep every loss, not just the last copy's
            losses = [agent.observe(obs[i], actions[i], rewards[i], stored_obs[i], bool(terminated[i]),
                                    **({} if stored_mask is None else {"next_action_mask": stored_mask[i]}),
                                    **_told(takes, action_mask=None if mask is None else mask[i],
                                            truncated=bool(cut[i])))
                      for i in range(n)]
            losses = [x for x in losses if x is not None]
            loss = float(np.mean(losses)) if losses else None
        t += n
        h.total_steps = t  # kept current, so that a run cut short says how far it got
        if loss is not None:
            h.loss_steps.append(t)
            h.losses.append(float(loss))
        ep_return += rewards
        ep_length += 1
        for i in np.flatnonzero(done):
            _record_episode(h, agent, t, ep_return[i], ep_length[i], truncated[i] and not terminated[i])
        ep_return[done], ep_length[done] = 0.0, 0
        obs, mask = next_obs, next_mask
        evaluate_at(t)
        if t >= report.next_step:
            report.update(min(t, total_steps), h, agent)

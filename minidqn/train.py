"""The interaction loop: ``train`` an agent on an env, ``evaluate`` it, show progress.

Works with any agent that has ``act(obs, explore=True, action_mask=None) -> int`` and
``observe(obs, action, reward, next_obs, terminated, next_action_mask=None) -> float | None``
(a loss or TD-error size when it learned something, else ``None``), and any env with
Gymnasium's API: ``reset(seed=None) -> (obs, info)``, ``step(action) -> (obs, reward,
terminated, truncated, info)``. The mask keywords are passed only when the env's ``info`` has an
``"action_mask"``, so agents that know nothing of masks work on envs that have none. This module
does not cover what agents do inside ``observe``, or plotting. Vector envs are driven when they
use same-step autoreset (``VectorShopEnv``); Gymnasium's default next-step mode is refused.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ._validate import check_int
from .history import History
from .progress import Progress, epsilon_of

__all__ = ["History", "train", "evaluate"]


def _check_agent(agent):
    for method in ("act", "observe"):
        if not callable(getattr(agent, method, None)):
            raise TypeError(f"agent must have act() and observe() methods, got {type(agent).__name__} "
                            f"without {method}()")


def _check_env(name, env):
    for method in ("reset", "step"):
        if not callable(getattr(env, method, None)):
            raise TypeError(f"{name} must have Gymnasium's reset() and step(), got {type(env).__name__}")


def _reset(env, seed):
    out = env.reset(seed=seed)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"env.reset() must return (obs, info) as in Gymnasium, got {type(out).__name__}")
    return out


def _step(env, action):
    out = env.step(action)
    if not (isinstance(out, tuple) and len(out) == 5):
        raise TypeError("env.step() must return (obs, reward, terminated, truncated, info) as in "
                        f"Gymnasium (old Gym's 4-tuple is not supported), got {type(out).__name__}"
                        + (f" of length {len(out)}" if isinstance(out, tuple) else ""))
    return out


def _finite_rewards(rewards, shape: tuple, t: int):
    """The env's reward(s) as a float (``shape == ()``) or a float64 array of ``shape``; a clear
    error naming the step when the shape is wrong or a reward is NaN or infinite (it would poison
    every mean, and a learner's values, without a word)."""
    if shape == () and type(rewards) is float and math.isfinite(rewards):
        return rewards  # the common case, without NumPy calls
    r = np.asarray(rewards, dtype=np.float64)
    if r.shape != shape:
        raise TypeError(f"env.step returned rewards of shape {r.shape} at step {t}; expected "
                        + ("a scalar" if shape == () else f"shape {shape}, one per copy"))
    if not np.isfinite(r).all():
        raise ValueError(f"env.step returned a non-finite reward {r[~np.isfinite(r)].flat[0]} at step {t}; "
                         "the run stops there")
    return float(r) if shape == () else r


def _mask(info):
    return info.get("action_mask") if isinstance(info, dict) else None


def train(agent, env, total_steps: int, seed: int | None = 0, eval_env=None, eval_every: int | None = None,
          progress=True, eval_episodes: int = 20, keep_best: bool = False) -> History:
    """Run ``agent`` on ``env`` for ``total_steps`` steps, letting it learn; returns a ``History``.

    Each step: ``a = agent.act(obs)``, ``env.step(a)``, ``agent.observe(obs, a, r, next_obs,
    terminated)``. On ``terminated or truncated`` the env is reset; ``observe`` gets
    ``terminated`` only (a time limit is not a terminal state, so the agent still bootstraps).
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
    _check_agent(agent)
    _check_env("env", env)
    total_steps = check_int("total_steps", total_steps, minimum=1)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    if eval_env is not None:
        _check_env("eval_env", eval_env)
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
        report.message(f"interrupted at step {h.total_steps:,} of {total_steps:,}: returning what was done "
                       "(History.interrupted is True)")
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


def _run_single(agent, env, total_steps, seed, h, report, evaluate_at) -> None:
    obs, info = _reset(env, seed)
    mask = _mask(info)
    ep_return, ep_length = 0.0, 0
    for t in range(1, total_steps + 1):
        action = agent.act(obs, explore=True, **({} if mask is None else {"action_mask": mask}))
        next_obs, reward, terminated, truncated, info = _step(env, action)
        reward = _finite_rewards(reward, (), t)
        next_mask = _mask(info)
        loss = agent.observe(obs, action, reward, next_obs, terminated,
                             **({} if next_mask is None else {"next_action_mask": next_mask}))
        if loss is not None:
            h.loss_steps.append(t)
            h.losses.append(float(loss))
        ep_return += reward
        ep_length += 1
        h.total_steps = t
        obs, mask = next_obs, next_mask  # easy to miss: the next action is chosen from next_obs
        if terminated or truncated:
            _record_episode(h, agent, t, ep_return, ep_length, truncated and not terminated)
            obs, info = _reset(env, None)
            mask = _mask(info)
            ep_return, ep_length = 0.0, 0
        evaluate_at(t)
        if t >= report.next_step:
            report.update(t, h, agent)
    h.total_steps = total_steps


def _autoreset_mode(env) -> str | None:
    """A vector env's ``metadata["autoreset_mode"]`` as ``"samestep"``, ``"nextstep"``,
    ``"disabled"`` (or another word), from Gymnasium's ``AutoresetMode`` or its value or name;
    ``None`` when the env does not say."""
    mode = (getattr(env, "metadata", None) or {}).get("autoreset_mode")
    if mode is None:  # Gymnasium's vector envs before 1.1 do not say: they reset on the next step
        return "nextstep" if type(env).__module__.startswith("gymnasium.") else None
    return str(getattr(mode, "value", mode)).split(".")[-1].replace("_", "").lower()


_SAME_STEP_HOW = ("make it with autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP "
                  "(SyncVectorEnv(..., autoreset_mode=...) or gym.make_vec(..., "
                  "vector_kwargs={'autoreset_mode': ...}))")


def _check_autoreset(env) -> None:
    mode = _autoreset_mode(env)
    if mode in (None, "samestep"):
        return
    given = (getattr(env, "metadata", None) or {}).get("autoreset_mode", "None (Gymnasium < 1.1: next-step)")
    if mode == "nextstep":
        why = ("with next-step autoreset (Gymnasium's default) the step after an episode ends only "
               "resets that copy and ignores its action, so a stored transition would cross two episodes")
    elif mode == "disabled":
        why = ("with autoreset disabled, finished copies stay finished until the caller resets them "
               "with reset(options={'reset_mask': ...}), which train does not do")
    else:
        why = "this mode is unknown to train"
    raise TypeError(f"train drives vector envs with same-step autoreset only, got autoreset_mode={given}: "
                    f"{why}; {_SAME_STEP_HOW}")


def _vector_mask(info, present_key="_action_mask"):
    """``info["action_mask"]`` of a vector env, ``(n, n_actions)``; rows a copy did not report
    (``info["_action_mask"]`` False, zero-filled by Gymnasium) allow everything."""
    mask = _mask(info)
    if mask is None:
        return None
    present = info.get(present_key)
    if present is not None and not np.all(present):
        mask = np.where(np.asarray(present, bool)[:, None], mask, 1)
    return mask


def _final_obs(info, next_obs, done) -> np.ndarray:
    """The true next observation of every copy: ``info["final_obs"][i]`` where copy ``i``'s
    episode ended at this step, ``next_obs[i]`` (already the next episode's first) elsewhere.

    Gymnasium's same-step mode gives ``final_obs`` as an object array holding ``None`` for copies
    that did not finish (and ``_final_obs`` flags the others); ``VectorShopEnv`` gives a full array.
    """
    final = info.get("final_obs") if isinstance(info, dict) else None
    if final is None:
        raise ValueError("a copy's episode ended but the vector env's info has no 'final_obs' (its last "
                         "observation); train needs same-step autoreset that reports it, as Gymnasium's does")
    final = np.asarray(final)
    flagged = np.asarray(info.get("_final_obs", done), bool)
    if final.shape[:1] != done.shape or np.any(done & ~flagged):
        raise ValueError(f"info['final_obs'] must hold the last observation of every copy that finished "
                         f"(copies {np.flatnonzero(done).tolist()}), got shape {final.shape} flagged "
                         f"{np.flatnonzero(flagged).tolist()}")
    stored = np.array(next_obs)  # a copy: next_obs goes on to be acted on
    if final.dtype != object:
        stored[done] = final[done]
    else:
        for i in np.flatnonzero(done):
            stored[i] = final[i]
    return stored


def _final_mask(info, next_mask, done) -> np.ndarray:
    """The action mask of every copy's true next observation: the finished episode's last mask
    where one ended (``info["final_action_mask"]`` of ``VectorShopEnv``, or Gymnasium's
    ``info["final_info"]["action_mask"]``; everything allowed when neither is there)."""
    final = info.get("final_action_mask")
    if final is None and isinstance(info.get("final_info"), dict):
        final = _vector_mask(info["final_info"])
    stored = np.array(next_mask)
    stored[done] = 1 if final is None else np.asarray(final)[done]
    return stored


def _run_vector(agent, env, total_steps, seed, h, report, evaluate_at) -> None:
    """The loop for a vector env with same-step autoreset (``VectorShopEnv``, Gymnasium's
    ``SAME_STEP`` mode): each step moves ``num_envs`` copies, finished ones already restarted.

    The stored transition of a finished copy ends in ``info["final_obs"]``, not in the returned
    observation, which is already the next episode's first (see ``_final_obs``); its next action
    mask likewise comes from the final info. Steps count transitions, so the run stops at the
    first multiple of ``num_envs`` at or above ``total_steps``. Next-step and disabled autoreset
    are refused, each saying why.
    """
    _check_autoreset(env)
    n = int(env.num_envs)
    batched = getattr(agent, "accepts_batches", False)
    obs, info = _reset(env, seed)
    mask = _vector_mask(info)
    ep_return, ep_length = np.zeros(n), np.zeros(n, np.int64)
    t = 0
    while t < total_steps:
        if batched:
            actions = agent.act(obs, explore=True, **({} if mask is None else {"action_mask": mask}))
        else:
            actions = np.array([agent.act(obs[i], explore=True,
                                          **({} if mask is None else {"action_mask": mask[i]}))
                                for i in range(n)])
        next_obs, rewards, terminated, truncated, info = _step(env, actions)
        rewards = _finite_rewards(rewards, (n,), t + n)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        if not terminated.shape == truncated.shape == (n,):
            raise ValueError(f"a vector env of {n} must return terminated and truncated of shape "
                             f"({n},), got {terminated.shape} and {truncated.shape}")
        next_mask, done = _vector_mask(info), terminated | truncated
        stored_obs, stored_mask = next_obs, next_mask
        if done.any():  # the transition ends where the finished episode ended
            stored_obs = _final_obs(info, next_obs, done)
            if next_mask is not None:
                stored_mask = _final_mask(info, next_mask, done)
        if batched:
            loss = agent.observe(obs, actions, rewards, stored_obs, terminated,
                                 **({} if stored_mask is None else {"next_action_mask": stored_mask}))
        else:  # one call per copy; keep every loss, not just the last copy's
            losses = [agent.observe(obs[i], actions[i], rewards[i], stored_obs[i], bool(terminated[i]),
                                    **({} if stored_mask is None else {"next_action_mask": stored_mask[i]}))
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


def _se(x) -> float:
    return float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")


def _ratio(num, den) -> tuple[float, float]:
    """``sum(num) / sum(den)`` and its standard error over episodes (ratio estimator)."""
    rate = float(num.sum() / den.sum())
    n = len(num)
    if n < 2:
        return rate, float("nan")
    return rate, float(math.sqrt(np.sum((num - rate * den) ** 2) / (n * (n - 1))) / den.mean())


DEFAULT_MAX_EPISODE_STEPS = 10_000  # evaluate's cap when neither the caller nor env.spec gives one


def _episode_cap(env, max_episode_steps) -> int:
    """``max_episode_steps`` when given, else the env's ``spec.max_episode_steps`` (Gymnasium's
    time limit) when it has one, else ``DEFAULT_MAX_EPISODE_STEPS``."""
    if max_episode_steps is not None:
        return check_int("max_episode_steps", max_episode_steps, minimum=1)
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    if isinstance(limit, (int, np.integer)) and not isinstance(limit, bool) and limit >= 1:
        return int(limit)
    return DEFAULT_MAX_EPISODE_STEPS


def evaluate(agent, env, episodes=20, seed=0, max_episode_steps=None) -> dict:
    """Run ``episodes`` episodes with ``agent.act(obs, explore=False)``; no learning.

    Episode ``i`` is reset with the ``i``-th seed of ``SeedSequence(seed)``, so the same
    ``seed`` gives the same shoppers whatever ``episodes`` is, and the episode seeds (hashes)
    are not the small integers ``train`` seeds its env with. Returns ``episodes``,
    ``mean_return``, ``std_return``, ``mean_return_se``, ``mean_length``, ``mean_length_se``
    and, when the env's ``info`` has ``revenue`` /
    ``purchased`` / ``clicked``, ``revenue_per_session``, ``conversion_rate`` (purchases per
    step) and ``click_rate`` (clicks per step), each with a ``_se``. With a ``Discrete`` action
    space, ``coverage``: the share of actions recommended at least once over all episodes (one
    number for the whole run, so no standard error); when the env has a ``category`` per action,
    ``categories_per_session``: distinct categories recommended in a visit, with its ``_se``.

    Every episode ends: terminated or truncated by the env, or cut after ``max_episode_steps``
    steps, so an env without a time limit (Gymnasium's CliffWalking, a policy that never
    reaches the goal) cannot hang the evaluation. The cap defaults to the env's
    ``spec.max_episode_steps`` (Gymnasium's ``TimeLimit``) and, when the env has none, to
    ``DEFAULT_MAX_EPISODE_STEPS`` (10,000). A cut episode counts as truncated:
    ``episodes_truncated`` (by the env or the cap) and ``truncated_rate`` (their share) are
    always reported, and ``episodes_capped`` says how many of them the cap cut.
    """
    _check_agent(agent)
    _check_env("env", env)
    if hasattr(env, "num_envs"):
        raise TypeError("evaluate takes a single env (episodes one after another, each seeded); "
                        f"got a vector env of {env.num_envs}")
    episodes = check_int("episodes", episodes, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    cap = _episode_cap(env, max_episode_steps)
    seeds = np.random.SeedSequence(seed).generate_state(episodes)
    returns, lengths = np.zeros(episodes), np.zeros(episodes)
    truncated_episodes, capped_episodes = 0, 0
    events = {key: np.zeros(episodes) for key in ("revenue", "purchased", "clicked")}
    seen = set()
    n_actions = getattr(getattr(env, "action_space", None), "n", None)
    category = getattr(env, "category", None)
    recommended, categories = set(), np.zeros(episodes)
    for i in range(episodes):
        obs, info = _reset(env, int(seeds[i]))
        mask, done = _mask(info), False
        visit = set()
        while not done:
            action = agent.act(obs, explore=False, **({} if mask is None else {"action_mask": mask}))
            visit.add(int(action))
            obs, reward, terminated, truncated, info = _step(env, action)
            returns[i] += float(reward)
            lengths[i] += 1
            for key, totals in events.items():
                if key in info:
                    totals[i] += float(info[key])
                    seen.add(key)
            capped = not (terminated or truncated) and lengths[i] >= cap
            mask, done = _mask(info), terminated or truncated or capped
        truncated_episodes += bool(done and not terminated)
        capped_episodes += capped
        recommended |= visit
        if category is not None:
            categories[i] = len({int(category[a]) for a in visit})
    metrics = {"episodes": episodes, "mean_return": float(returns.mean()),
               "std_return": float(returns.std()), "mean_return_se": _se(returns),
               "mean_length": float(lengths.mean()), "mean_length_se": _se(lengths),
               "episodes_truncated": truncated_episodes, "truncated_rate": truncated_episodes / episodes,
               "episodes_capped": capped_episodes}
    if "revenue" in seen:
        metrics["revenue_per_session"] = float(events["revenue"].mean())
        metrics["revenue_per_session_se"] = _se(events["revenue"])
    for key, name in (("purchased", "conversion_rate"), ("clicked", "click_rate")):
        if key in seen:
            metrics[name], metrics[name + "_se"] = _ratio(events[key], lengths)
    if n_actions:
        metrics["coverage"] = len(recommended) / int(n_actions)
    if category is not None:
        metrics["categories_per_session"], metrics["categories_per_session_se"] = \
            float(categories.mean()), _se(categories)
    return metrics

"""A shop's logs: what a recommender showed, with the probability it had of showing it.

``collect_log(agent, env, episodes, seed, epsilon)`` runs ``agent`` greedily with ε-uniform
exploration over the allowed actions and returns a :class:`Log` of arrays, one row per step.
Its ``behavior_prob`` is the probability the logging policy had of the logged action,

    mu(a | s) = (1 - epsilon) * 1[a = greedy(s)] + epsilon / n_allowed(s),

which is what off-policy evaluation (``ope.py``) divides by. ``Log.save``/``Log.load`` store it as
an ``.npz`` checked like every checkpoint (``_checkpoint.py``); ``Log.to_csv`` writes it for other
tools. ``read_bandit_csv`` reads a logged-bandit CSV in the Open Bandit Dataset layout.

Not covered: estimating anything from a log (``ope.py``), learning from one (``offline.py``),
vector envs, slates, and logging policies other than ε-greedy over an agent's greedy choice.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, fields

import numpy as np

from ._checkpoint import check_allocation, open_checkpoint, save_arrays
from ._validate import check_array, check_float, check_int, check_mask, check_space
from .env_calls import action_mask, check_agent, check_env, finite_rewards, reset_env, step_env
from .evaluation import _episode_cap

__all__ = ["Log", "collect_log", "epsilon_greedy_prob", "epsilon_greedy_policy", "read_bandit_csv",
           "BANDIT_COLUMNS"]


def epsilon_greedy_prob(action, greedy_action, action_mask, epsilon: float) -> np.ndarray:
    """``(1 - epsilon) * 1[action = greedy_action] + epsilon / n_allowed``, row by row.

    ``action``, ``greedy_action``: ``(n,)`` ints; ``action_mask``: ``(n, n_actions)`` bool;
    returns ``(n,)`` float64. The probability an ε-greedy policy over the allowed actions gives
    ``action`` (0 for an action it never takes: not greedy, and ``epsilon = 0``).
    """
    n_allowed = np.asarray(action_mask).sum(axis=1)
    return (1.0 - epsilon) * (np.asarray(action) == np.asarray(greedy_action)) + epsilon / n_allowed


def epsilon_greedy_policy(greedy_action, action_mask, epsilon: float) -> np.ndarray:
    """The whole distribution: ``(n, n_actions)`` float64, row ``t`` = ``(1 - epsilon) *
    onehot(greedy_action[t]) + epsilon * action_mask[t] / n_allowed(t)`` (e.g. a target policy's
    ``pi(. | s_t)`` at a log's rows, for ``fqe``; its entry at the logged action is the target prob)."""
    mask = np.asarray(action_mask, dtype=bool)
    pi = epsilon * mask / mask.sum(axis=1, keepdims=True)
    pi[np.arange(mask.shape[0]), np.asarray(greedy_action)] += 1.0 - epsilon
    return pi


@dataclass(frozen=True, eq=False)
class Log:
    """Logged steps, one row each, grouped by episode in step order (``n`` rows, ``A`` actions).

    ``episode`` ``(n,)`` int64 (0, 1, 2, ... in the order collected), ``step`` ``(n,)`` int64 (0 at
    each episode's start), ``obs`` and ``next_obs`` ``(n, *obs_shape)``, ``action`` ``(n,)`` int64,
    ``reward`` ``(n,)`` float64, ``terminated`` and ``truncated`` ``(n,)`` bool (exactly one of them
    on each episode's last row, neither elsewhere), ``action_mask`` ``(n, A)`` bool (the actions
    allowed at ``obs``), ``greedy_action`` ``(n,)`` int64 (what the agent would have chosen),
    ``behavior_prob`` ``(n,)`` float64 in (0, 1] (the logging policy's probability of ``action``),
    and ``epsilon``, the logging policy's exploration rate. Checked on construction.
    """

    episode: np.ndarray
    step: np.ndarray
    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    action_mask: np.ndarray
    greedy_action: np.ndarray
    behavior_prob: np.ndarray
    epsilon: float = 0.0

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: the checked, converted arrays replace what was given
        n = len(np.asarray(self.episode))
        for name in ("episode", "step", "action", "greedy_action"):
            x = np.asarray(getattr(self, name))
            if not np.issubdtype(x.dtype, np.integer) or x.shape != (n,):
                raise ValueError(f"Log.{name} must be ({n},) integers like episode, got {x.dtype} {x.shape}")
            set_(self, name, x.astype(np.int64))
        for name in ("terminated", "truncated"):
            x = np.asarray(getattr(self, name))
            if x.dtype != bool or x.shape != (n,):
                raise ValueError(f"Log.{name} must be ({n},) bools, got {x.dtype} {x.shape}")
        set_(self, "reward", check_array("Log.reward", self.reward, shape=(n,), dtype=np.float64))
        obs = check_array("Log.obs", self.obs)
        if obs.ndim == 0 or obs.shape[0] != n:
            raise ValueError(f"Log.obs must have one row per step ({n}), got shape {obs.shape}")
        set_(self, "obs", obs)
        set_(self, "next_obs", check_array("Log.next_obs", self.next_obs, shape=obs.shape, dtype=obs.dtype))
        mask = np.asarray(self.action_mask)
        if mask.ndim != 2 or mask.shape[0] != n or mask.shape[1] < 1:
            raise ValueError(f"Log.action_mask must have shape ({n}, n_actions), got {mask.shape}")
        set_(self, "action_mask", check_mask("Log.action_mask", mask, mask.shape))
        prob = check_array("Log.behavior_prob", self.behavior_prob, shape=(n,), dtype=np.float64)
        if np.any((prob <= 0) | (prob > 1)):
            raise ValueError(f"Log.behavior_prob must be in (0, 1], got {prob[(prob <= 0) | (prob > 1)][0]}")
        set_(self, "behavior_prob", prob)
        set_(self, "epsilon", check_float("Log.epsilon", self.epsilon, 0.0, 1.0))
        rows = np.arange(n)
        for name in ("action", "greedy_action"):
            a = getattr(self, name)
            if np.any((a < 0) | (a >= self.n_actions)) or not self.action_mask[rows, a].all():
                raise ValueError(f"Log.{name} must be actions the row's action_mask allows")
        self._check_episodes()

    def _check_episodes(self) -> None:
        """Episodes 0, 1, 2, ... each in one block, steps 0, 1, 2, ..., ended exactly at its last row."""
        ep, n = self.episode, len(self.episode)
        if n == 0:
            return
        first = np.r_[True, ep[1:] != ep[:-1]]  # the first row of each episode
        if ep[0] != 0 or np.any(np.diff(ep) < 0) or np.any(np.diff(ep) > 1):
            raise ValueError("Log.episode must number episodes 0, 1, 2, ... with each one's rows together")
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        if np.any(self.step != np.arange(n) - start):
            raise ValueError("Log.step must count 0, 1, 2, ... within each episode, rows in step order")
        last = np.r_[first[1:], True]
        ended = self.terminated | self.truncated
        if np.any(ended != last) or np.any(self.terminated & self.truncated):
            raise ValueError("each episode must end (terminated or truncated, not both) at its last row, "
                             "and no other row may be marked")

    def __len__(self) -> int:
        return len(self.episode)

    @property
    def n_actions(self) -> int:
        return self.action_mask.shape[1]

    @property
    def n_episodes(self) -> int:
        return int(self.episode[-1]) + 1 if len(self) else 0

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write the log to ``path`` (``.npz``, no pickle; atomic, like every checkpoint)."""
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        save_arrays(path, "Log", arrays)

    @classmethod
    def load(cls, path) -> "Log":
        """A log written by :meth:`save`; ``ValueError`` naming ``path`` for a file that is not one
        (another kind or version, pickled members, sizes that disagree, an invalid log)."""
        names = tuple(f.name for f in fields(cls))
        with open_checkpoint(path, "Log", names, ()) as ckpt:
            n = ckpt.shape("episode")
            if len(n) != 1:
                raise ValueError(f"{ckpt.where}: 'episode' must be 1-D, got shape {n}")
            for name in ("step", "action", "greedy_action", "episode"):
                ckpt.expect(name, n, "iu")
            for name in ("terminated", "truncated"):
                ckpt.expect(name, n, "b")
            ckpt.expect("reward", n, "f")
            ckpt.expect("behavior_prob", n, "f")
            obs_shape = ckpt.shape("obs")
            if obs_shape[:1] != n:
                raise ValueError(f"{ckpt.where}: 'obs' has shape {obs_shape}, expected {n[0]} rows")
            ckpt.expect("obs", obs_shape, "fiu")
            ckpt.expect("next_obs", obs_shape, "fiu")
            mask_shape = ckpt.shape("action_mask")
            if len(mask_shape) != 2 or mask_shape[:1] != n:
                raise ValueError(f"{ckpt.where}: 'action_mask' has shape {mask_shape}, expected ({n[0]}, n_actions)")
            ckpt.expect("action_mask", mask_shape, "bi")
            ckpt.expect("epsilon", (), "f")
            check_allocation(ckpt, "a log", sum(ckpt.headers[k][1].itemsize * math.prod(ckpt.shape(k))
                                                for k in names))
            arrays = {name: ckpt.read(name) for name in names}
            arrays["epsilon"] = float(arrays["epsilon"])
            try:
                return cls(**arrays)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{ckpt.where} holds an invalid log: {e}") from e

    def to_csv(self, path) -> None:
        """Write one CSV row per step: ``episode, step, action, reward, terminated, truncated,
        greedy_action, behavior_prob, obs_0 ..., next_obs_0 ..., action_mask`` (the mask as a string
        of 0s and 1s, action 0 first). Floats are written in full (``repr``), so they read back equal."""
        obs, next_obs = self.obs.reshape(len(self), -1), self.next_obs.reshape(len(self), -1)
        d = obs.shape[1]
        header = ["episode", "step", "action", "reward", "terminated", "truncated", "greedy_action",
                  "behavior_prob", *(f"obs_{i}" for i in range(d)), *(f"next_obs_{i}" for i in range(d)),
                  "action_mask"]
        with open(os.fspath(path), "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(header)
            masks = ["".join("1" if m else "0" for m in row) for row in self.action_mask.tolist()]
            for i in range(len(self)):
                out.writerow([int(self.episode[i]), int(self.step[i]), int(self.action[i]), repr(float(self.reward[i])),
                              int(self.terminated[i]), int(self.truncated[i]), int(self.greedy_action[i]),
                              repr(float(self.behavior_prob[i])), *obs[i].tolist(), *next_obs[i].tolist(), masks[i]])


# ---------------------------------------------------------------------------------------- collecting
def collect_log(agent, env, episodes: int, seed: int = 0, epsilon: float = 0.0,
                max_episode_steps: int | None = None) -> Log:
    """Run ``episodes`` episodes of ``agent``, ε-greedy over the allowed actions, and log every step.

    At each step the agent's greedy choice ``g = agent.act(obs, explore=False, action_mask=...)``
    is asked first (the mask is passed only when the env's ``info`` has one; without one every
    action is allowed); then with probability ``epsilon`` the logged action is drawn uniformly from
    the allowed ones (possibly ``g`` itself), else it is ``g``. ``behavior_prob`` is
    :func:`epsilon_greedy_prob` of the logged action. Nothing is learned (``observe`` is not called).

    Episode ``i`` resets the env with the ``i``-th seed of ``SeedSequence(seed)``, as ``evaluate``
    does (so with ``epsilon = 0`` the log holds ``evaluate``'s episodes); exploration draws from
    a generator of its own spawned from ``seed``. Episodes are cut after ``max_episode_steps``
    (default as in ``evaluate``) and then marked truncated.

    The trap: an agent that breaks ties at random (an untrained network, ``PopularityAgent`` before
    it has counts) has a random ``g``; ``behavior_prob`` is then the probability *given* the ``g``
    drawn. Importance weights built on it stay unbiased (``g`` is drawn independently of the
    shopper's response), but it is not the marginal probability of the action.
    """
    check_agent(agent)
    check_env("env", env)
    if hasattr(env, "num_envs"):
        raise TypeError(f"collect_log takes a single env, got a vector env of {env.num_envs}")
    space = getattr(env, "action_space", None)
    if type(space).__name__ == "Slate":  # before check_space, whose advice (TransformAction) does not apply
        raise TypeError(f"collect_log logs one action per step from a Discrete(n) action space; logs do not "
                        f"cover slates (pages of products such as SlateShopEnv's), got {type(env).__name__} "
                        f"with {space!r}")
    _, n_actions = check_space("collect_log", env, "action", discrete_only=True)
    episodes = check_int("episodes", episodes, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    epsilon = check_float("epsilon", epsilon, 0.0, 1.0)
    cap = _episode_cap(env, max_episode_steps)
    sequence = np.random.SeedSequence(seed)
    env_seeds = sequence.generate_state(episodes)
    rng = np.random.default_rng(sequence.spawn(1)[0])
    all_allowed = np.ones(n_actions, dtype=bool)
    rows = {name: [] for name in ("episode", "step", "obs", "action", "reward", "next_obs", "terminated",
                                  "truncated", "action_mask", "greedy_action")}
    for i in range(episodes):
        obs, info = reset_env(env, int(env_seeds[i]))
        obs = np.array(obs)  # a copy: some envs hand out one array and change it in place
        t, done = 0, False
        while not done:
            given = action_mask(info)
            mask = all_allowed if given is None else check_mask("info['action_mask']", given, (n_actions,))
            greedy = agent.act(obs, explore=False, **({} if given is None else {"action_mask": given}))
            greedy = check_int("the agent's action", greedy, 0, n_actions - 1)
            if not mask[greedy]:
                raise ValueError(f"the agent chose action {greedy}, which info['action_mask'] forbids "
                                 f"(episode {i}, step {t})")
            action = greedy
            if epsilon > 0 and rng.random() < epsilon:
                allowed = np.flatnonzero(mask)
                action = int(allowed[rng.integers(allowed.size)])
            next_obs, reward, terminated, truncated, info = step_env(env, action)
            next_obs = np.array(next_obs)
            reward = finite_rewards(reward, (), t + 1)
            terminated, truncated = bool(terminated), bool(truncated)
            truncated = (truncated or t + 1 >= cap) and not terminated
            for name, value in (("episode", i), ("step", t), ("obs", obs), ("action", action),
                                ("reward", reward), ("next_obs", next_obs), ("terminated", terminated),
                                ("truncated", truncated), ("action_mask", mask), ("greedy_action", greedy)):
                rows[name].append(value)
            obs, t, done = next_obs, t + 1, terminated or truncated
    arrays = {name: np.array(values) for name, values in rows.items()}
    arrays["action_mask"] = arrays["action_mask"].astype(bool)
    arrays["behavior_prob"] = epsilon_greedy_prob(arrays["action"], arrays["greedy_action"],
                                                  arrays["action_mask"], epsilon)
    return Log(**arrays, epsilon=epsilon)


# ---------------------------------------------------------------------------------------- bandit CSVs
BANDIT_COLUMNS = ("item_id", "position", "click", "propensity_score")  # read_bandit_csv's defaults


def read_bandit_csv(path, required=BANDIT_COLUMNS) -> dict:
    """A logged-bandit CSV in the Open Bandit Dataset layout → ``{column name: (n,) array}``.

    The layout: a header row; a leading unnamed column (pandas' row index, dropped here);
    columns such as ``timestamp, item_id, position, click, propensity_score, user_feature_*,
    user-item_affinity_*``. A column whose every value is an integer becomes an int64 array, one
    whose every value is a number a float64 array, any other (hashed features, timestamps) a
    string array. ``required`` columns must be there; ``item_id``, ``position`` and ``click``, when
    present, must be integers, and ``propensity_score`` numbers in (0, 1]. Every refusal is a
    ``ValueError`` naming the file (and the line or column at fault).
    """
    where = repr(os.fspath(path))
    with open(os.fspath(path), newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{where} is empty; expected a header row")
        values = [[] for _ in header]
        for row in reader:
            if not row:  # a blank line, as pandas skips
                continue
            if len(row) != len(header):
                raise ValueError(f"{where} line {reader.line_num} has {len(row)} fields, the header has {len(header)}")
            for column, value in zip(values, row):
                column.append(value)
    names = list(header)
    if names and names[0] == "":  # pandas' index column
        names, values = names[1:], values[1:]
    if "" in names or len(set(names)) != len(names):
        raise ValueError(f"{where}: every column but the first needs a distinct name, got {names}")
    missing = [name for name in required if name not in names]
    if missing:
        raise ValueError(f"{where} lacks the columns {missing} (it has {names})")
    if not values or not values[0]:
        raise ValueError(f"{where} has a header but no data rows")
    data = {name: _parse_column(column) for name, column in zip(names, values)}
    for name in ("item_id", "position", "click"):
        if name in data and data[name].dtype != np.int64:
            raise ValueError(f"{where}: column {name!r} must hold integers, got {data[name][:3].tolist()}...")
    if "propensity_score" in data:
        p = data["propensity_score"]
        if p.dtype.kind not in "if":
            bad = next(v for v in p.tolist() if _parse_column([v]).dtype.kind not in "if")
            raise ValueError(f"{where}: column 'propensity_score' must hold numbers, got {bad!r}")
        outside = ~((p > 0) & (p <= 1))  # NaN is outside too
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise ValueError(f"{where}: propensity_score must be in (0, 1], got {p[row]} in data row {row + 1}")
        data["propensity_score"] = p.astype(np.float64)
    return data


def _parse_column(column: list) -> np.ndarray:
    """int64 if every string is an integer (that fits), float64 if every one is a number, else str."""
    try:
        return np.array([int(v) for v in column], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return np.array([float(v) for v in column], dtype=np.float64)
    except ValueError:
        return np.array(column, dtype=str)

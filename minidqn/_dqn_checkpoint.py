"""Saving and loading a ``DQNAgent``: what its checkpoint holds and how a file is checked.

A checkpoint holds ``meta`` (JSON: sizes, counts, hyperparameters, the generator's state and the
user's metadata), the online network (``online.*``: an ``MLP``'s, or with ``dueling`` a
``DuelingQNet``'s, under the same keys), the target parameters, Adam's state (``adam.*``) and,
optionally, the replay buffer (``buffer.*``, with per-transition discounts, and the masks of ``obs``
for a dueling or CQL agent) and, with n-step returns, the transitions still waiting in their windows
(``nstep.*``). Loading
checks, in this order and before allocating anything: the members and their headers
(``_checkpoint.open_checkpoint``), the JSON's types and counts against the saved
hyperparameters, the overrides as arguments, the network, buffer and window sizes against the
stored arrays' header shapes, and the memory all of it needs against ``_checkpoint.MAX_BYTES``.
The agent itself lives in ``dqn.py``.
"""
from __future__ import annotations

import json

import numpy as np

from ._checkpoint import (check_allocation, check_metadata, generator_from_json, generator_to_json,
                          open_checkpoint, read_json, save_arrays)
from ._validate import check_array, check_float, check_int
from .dqn_config import DQNConfig, config_from_json, config_to_json
from .dueling import DuelingQNet
from .mlp import STATE_KEYS as MLP_STATE_KEYS, count_params
from .optim import Adam
from .nstep import NStepWindows
from .replay import ReplayBuffer

_FILE_KEYS = ("meta", *(f"online.{k}" for k in MLP_STATE_KEYS), "target.params",
              *(f"adam.{k}" for k in Adam.STATE_KEYS))
_BUFFER_KEYS = tuple(f"buffer.{k}" for k in ReplayBuffer.STATE_KEYS)
_NSTEP_KEYS = tuple(f"nstep.{k}" for k in NStepWindows.STATE_KEYS)
_FIXED = ("hidden", "activation", "dtype", "reward_scale", "dueling")  # define the saved network


def save_dqn(agent, path, include_buffer: bool, metadata) -> None:
    """``DQNAgent.save``."""
    metadata = check_metadata(metadata)
    try:
        meta = json.dumps({
            "obs_dim": agent.obs_dim, "n_actions": agent.n_actions, "one_hot": agent.one_hot,
            "steps": agent.steps, "updates": agent.updates, "since_train": agent._since_train,
            "reward_scale": agent._reward_scale,
            "config": config_to_json(agent.config), "rng_state": generator_to_json(agent.rng),
            "metadata": metadata})
    except TypeError as e:
        raise TypeError(f"cannot save: hyperparameters are not JSON-able ({e})") from e
    arrays = {"meta": np.array(meta)}
    arrays.update({f"online.{k}": v for k, v in agent.online.state_dict().items()})
    arrays["target.params"] = agent.target.params
    arrays.update({f"adam.{k}": v for k, v in agent.optimizer.state_dict().items()})
    if include_buffer:
        arrays.update({f"buffer.{k}": v for k, v in agent.buffer.state_dict().items()})
        if agent.nstep is not None:
            arrays.update({f"nstep.{k}": v for k, v in agent.nstep.state_dict().items()})
    save_arrays(path, "DQNAgent", arrays)


def load_dqn(cls, path, overrides: dict):
    """``DQNAgent.load``: an instance of ``cls`` rebuilt from ``path``."""
    fixed = sorted(k for k in overrides if k in _FIXED)
    if fixed:
        raise TypeError(f"DQNAgent.load(): {fixed} cannot be overridden: they define the saved network")
    if "seed" in overrides:
        raise TypeError("DQNAgent.load() takes no seed: a loaded agent continues the random state it "
                        "saved (exploration and replay sampling); build a new DQNAgent for a fresh seed")
    optional = _BUFFER_KEYS + ("buffer.next_action_mask", "buffer.discounts", "buffer.action_mask") + _NSTEP_KEYS \
        + ("nstep.action_mask",)
    with open_checkpoint(path, "DQNAgent", _FILE_KEYS, optional) as ckpt:
        where = ckpt.where
        meta = read_json(ckpt, "meta")
        try:
            if not isinstance(meta, dict):
                raise TypeError(f"meta must be a JSON object, got {type(meta).__name__}")
            obs_dim = check_int("obs_dim", meta["obs_dim"], minimum=1)
            n_actions = check_int("n_actions", meta["n_actions"], minimum=1)
            one_hot = meta["one_hot"]
            if not isinstance(one_hot, bool):
                raise TypeError(f"one_hot must be true or false, got {one_hot!r}")
            stored = meta["config"]
            saved = config_from_json(stored, 0.0 if isinstance(stored, dict) and stored.get("epsilon") == "callable"
                                     else None)
            file_config = DQNConfig(**saved)  # the file's own hyperparameters must be valid
            counts = {k: check_int(k, meta[k], minimum=0, maximum=2**62) for k in ("steps", "updates", "since_train")}
            # observe() leaves since_train below train_freq: a larger one would run that many updates
            check_int("since_train", counts["since_train"], maximum=min(file_config.train_freq - 1, counts["steps"]))
            scale = meta["reward_scale"]
            scale = None if scale is None else check_float("reward_scale", scale, low=0.0, low_open=True)
            metadata = meta.get("metadata", {})
            if not isinstance(metadata, dict):
                raise TypeError(f"metadata must be a JSON object, got {type(metadata).__name__}")
            rng = generator_from_json(meta["rng_state"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{where} holds an unusable DQN description: {type(e).__name__}: {e}") from e
        if stored.get("epsilon") == "callable" and "epsilon" not in overrides:
            raise ValueError(f"the saved agent used a custom callable epsilon; pass epsilon=... to "
                             f"DQNAgent.load({where})")
        try:
            config = DQNConfig(**{**saved, **overrides})
        except (TypeError, ValueError) as e:
            raise type(e)(f"DQNAgent.load(): bad override {overrides}: {e}") from e

        has_buffer = _check_sizes(ckpt, obs_dim, n_actions, config, file_config, overrides)

        agent = cls(obs_dim, n_actions, one_hot=one_hot, **{**saved, **overrides})
        online = type(agent.online).from_checkpoint(ckpt, "online.")  # MLP or DuelingQNet
        if (online.sizes, online.activation, online.dtype) != (agent.online.sizes, agent.online.activation,
                                                                agent.online.dtype):
            raise ValueError(f"{where}: saved network {online} disagrees with its hyperparameters")
        target = check_array(f"target.params in {where}", ckpt.read("target.params"))
        try:
            agent.optimizer.load_state_dict({k: ckpt.read(f"adam.{k}") for k in Adam.STATE_KEYS})
            if agent.optimizer.t != counts["updates"]:
                raise ValueError(f"Adam has taken {agent.optimizer.t} steps but the agent counts "
                                 f"{counts['updates']} updates")
            if has_buffer:
                state = {name[len("buffer."):]: ckpt.read(name) for name in ckpt.headers if name.startswith("buffer.")}
                if file_config.n_steps == 1:  # every discount is the file's gamma: a gamma override wins, as it did
                    state.pop("discounts", None)
                agent.buffer.load_state_dict(state)
                if agent.nstep is not None and "nstep.count" in ckpt:
                    agent.nstep.load_state_dict({k: ckpt.read(f"nstep.{k}") for k in (*NStepWindows.STATE_KEYS,
                                                 "action_mask") if f"nstep.{k}" in ckpt})
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"{where}: {e}") from e
    agent.rng = rng
    agent.optimizer.lr = agent.config.lr  # an lr override wins over the saved one
    agent.online.params[:], agent.target.params[:] = online.params, target
    agent.steps, agent._since_train = counts["steps"], counts["since_train"]  # updates: Adam's t, checked above
    agent.metadata = metadata
    agent._reward_scale = scale
    return agent


def _check_sizes(ckpt, obs_dim: int, n_actions: int, config, file_config, overrides: dict) -> bool:
    """Check the networks' and buffer's sizes against the stored arrays' headers, and the memory
    they need against the ceiling, before anything is allocated; True if a buffer is stored."""
    where = ckpt.where
    n_params = (DuelingQNet.count_params if config.dueling else count_params)([obs_dim, *config.hidden, n_actions],
                                                                               where)
    for name in ("online.params", "target.params", "adam.m", "adam.v"):
        ckpt.expect(name, (n_params,), "f")
    has_buffer = any(name in ckpt for name in _BUFFER_KEYS)
    capacity = config.buffer_size
    if has_buffer:
        missing = [name for name in _BUFFER_KEYS if name not in ckpt]
        if missing:
            raise ValueError(f"{where} holds part of a replay buffer: {missing} are missing")
        stored_capacity = int(ckpt.read_scalar("buffer.capacity", "iu"))
        size = int(ckpt.read_scalar("buffer.size", "iu"))
        if "buffer_size" in overrides and config.buffer_size != stored_capacity:
            raise ValueError(f"DQNAgent.load(): buffer_size={config.buffer_size} does not fit the replay "
                             f"buffer of capacity {stored_capacity} that {where} holds")
        if stored_capacity != file_config.buffer_size or not 0 <= size <= stored_capacity:
            raise ValueError(f"{where}: replay buffer capacity {stored_capacity} and size {size} "
                             f"disagree with buffer_size={file_config.buffer_size}")
        for name, shape, kinds in (("obs", (size, obs_dim), "f"), ("next_obs", (size, obs_dim), "f"),
                                   ("actions", (size,), "iu"), ("rewards", (size,), "f"),
                                   ("terminated", (size,), "b"), ("next_action_mask", (size, n_actions), "b"),
                                   ("discounts", (size,), "f"), ("action_mask", (size, n_actions), "b")):
            if f"buffer.{name}" in ckpt:
                ckpt.expect(f"buffer.{name}", shape, kinds)
        if config.keeps_obs_mask != file_config.keeps_obs_mask:
            raise ValueError(f"DQNAgent.load(): {overrides} change whether the replay keeps the masks of s (dueling "
                             f"or cql_alpha > 0), but {where} holds a replay buffer stored "
                             f"{'with' if file_config.keeps_obs_mask else 'without'} them")
        if file_config.n_steps > 1 and any(k in overrides and overrides[k] != getattr(file_config, k)
                                           for k in ("gamma", "n_steps")):
            raise ValueError(f"DQNAgent.load(): gamma and n_steps cannot be overridden when {where} holds a "
                             f"replay buffer of {file_config.n_steps}-step returns: they are summed with "
                             f"gamma={file_config.gamma}")
    windows = [name for name in _NSTEP_KEYS if name in ckpt]
    if windows and (len(windows) < len(_NSTEP_KEYS) or not has_buffer or file_config.n_steps == 1):
        raise ValueError(f"{where} holds n-step windows {windows} without all of them, a replay buffer and "
                         f"n_steps > 1 (n_steps={file_config.n_steps})")
    copies = 0
    if windows:
        shape, _ = ckpt.headers["nstep.count"]
        copies = shape[0] if len(shape) == 1 else -1  # -1: refused by expect below, naming the shape
        for name, shape, kinds in (("count", (copies,), "iu"), ("obs", (copies, config.n_steps, obs_dim), "f"),
                                   ("actions", (copies, config.n_steps), "iu"),
                                   ("rewards", (copies, config.n_steps), "f"),
                                   ("action_mask", (copies, config.n_steps, n_actions), "b")):
            if f"nstep.{name}" in ckpt:  # all but action_mask are there (checked above)
                ckpt.expect(f"nstep.{name}", shape, kinds)
    itemsize = np.dtype(config.dtype).itemsize
    masks = n_actions if config.keeps_obs_mask else 0  # a dueling or CQL agent keeps the mask of obs too
    per_transition = 2 * obs_dim * itemsize + 8 + 8 + 1 + n_actions + masks + itemsize
    per_window = config.n_steps * (obs_dim * itemsize + 8 + 8 + masks) + 8
    check_allocation(ckpt, f"{n_params} parameters and a replay buffer of {capacity} transitions",
                     8 * n_params * itemsize + capacity * per_transition + copies * per_window,
                     "" if has_buffer else "pass a smaller buffer_size= to DQNAgent.load()")
    return has_buffer


def restore_dqn(agent, snapshot) -> None:
    """``DQNAgent.restore``: check a ``snapshot()`` against ``agent``, then put its parameters back."""
    if not isinstance(snapshot, dict) or set(snapshot) != {"online", "target", "reward_scale"}:
        raise TypeError(f"snapshot must be a dict from DQNAgent.snapshot(), got {type(snapshot).__name__}"
                        + (f" with keys {sorted(snapshot)}" if isinstance(snapshot, dict) else ""))
    shape = agent.online.params.shape
    online = check_array("snapshot['online']", snapshot["online"], shape=shape)
    target = check_array("snapshot['target']", snapshot["target"], shape=shape)
    scale = snapshot["reward_scale"]
    if scale is not None:
        scale = check_float("snapshot['reward_scale']", scale, low=0.0, low_open=True)
    agent.online.params[:], agent.target.params[:] = online, target
    agent._reward_scale = scale

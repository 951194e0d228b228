"""Saving and loading an ``ItemDQNAgent`` through ``_checkpoint``'s ``.npz`` files (no pickle).

A file holds ``meta`` (JSON: sizes, architecture, counts, hyperparameters, generator state, the
user's metadata), the catalogue ``items``, the flat ``online.params`` and ``target.params``,
Adam's state and, optionally, the replay (``buffer.*``, with the shown products' features) and
open n-step windows (``nstep.*``). Loading checks the members and headers, the JSON, the
parameter count the sizes imply and the memory they need before it allocates anything. The agent
lives in ``item_dqn.py``; the ``DQNAgent`` format is ``_dqn_checkpoint.py``'s.
"""
from __future__ import annotations

import json

import numpy as np

from ._checkpoint import (check_allocation, check_metadata, generator_from_json, generator_to_json,
                          open_checkpoint, read_json, save_arrays)
from ._validate import check_float, check_int
from .dqn_config import DQNConfig, config_from_json, config_to_json
from .item_networks import NETWORKS
from .nstep import NStepWindows
from .optim import Adam

KIND = "ItemDQNAgent"
_REQUIRED = ("meta", "items", "online.params", "target.params", *(f"adam.{k}" for k in Adam.STATE_KEYS))
_SIZES = ("obs_dim", "d_item", "n_items", "embed_dim")
# what the saved parameters were made for: no override may change them
_FIXED = ("hidden", "activation", "dtype", "reward_scale", "seed", "embed_dim", "architecture")


def save_item_dqn(agent, path, include_buffer: bool, metadata) -> None:
    """``ItemDQNAgent.save``."""
    meta = {"obs_dim": agent.obs_dim, "d_item": agent.d_item, "n_items": agent.n_actions,
            "embed_dim": agent.embed_dim, "architecture": agent.architecture, "one_hot": agent.one_hot,
            "item_noise": agent.item_noise,
            "steps": agent.steps, "since_train": agent._since_train, "reward_scale": agent._reward_scale,
            "config": config_to_json(agent.config), "rng_state": generator_to_json(agent.rng),
            "metadata": check_metadata(metadata)}
    try:
        arrays = {"meta": np.array(json.dumps(meta))}
    except TypeError as e:
        raise TypeError(f"cannot save: hyperparameters are not JSON-able ({e})") from e
    arrays.update({"items": agent.items, "online.params": agent.online.params, "target.params": agent.target.params})
    arrays.update({f"adam.{k}": v for k, v in agent.optimizer.state_dict().items()})
    if include_buffer:
        arrays.update({f"buffer.{k}": v for k, v in agent.buffer.state_dict().items()})
        if agent.nstep is not None:
            arrays.update({f"nstep.{k}": v for k, v in agent.nstep.state_dict().items()})
    save_arrays(path, KIND, arrays)


def load_item_dqn(cls, path, overrides: dict):
    """``ItemDQNAgent.load``: an instance of ``cls`` rebuilt from ``path``."""
    overrides = dict(overrides)
    noise_override = overrides.pop("item_noise", None)  # the agent's own setting, not DQNConfig's
    fixed = sorted(set(overrides) & set(_FIXED))
    if fixed:
        raise TypeError(f"{KIND}.load(): {fixed} cannot be overridden: they define the saved agent and its "
                        f"random state")
    buffer_keys = tuple(f"buffer.{k}" for k in cls.REPLAY_KEYS) + ("buffer.next_action_mask", "buffer.discounts")
    optional = buffer_keys + tuple(f"nstep.{k}" for k in NStepWindows.STATE_KEYS)
    with open_checkpoint(path, KIND, _REQUIRED, optional) as ckpt:
        where = ckpt.where
        try:
            meta = read_json(ckpt, "meta")
            sizes = {k: check_int(k, meta[k], minimum=1, maximum=2**40) for k in _SIZES}
            counts = {k: check_int(k, meta[k], minimum=0, maximum=2**62) for k in ("steps", "since_train")}
            arch, one_hot = meta["architecture"], meta["one_hot"]
            if arch not in NETWORKS or not isinstance(one_hot, bool):
                raise ValueError(f"architecture {arch!r} or one_hot {one_hot!r} is not one an agent can have")
            saved = config_from_json(meta["config"], 0.0 if meta["config"].get("epsilon") == "callable" else None)
            train_freq = DQNConfig(**saved).train_freq  # the file's own hyperparameters must be valid
            # observe() leaves since_train below train_freq: a larger one would run that many updates
            check_int("since_train", counts["since_train"], maximum=min(train_freq - 1, counts["steps"]))
            scale = meta["reward_scale"]
            scale = None if scale is None else check_float("reward_scale", scale, low=0.0, low_open=True)
            rng = generator_from_json(meta["rng_state"])
            metadata = check_metadata(meta.get("metadata", {}))
            # files from before item_noise existed were trained without it
            item_noise = check_float("item_noise", meta.get("item_noise", 0.0), 0.0, 10.0) \
                if noise_override is None else noise_override
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{where} holds an unusable {KIND} description: {type(e).__name__}: {e}") from e
        if meta["config"].get("epsilon") == "callable" and "epsilon" not in overrides:
            raise ValueError(f"the saved agent used a custom callable epsilon; pass epsilon=... to "
                             f"{KIND}.load({where})")
        config = DQNConfig(**{**saved, **overrides})
        n_params = NETWORKS[arch].count(sizes["obs_dim"], sizes["d_item"], config.hidden, sizes["embed_dim"], where)
        for name in ("online.params", "target.params", "adam.m", "adam.v"):
            ckpt.expect(name, (n_params,), "f")
        ckpt.expect("items", (sizes["n_items"], sizes["d_item"]), "f")
        has_buffer = "buffer.size" in ckpt
        itemsize = np.dtype(config.dtype).itemsize
        per_transition = (2 * sizes["obs_dim"] + sizes["d_item"] + 1) * itemsize + 17 + sizes["n_items"]
        check_allocation(ckpt, f"{n_params} parameters and a replay of {config.buffer_size} transitions",
                         4 * n_params * itemsize + config.buffer_size * per_transition)
        agent = cls(sizes["obs_dim"], ckpt.read("items"), embed_dim=sizes["embed_dim"], architecture=arch,
                    one_hot=one_hot, item_noise=item_noise, **{**saved, **overrides})
        try:
            agent.online.params[:] = ckpt.read("online.params")
            agent.target.params[:] = ckpt.read("target.params")
            agent.optimizer.load_state_dict({k: ckpt.read(f"adam.{k}") for k in Adam.STATE_KEYS})
            if has_buffer:
                agent.buffer.load_state_dict({name[len("buffer."):]: ckpt.read(name)
                                              for name in ckpt.headers if name.startswith("buffer.")})
                if agent.nstep is not None and "nstep.count" in ckpt:
                    agent.nstep.load_state_dict({k: ckpt.read(f"nstep.{k}") for k in NStepWindows.STATE_KEYS})
            if not (np.isfinite(agent.online.params).all() and np.isfinite(agent.target.params).all()):
                raise ValueError("the network parameters are not all finite")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{where}: {e}") from e
    agent.rng = rng
    agent.optimizer.lr = agent.config.lr  # an lr override wins over the saved one
    agent.steps, agent._since_train = counts["steps"], counts["since_train"]
    agent.metadata, agent._reward_scale = metadata, scale
    return agent

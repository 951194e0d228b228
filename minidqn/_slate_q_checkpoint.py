"""Writing and reading ``SlateQAgent`` checkpoints: ``.npz`` through ``_checkpoint``, no pickle.

A file holds the config (JSON; ε as ``schedules.schedule_to_json`` stores it), the products'
features, both ``Q_bar`` networks (``MLP.state_dict`` under ``online_``/``target_``), the choice
model's parameters, both Adam states, the step and update counts, the reward scale and the agent's
generator. Sizes declared by the file are checked against the stored arrays' headers before
anything is built. The replay is not saved. Not covered: the agent itself (``slate_q.py``).
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from ._checkpoint import (check_metadata, generator_from_json, generator_to_json, open_checkpoint, read_json,
                          save_arrays)
from .mlp import STATE_KEYS as MLP_KEYS
from .mlp import MLP
from .optim import Adam
from .schedules import schedule_from_json, schedule_to_json

KIND = "SlateQAgent"
ADAM_KEYS = Adam.STATE_KEYS
REQUIRED = ("config", "meta", "rng", "item_features", "choice_params", "counts", "reward_scale",
            *(f"{net}_{k}" for net in ("online", "target") for k in MLP_KEYS),
            *(f"{opt}_{k}" for opt in ("opt", "choice_opt") for k in ADAM_KEYS))
NETWORK_FIELDS = ("hidden", "dtype")   # define the network: a load cannot override them


def save_slate_q(agent, path, metadata=None) -> None:
    cfg = dataclasses.asdict(agent.config)
    cfg.update(hidden=list(agent.config.hidden), dtype=np.dtype(agent.config.dtype).name,
               epsilon=schedule_to_json(agent.config.epsilon),
               seed=agent.config.seed if isinstance(agent.config.seed, int) else None)
    arrays = {"config": np.array(json.dumps(cfg)),
              "meta": np.array(json.dumps({"obs_dim": agent.obs_dim, "slate_size": agent.slate_size,
                                           "one_hot": agent.one_hot, "clicked_in_obs": agent.clicked_in_obs, "user": check_metadata(metadata)})),
              "rng": np.array(json.dumps(generator_to_json(agent.rng))),
              "item_features": agent.choice.Y[:, 1:], "choice_params": agent.choice.params,
              "counts": np.array([agent.steps, agent.updates], np.int64),
              "reward_scale": np.array(np.nan if agent.reward_scale is None else agent.reward_scale)}
    for net in ("online", "target"):
        arrays.update({f"{net}_{k}": v for k, v in getattr(agent, net).state_dict().items()})
    arrays.update({f"opt_{k}": v for k, v in agent.opt.state_dict().items()})
    arrays.update({f"choice_opt_{k}": v for k, v in agent.choice.opt.state_dict().items()})
    save_arrays(path, KIND, arrays)


def load_slate_q(cls, path, overrides: dict):
    if "seed" in overrides:
        raise TypeError("SlateQAgent.load() takes no seed: a loaded agent continues the random state it "
                        "saved (exploration and replay sampling); build a new SlateQAgent for a fresh seed")
    with open_checkpoint(path, KIND, required=REQUIRED) as ckpt:
        cfg, meta = read_json(ckpt, "config"), read_json(ckpt, "meta")
        try:
            fixed = sorted(set(overrides) & set(NETWORK_FIELDS))
            if fixed:
                raise ValueError(f"cannot override {fixed}: they define the saved network")
            cfg = {**cfg, "hidden": tuple(cfg["hidden"]),
                   "epsilon": schedule_from_json(cfg["epsilon"], "epsilon", overrides.pop("epsilon", None))}
            cfg.update(overrides)
            obs_dim, k, one_hot = int(meta["obs_dim"]), int(meta["slate_size"]), bool(meta["one_hot"])
            in_obs = bool(meta.get("clicked_in_obs", not one_hot))  # files before it: read obs unless one-hot
            items = ckpt.read("item_features")
            agent = cls(obs_dim, items, k, one_hot=one_hot, clicked_in_obs=in_obs, **cfg)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{ckpt.where} does not describe a SlateQAgent: {e}") from e
        ckpt.expect("choice_params", agent.choice.params.shape)
        for net in ("online", "target"):
            loaded = MLP.from_checkpoint(ckpt, prefix=f"{net}_")
            if loaded.sizes != getattr(agent, net).sizes:
                raise ValueError(f"{ckpt.where}: {net} network has sizes {loaded.sizes}, the config needs "
                                 f"{getattr(agent, net).sizes}")
            getattr(agent, net).params[:] = loaded.params
        agent.choice.params[:] = ckpt.read("choice_params")
        for opt, prefix in ((agent.opt, "opt_"), (agent.choice.opt, "choice_opt_")):
            opt.load_state_dict({k: ckpt.read(prefix + k) for k in ADAM_KEYS})
        counts = ckpt.read("counts")
        if counts.shape != (2,) or counts.dtype.kind not in "iu" or np.any(counts < 0):
            raise ValueError(f"{ckpt.where}: counts must be 2 non-negative integers, got {counts!r}")
        agent.steps, agent.updates = (int(n) for n in counts)
        scale = float(ckpt.read_scalar("reward_scale", "f"))
        agent.reward_scale = None if np.isnan(scale) else scale
        agent.rng = generator_from_json(read_json(ckpt, "rng"))
        agent.metadata = meta.get("user")
        agent.buffer.rng = agent.rng
        if not np.all(np.isfinite(agent.choice.params)):
            raise ValueError(f"{ckpt.where}: the choice model's parameters are not finite")
    return agent

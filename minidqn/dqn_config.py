"""The DQN agent's hyperparameters: one typed dataclass, one documented line per field.

``DQNAgent(**fields)`` overrides any of them. The defaults are one set for every problem of
this library, chosen by an ablation over seeds (``benchmarks/ablation.py``; README, "Defaults"):
the feature shop, the tabular shop with one-hot states, dynamic pricing and Gymnasium's
CartPole-v1. What they changed, and why:

* ``lr=5e-4`` with ``train_freq=4`` (one update per four transitions, as in Stable-Baselines3)
  and soft target updates ``tau=0.01``, where the first defaults had ``1e-3``, an update every
  transition and a hard copy every 500 updates. On the feature shop, whose 100 products differ
  little in value, the faster settings let the max over noisy estimates feed on itself: the
  learned value of a fresh visit climbed to 450 times its true value in 100,000 steps and the
  agent earned a third less than the myopic oracle. The slower ones keep it near the truth, and train four times
  faster per step.
* ``gamma=0.95``: a horizon of about twenty recommendations, longer than a shop visit. It was
  0.99; with the settings above 0.99 still learns the feature shop, but the tabular shop's DQN
  fell to 81 % of the optimum on some seeds, where 0.95 loses at most 0.24 % of the undiscounted
  optimum (exact, by value iteration) and learns more steadily.
* ``lr_end_factor=0.1``: over a ``train()`` run the learning rate falls linearly to a tenth (a
  decaying step, as stochastic approximation prescribes, though its convergence conditions want
  a decay to zero; a tenth keeps the last updates useful). With a constant step the last
  updates move Q as much as the first, and where several actions are worth nearly the same that
  noise picks the wrong one: over 10 seeds it lifted the tabular shop's DQN from 96.1 % to 98.9 %
  of the optimum (median), pricing from 96.7 % to 98.4 % and the feature shop's lift over the
  myopic oracle from 23 % to 33 %; it cost CartPole-v1 (median greedy return 289 to 214 at
  50,000 steps), which keeps improving to the last step.

Control tasks want a faster learner than the shops tolerate: ``control_task_settings()`` (an
update every two transitions, 3-step returns, a 128-128 network, ``gamma=0.99``) takes CartPole-v1
from 214 to 488 at 50,000 steps and solves Acrobot-v1, but keeps less than half of the feature
shop's lift over the oracle (10 seeds each; README, "Defaults").
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ._validate import as_generator, check_float, check_int
from .schedules import LinearSchedule, schedule_from_json, schedule_to_json


DEFAULT_TAU = 0.01


@dataclasses.dataclass
class DQNConfig:
    hidden: tuple = (64, 64)         # widths of the hidden layers of the Q-network
    activation: str = "relu"         # hidden activation: "relu" or "tanh"
    lr: float = 5e-4                 # Adam's learning rate (at the start of a train() run)
    lr_end_factor: float = 0.1       # over a train() run lr falls linearly to lr * lr_end_factor (as in
                                     # PyTorch's LinearLR); 1.0 keeps it constant. Outside a run it is lr
    gamma: float = 0.95              # discount factor in [0, 1]
    n_steps: int = 1                 # bootstrap after n rewards: R = sum_k gamma^k r_{t+k}, then gamma^n Q(s_{t+n})
    batch_size: int = 64             # transitions per update
    buffer_size: int = 50_000        # replay capacity (oldest overwritten)
    learning_starts: int = 1_000     # transitions observed before the first update
    train_freq: int = 4              # transitions observed per round of updates
    gradient_steps: int = 1          # updates per round
    tau: float | None = DEFAULT_TAU  # Polyak rate: target <- tau*online + (1-tau)*target every update
    target_update: int | None = None  # given: hard copies online -> target every target_update gradient
                                     # updates (not env steps, unlike Stable-Baselines3's
                                     # target_update_interval) instead of Polyak averaging (tau is then None)
    double: bool = True              # Double DQN: online net picks argmax a', target net evaluates it
    dueling: bool = False            # dueling head: Q = V(s) + A(s, a) - mean of A over allowed a (dueling.py)
    loss: str = "huber"              # "huber" (delta 1, PyTorch's smooth L1) or "mse"
    cql_alpha: float = 0.0           # conservative Q-learning (offline.py): adds alpha * mean over the batch of
                                     # logsumexp_a Q(s, a) - Q(s, a_logged), a over the actions s allows, with Q
                                     # in the network's (reward-scaled) units like the TD loss; 0: off
    max_grad_norm: float | None = 10.0  # clip the global gradient L2 norm (None: no clipping)
    epsilon: float | Callable = dataclasses.field(  # exploration rate, or a schedule of env steps
        default_factory=lambda: LinearSchedule(1.0, 0.05, 10_000))
    reward_scale: float | None = None  # rewards are multiplied by this when learning (Q is reported in
                                     # reward units); None: 1 / max |reward| stored at the first update
                                     # that sees a non-zero reward, then fixed. With Adam, 1/M makes each
                                     # update move Q about M times further in reward units (README)
    seed: int | np.random.Generator | None = 0  # seeds networks, replay sampling and exploration
    dtype: type = np.float32         # float32, or float64 for exact checks

    def __post_init__(self):
        if isinstance(self.hidden, (int, np.integer)):
            self.hidden = (self.hidden,)
        self.hidden = tuple(check_int("hidden entry", h, minimum=1) for h in self.hidden)
        if self.activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be 'relu' or 'tanh', got {self.activation!r}")
        self.lr = check_float("lr", self.lr, low=0.0, low_open=True)
        self.lr_end_factor = check_float("lr_end_factor", self.lr_end_factor, 0.0, 1.0, low_open=True)
        self.gamma = check_float("gamma", self.gamma, 0.0, 1.0)
        self.n_steps = check_int("n_steps", self.n_steps, minimum=1)
        self.batch_size = check_int("batch_size", self.batch_size, minimum=1)
        self.buffer_size = check_int("buffer_size", self.buffer_size, minimum=1)
        if self.batch_size > self.buffer_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be <= buffer_size ({self.buffer_size})")
        self.learning_starts = check_int("learning_starts", self.learning_starts, minimum=0)
        self.train_freq = check_int("train_freq", self.train_freq, minimum=1)
        self.gradient_steps = check_int("gradient_steps", self.gradient_steps, minimum=1)
        # One way for the target to follow: a given target_update means hard copies (tau None).
        if self.target_update is not None:
            self.target_update = check_int("target_update", self.target_update, minimum=1)
            if self.tau is not None and self.tau != DEFAULT_TAU:
                raise ValueError(f"give tau ({self.tau}, Polyak averaging) or target_update ({self.target_update}, "
                                 "hard copies), not both")
            self.tau = None
        elif self.tau is None:
            raise ValueError("tau=None (no Polyak averaging) needs target_update, the updates between hard copies")
        else:
            self.tau = check_float("tau", self.tau, 0.0, 1.0, low_open=True)
        if not isinstance(self.double, (bool, np.bool_)):
            raise TypeError(f"double must be a bool, got {self.double!r}")
        self.double = bool(self.double)
        if not isinstance(self.dueling, (bool, np.bool_)):
            raise TypeError(f"dueling must be a bool, got {self.dueling!r}")
        self.dueling = bool(self.dueling)
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {self.loss!r}")
        self.cql_alpha = check_float("cql_alpha", self.cql_alpha, low=0.0)
        if self.max_grad_norm is not None:
            self.max_grad_norm = check_float("max_grad_norm", self.max_grad_norm, low=0.0, low_open=True)
        if isinstance(self.epsilon, LinearSchedule):
            check_float("epsilon start", self.epsilon.start, 0.0, 1.0)
            check_float("epsilon end", self.epsilon.end, 0.0, 1.0)
        elif callable(self.epsilon):
            check_float("epsilon(0)", self.epsilon(0), 0.0, 1.0)
        else:
            self.epsilon = check_float("epsilon", self.epsilon, 0.0, 1.0)
        if self.reward_scale is not None:
            self.reward_scale = check_float("reward_scale", self.reward_scale, low=0.0, low_open=True)
        as_generator(self.seed, "seed")  # type check only
        if not isinstance(self.seed, np.random.Generator) and self.seed is not None:
            self.seed = int(self.seed)  # np.int64 would not survive a JSON checkpoint
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype!r}")
        self.dtype = np.dtype(self.dtype).type

    @property
    def keeps_obs_mask(self) -> bool:
        """Whether the replay keeps the action mask of ``s``: a dueling mean and CQL's logsumexp
        run over the actions ``s`` allows."""
        return self.dueling or self.cql_alpha > 0


def control_task_settings() -> dict:
    """``DQNConfig`` fields for control tasks such as Gymnasium's CartPole-v1, Acrobot-v1 and
    MountainCar-v0: ``DQNAgent.for_env(env, seed=0, **control_task_settings())``.

    Over 10 seeds at 50,000 steps with ``keep_best`` (``benchmarks/seeds.py --dqn``), median greedy
    return (min - max), these against the defaults: CartPole 488 (366 - 500) against 214;
    Acrobot -83 (-92 - -75) against -163; MountainCar -125 (-142 - -113) against -200 on 7 seeds
    of 10. No single field we changed did it on CartPole; gamma 0.95 in place of 0.99 does as well
    there but not on Acrobot (-134) or MountainCar (-200 on 5 seeds of 10). They are not the
    defaults because on the feature shop they earn 1.13 times the myopic oracle's revenue (2 seeds
    of 10 below it) where the defaults earn 1.33 times."""
    return dict(train_freq=2, n_steps=3, hidden=(128, 128), gamma=0.99)


def config_to_json(config: DQNConfig) -> dict:
    """The fields as JSON data (a ``Generator`` seed is left out: its state is saved separately)."""
    fields = dataclasses.asdict(config)
    fields.update(epsilon=schedule_to_json(config.epsilon), dtype=np.dtype(config.dtype).name,
                  hidden=list(config.hidden))
    if isinstance(config.seed, np.random.Generator):
        fields["seed"] = None
    return fields


_ADDED_LATER = {"n_steps": 1, "dueling": False, "lr_end_factor": 1.0, "cql_alpha": 0.0}  # fields newer than the first
# checkpoints, with the value that reproduces them


def config_from_json(fields: dict, epsilon=None) -> dict:
    """Keyword arguments for ``DQNConfig`` from :func:`config_to_json`'s output.

    Types are checked, not coerced (a stored ``"double": "no"`` is refused, not made True): a
    ``TypeError``/``ValueError`` names the field. ``epsilon`` replaces the stored schedule when given.
    """
    if not isinstance(fields, dict):
        raise TypeError(f"config must be a JSON object, got {type(fields).__name__}")
    names = {f.name for f in dataclasses.fields(DQNConfig)}
    fields = {**_ADDED_LATER, **fields}  # a file written before a field existed did what its default does
    if fields.get("tau") is not None:  # files from before target_update=None stored an unused 500 beside tau
        fields["target_update"] = None
    unknown, missing = sorted(set(fields) - names), sorted(names - set(fields))
    if unknown or missing:
        raise ValueError(f"config fields differ from DQNConfig's: unknown {unknown}, missing {missing}")
    hidden = fields["hidden"]
    if not isinstance(hidden, list):
        raise TypeError(f"config hidden must be a list of widths, got {hidden!r}")
    if not isinstance(fields["dtype"], str):
        raise TypeError(f"config dtype must be 'float32' or 'float64', got {fields['dtype']!r}")
    for name in ("activation", "loss"):
        if not isinstance(fields[name], str):
            raise TypeError(f"config {name} must be a string, got {fields[name]!r}")
    # The remaining fields are type-checked (no coercion) by DQNConfig itself.
    return {**fields, "epsilon": schedule_from_json(fields["epsilon"], "epsilon", epsilon),
            "hidden": tuple(hidden)}

"""Why does the agent recommend what it recommends? Q-values, advantages and feature attributions.

For a DQN agent, each of the top-k actions gets its value ``Q(s, a)``, its advantage over the mean
of the allowed actions' values, and the attribution of every observation feature,

    attribution_j = s_j * dQ(s, a) / ds_j        (gradient times input),

computed through the network's own hand-written backward pass, with the features that raise
``Q(s, a)`` most listed first. For a tabular agent the state is the only feature: it gets the Q row
and each action's gap to the next-ranked one. This is a local, first-order explanation of the
value estimate, not of the shopper: it says which inputs the network leans on, nothing causal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import check_int, check_mask
from .dueling import DuelingQNet


@dataclass
class ActionExplanation:
    """One recommended action: its value, its advantage and what drives it."""
    rank: int                      # 1 for the best action
    action: int
    q: float                       # Q(s, a), in reward units
    advantage: float               # Q(s, a) - mean of Q(s, .) over allowed actions
    gap: float                     # Q(s, a) - Q(s, next-ranked allowed action); 0 if none ranks below
    features: list = field(default_factory=list)  # (name, value, attribution > 0), largest first

    def __str__(self) -> str:
        head = (f"#{self.rank} action {self.action}: Q={self.q:.3f}  advantage={self.advantage:+.3f}  "
                f"gap to next={self.gap:+.3f}")
        lines = [head] + [f"    {name} = {value:.3g}  ->  {attr:+.3f}" for name, value, attr in self.features]
        return "\n".join(lines)


def input_gradients(agent, obs, actions, action_mask=None) -> tuple[np.ndarray, np.ndarray]:
    """``dQ(s, a)/ds`` for each action in ``actions``: returns ``(x, grads)`` with ``x (d,)`` the
    encoded observation and ``grads (len(actions), d)``, in reward units. ``action_mask`` (the mask
    of ``obs``) matters to a dueling network only, whose mean runs over the allowed actions.

    The observation is repeated once per action and one backward pass gives every row: row ``i``
    of the output gradient is the one-hot of ``actions[i]``. For an agent that scores (state,
    product) pairs (``ItemDQNAgent``), ``x`` is ``(len(actions), d + d_item)``: row ``i`` is the
    state followed by the features of product ``actions[i]``, so the attributions say which
    state features and which of the product's features raise ``Q(s, a)``.
    """
    if callable(getattr(agent, "pair_input_gradients", None)):  # ItemDQNAgent: a row [s, x_a] per action
        return agent.pair_input_gradients(obs, actions)
    x, batched = agent.encode(obs)
    if batched:
        raise ValueError("explain takes one observation, got a batch")
    actions = np.asarray(actions, np.int64)
    net = agent.online.copy()  # leave the agent's gradient buffer alone
    mask = check_mask("action_mask", action_mask, (agent.n_actions,)) if isinstance(net, DuelingQNet) else None
    net.forward(np.repeat(x, actions.size, axis=0),
                **({} if mask is None else {"mask": np.repeat(mask[None], actions.size, axis=0)}))
    grad_out = np.zeros((actions.size, agent.n_actions), net.dtype)
    grad_out[np.arange(actions.size), actions] = 1.0
    grads = net.backward(grad_out) / agent.reward_scale
    return x[0], grads


def explain(agent, obs, k: int = 3, action_mask=None, feature_names=None, top_features: int = 3):
    """Explain the agent's top-``k`` actions for one observation.

    Works for a ``DQNAgent`` (feature attributions), an ``ItemDQNAgent`` (attributions over the
    state's features and the product's; ``feature_names`` then names both, state first) and a
    ``TabularQAgent`` (Q row and gaps).
    ``feature_names`` defaults to ``x0, x1, ...``; for a one-hot agent, to ``state=i``.
    Returns a list of :class:`ActionExplanation`, best first.
    """
    k = check_int("k", k, minimum=1)
    top_features = check_int("top_features", top_features, minimum=0)
    network = hasattr(agent, "online")  # a Q-network: its values (dueling) depend on the mask
    q = np.asarray(agent.q_values(obs, action_mask=action_mask) if network else agent.q_values(obs), np.float64)
    if q.ndim != 1:
        raise ValueError(f"explain takes one observation, got Q-values of shape {q.shape}")
    allowed = np.ones(q.size, bool) if action_mask is None else check_mask("action_mask", action_mask, q.shape)
    k = min(k, int(allowed.sum()))
    order = np.argsort(-np.where(allowed, q, -np.inf), kind="stable")[:k + 1]
    ranked = order[:k]
    mean_q = float(q[allowed].mean())
    gaps = [float(q[a] - q[order[i + 1]]) if i + 1 < order.size and allowed[order[i + 1]] else 0.0
            for i, a in enumerate(ranked)]

    features = [[] for _ in ranked]
    if network and top_features:  # attribute to the inputs
        x, grads = input_gradients(agent, obs, ranked, action_mask)
        d = grads.shape[1]
        if feature_names is None:
            feature_names = [f"state={i}" for i in range(d)] if agent.one_hot else [f"x{i}" for i in range(d)]
        if len(feature_names) != d:
            raise ValueError(f"feature_names has {len(feature_names)} names for {d} features")
        for g, x, out in zip(grads, np.broadcast_to(x, grads.shape), features):  # x: one state, or a row per action
            attribution = g * x
            for j in np.argsort(-attribution, kind="stable")[:top_features]:
                if attribution[j] <= 0:  # only features that raise Q(s, a)
                    break
                out.append((str(feature_names[j]), float(x[j]), float(attribution[j])))
    return [ActionExplanation(rank=i + 1, action=int(a), q=float(q[a]), advantage=float(q[a] - mean_q),
                              gap=gaps[i], features=features[i]) for i, a in enumerate(ranked)]

"""The dueling Q-network (Wang et al. 2016): ``Q(s, a) = V(s) + A(s, a) - mean over allowed a' of A(s, a')``.

For ``sizes = [d, h_1, ..., h_k, n]`` (the widths a plain ``MLP`` Q-network would have) the network
is one ``MLP([d, h_1, ..., h_k, 1 + n])`` whose hidden layers are the shared torso and whose last,
linear layer holds both streams, followed by the aggregation. For a batch ``x (B, d)``::

    out = mlp(x)                     (B, 1 + n)
    V, Adv = out[:, :1], out[:, 1:]  (B, 1), (B, n)    the value and advantage streams
    Q = V + Adv - sum_b w_b Adv_b    (B, n)            w (B, n): 1 / (number allowed) where allowed, else 0

Backward, with ``dQ = dL/dQ (B, n)``, since ``dQ_a / dV = 1`` and ``dQ_a / dAdv_b = [a = b] - w_b``::

    dV = sum_a dQ_a   (B, 1)        dAdv = dQ - w * dV   (B, n)        dx = mlp.backward([dV, dAdv])

Why subtract the mean. ``V + A`` alone is not identifiable: a constant moved from ``A`` to ``V``
leaves every ``Q`` unchanged, so nothing in the loss pins either stream and both can drift.
Fixing an aggregate of the advantages removes that freedom. Subtracting ``max_a A`` (the paper's
first form) would make ``V`` exactly the greedy value, but its gradient reaches one action at a time
and jumps whenever the argmax changes; the mean moves smoothly with every advantage, so the
advantages only have to follow their mean, and the paper found it the more stable of the two.
The price: ``V`` and ``A`` are known only up to a constant per state; ``Q`` and its ranking are not
affected.

Where the streams split. The paper gives each stream a hidden layer of its own; here they share
every hidden layer and split at the last linear layer, so the network costs what a plain MLP of
the same widths does plus the aggregation. Both were measured on the tabular shop (the DQN
defaults before issue 11: lr 1e-3, an update per transition, hard copies, gamma 0.99; 30k steps, seeds 0-9, share of the optimum): the paper's split min 0.887, median 0.969, this one
min 0.832, median 0.984 (ten seeds do not separate them; a plain network: min 0.950, median
0.987), while a train step (32-64-64-50, batch 64, median of repeated timings) cost 1.6 times a
plain one with the paper's split and 1.26 with this one (1.8 and 1.4 with masks that restrict
actions).

Masks. With an action mask (bool or 0/1, ``(B, n)``), the mean runs over the allowed actions only:
outputs of disallowed actions then neither move ``Q`` of the allowed ones nor get gradient through
the mean (their own ``Q`` is still computed, never chosen). Without a mask every action is allowed.
A row that allows nothing (only a terminal next state may, and it is never bootstrapped from)
takes the mean over all actions. A mask moves ``Q(s, .)`` by a constant per state: the ranking of
allowed actions is the same with or without it, the values are not.

In a DQN (``dqn.py``, ``DQNConfig.dueling``), ``Q(s, .)`` must therefore see the same mask wherever
it is computed: in acting and ``q_values`` (the mask given to them), in the train step's
``Q(s, a)`` and in the target's ``Q(s', .)``. The replay always kept the mask of ``s'`` (for the
target's argmax); a dueling agent's replay keeps the mask of ``s`` as well, given to
``observe(..., action_mask=...)``, which ``train`` passes whenever the env reports masks (n-step
windows carry it until the transition is stored). That is the least invasive sound choice: the
mask of ``s`` cannot be recovered from the replay (the row before is another transition, maybe of
another episode or env copy), and having ``act`` remember it would tie ``observe`` to the order of
calls. A plain agent checks the mask and keeps nothing: its ``Q`` does not depend on it. Without
``action_mask``, ``s`` counts as allowing every action, as everywhere in the library; a caller who
acts with masks but observes without them trains ``Q(s, a)`` against the mean over all actions and
then bootstraps from it with the mean over the allowed ones, which biases the targets into ``s``
by the difference, set by the untrained advantages of disallowed actions. ``train`` never does.

This module knows nothing of targets, replay or optimizers.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_layer_sizes, check_mask
from .mlp import MLP, count_params as mlp_count_params


class DuelingQNet:
    """``DuelingQNet(sizes, activation="relu", seed=0, dtype=np.float32)``: ``sizes`` as ``MLP``'s
    (``[obs_dim, *hidden, n_actions]``), initialised as ``MLP([obs_dim, *hidden, 1 + n_actions])`` is.

    Used as an ``MLP`` is (``params``, ``grads``, ``forward``, ``predict``, ``backward``, ``copy``,
    ``state_dict``, ``from_checkpoint``), with an optional action ``mask`` for ``forward`` and
    ``predict``. ``mlp`` is the network underneath; ``params`` and ``grads`` are its own.
    """

    def __init__(self, sizes, activation: str = "relu", seed=0, dtype=np.float32):
        self.sizes = check_layer_sizes(sizes)
        self.mlp = MLP([*self.sizes[:-1], 1 + self.sizes[-1]], activation, seed=seed, dtype=dtype)
        self.activation, self.dtype = self.mlp.activation, self.mlp.dtype
        self.params, self.grads = self.mlp.params, self.mlp.grads
        self._last = None  # (batch, w) of the last forward, for backward

    @property
    def n_params(self) -> int:
        return self.params.size

    @staticmethod
    def count_params(sizes: list, where: str) -> int:
        """How many parameters ``DuelingQNet(sizes)`` has, before anything is allocated (for
        checking a file's declared sizes); ``where`` names the source in errors."""
        if len(sizes) < 2 or any(n < 1 for n in sizes):
            raise ValueError(f"{where} describes an invalid dueling network: sizes {sizes} must be >= 2 widths, "
                             "each >= 1")
        return mlp_count_params([*sizes[:-1], 1 + sizes[-1]], where)

    # ------------------------------------------------------------------ forward and backward
    def _mean_weights(self, mask, batch: int) -> np.ndarray | None:
        """``w (B, n)`` for the mean over allowed actions; None for the plain mean: no mask, or one
        allowing everything (as a replay's masks do for an env without any; measured: this saves
        about a tenth of a dueling train step, 32-64-64-50, batch 64)."""
        if mask is None:
            return None
        n = self.sizes[-1]
        if not (type(mask) is np.ndarray and mask.dtype == bool and mask.shape == (batch, n)):  # else: checked
            mask = check_mask("mask", mask, (batch, n), allow_empty=True)
        if mask.all():
            return None
        allowed = np.where(mask.any(axis=1, keepdims=True), mask, True)  # a row allowing nothing: all
        return allowed / allowed.sum(axis=1, keepdims=True, dtype=self.dtype)

    def _run(self, x, mask, keep: bool) -> np.ndarray:
        d = self.sizes[0]
        if not (type(x) is np.ndarray and x.dtype == self.dtype and x.ndim == 2 and x.shape[1] == d):
            x = check_array("x", x, shape=(None, d), dtype=self.dtype)
        w = self._mean_weights(mask, x.shape[0])  # checked before anything runs or is kept
        out = self.mlp.forward(x) if keep else self.mlp.predict(x)              # (B, 1 + n)
        V, Adv = out[:, :1], out[:, 1:]                                         # (B, 1), (B, n)
        mean = (Adv.sum(axis=1, keepdims=True) / Adv.shape[1] if w is None  # (B, 1); np.mean: 3 us slower
                else (Adv * w).sum(axis=1, keepdims=True))
        if keep:
            self._last = (out.shape[0], w)
        return Adv - mean + V  # (B, n) - (B, 1) + (B, 1): broadcast over actions, as meant

    def forward(self, x, mask=None) -> np.ndarray:
        """``Q (B, n)`` for ``x (B, d)``, the mean over the actions ``mask (B, n)`` allows (all
        without one); keeps what backward needs. The input is copied, so the caller may reuse it."""
        return self._run(x, mask, keep=True)

    def predict(self, x, mask=None) -> np.ndarray:
        """Forward without keeping anything: ``(B, d)`` -> ``(B, n)``, or ``(d,)`` (with ``mask (n,)``)
        -> ``(n,)``."""
        if np.ndim(x) == 1:
            return self.predict(np.asarray(x)[None, :], None if mask is None else np.asarray(mask)[None, :])[0]
        return self._run(x, mask, keep=False)

    def backward(self, grad_out, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate ``dL/dQ (B, n)`` through the last forward: writes (does not accumulate)
        ``dL/dparams`` into ``self.grads``; returns ``dL/dx (B, d)``, or None with ``input_grad=False``."""
        if self._last is None:
            raise RuntimeError("backward() called before forward(): there is nothing to differentiate")
        B, w = self._last
        n = self.sizes[-1]
        dQ = grad_out
        if not (type(dQ) is np.ndarray and dQ.dtype == self.dtype and dQ.shape == (B, n)):
            dQ = check_array("grad_out", grad_out, shape=(B, n), dtype=self.dtype)
        dout = np.empty((B, 1 + n), self.dtype)
        dV = dQ.sum(axis=1, keepdims=True, out=dout[:, :1])                     # dV = sum_a dQ_a
        np.subtract(dQ, dV / n if w is None else w * dV, out=dout[:, 1:])       # dAdv = dQ - w * dV
        return self.mlp.backward(dout, input_grad)  # checks dout is finite

    # ------------------------------------------------------------------ copies and files
    def copy(self) -> "DuelingQNet":
        """An independent network with the same sizes, activation, dtype and parameters."""
        twin = DuelingQNet(self.sizes, self.activation, seed=0, dtype=self.dtype)
        twin.params[:] = self.params
        return twin

    def state_dict(self) -> dict:
        """The state of the MLP underneath (``MLP.state_dict``: its sizes end in ``1 + n_actions``)."""
        return self.mlp.state_dict()

    @classmethod
    def from_checkpoint(cls, ckpt, prefix: str = "") -> "DuelingQNet":
        """Read the network stored under ``prefix`` in a checkpoint opened by
        ``_checkpoint.open_checkpoint``, with ``MLP.from_checkpoint``'s checks."""
        mlp = MLP.from_checkpoint(ckpt, prefix)
        if mlp.sizes[-1] < 2:
            raise ValueError(f"{ckpt.where}: a dueling network's MLP needs 1 + n_actions >= 2 outputs, "
                             f"got sizes {mlp.sizes}")
        net = cls([*mlp.sizes[:-1], mlp.sizes[-1] - 1], mlp.activation, seed=0, dtype=mlp.dtype)
        net.params[:] = mlp.params
        return net

    def __repr__(self) -> str:
        return (f"DuelingQNet(sizes={self.sizes}, activation={self.activation!r}, "
                f"dtype={self.dtype.name}, n_params={self.n_params})")

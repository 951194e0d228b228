"""Q-networks that score (state, product) pairs from the product's features, not its id.

Two designs, with one interface (``ItemDQNAgent`` uses either; ``item_dqn.py`` says which is the
default and why):

* ``TwoTowerQ``: a state tower ``phi`` and an item tower ``psi`` (two ``MLP``), joined by a dot
  product plus a per-item bias,

      Q(s, i) = phi(s) . u_i + b_i,      [u_i, b_i] = psi(x_i)   (u_i of width k, b_i a scalar),

  so ``n`` states against ``N`` products is one matrix product ``Phi @ U.T + b`` ``(n, N)``, and
  the catalogue's ``[U, b]`` can be computed once and reused while the weights stay the same.
* ``ConcatQ``: one ``MLP`` over the concatenation ``[s, x_i]`` with a single output, evaluated on
  all ``n * N`` pairs: as expressive as its width allows, but every pair costs a full network pass.

Interface: ``params``/``grads`` (one flat buffer each, so Adam, ``clip_grad_norm`` and a target
sync are one vector operation), ``embed(X)`` (the catalogue's representation ``R``: ``[U, b]``
for the two towers, ``X`` itself for the concatenation), ``scores(S, R)`` ``(n, N)``,
``forward_pairs(S, X)`` ``(B,)`` for one product per state (keeps what backward needs),
``backward_pairs(dq)`` (writes ``grads``; returns ``dQ/dS`` and ``dQ/dX``), ``predict(S)``
(``scores`` against the representation last stored in ``items``), ``copy()``. Not covered: the
agent, replay, targets (``item_dqn.py``).
"""
from __future__ import annotations

import numpy as np

from ._validate import as_generator
from .mlp import MLP, count_params

ARCHITECTURES = ("two-tower", "concat")


class _FlatModel:
    """Networks whose parameters (and gradients) share one flat buffer, in order."""

    def _bind(self, nets) -> None:
        sizes = [net.n_params for net in nets]
        self.params = np.zeros(sum(sizes), nets[0].dtype)
        self.grads = np.zeros_like(self.params)
        start = 0
        for net, n in zip(nets, sizes):
            net.bind(self.params[start:start + n], self.grads[start:start + n])
            start += n
        self.items = None  # the catalogue representation predict() scores against

    def predict(self, S: np.ndarray) -> np.ndarray:
        """``Q(S, .)`` over the catalogue set in ``items`` (by the agent): ``(n, N)``."""
        return self.scores(S, self.items)

    def copy(self):
        twin = type(self)(**self.spec, seed=0)
        twin.params[:] = self.params
        return twin


class TwoTowerQ(_FlatModel):
    """``TwoTowerQ(obs_dim, d_item, hidden, embed_dim, activation, dtype, seed)``: towers
    ``[obs_dim, *hidden, k]`` and ``[d_item, *hidden, k + 1]``, ``k = embed_dim``."""

    def __init__(self, obs_dim, d_item, hidden, embed_dim, activation="relu", dtype=np.float32, seed=0):
        self.spec = dict(obs_dim=obs_dim, d_item=d_item, hidden=tuple(hidden), embed_dim=embed_dim,
                         activation=activation, dtype=dtype)
        rng = as_generator(seed)
        self.k = embed_dim
        self.state_net = MLP([obs_dim, *hidden, embed_dim], activation, seed=rng, dtype=dtype)
        self.item_net = MLP([d_item, *hidden, embed_dim + 1], activation, seed=rng, dtype=dtype)
        self._bind([self.state_net, self.item_net])

    @staticmethod
    def count(obs_dim, d_item, hidden, embed_dim, where="network") -> int:
        """Parameters of a ``TwoTowerQ`` of these sizes, before allocating any."""
        return (count_params([obs_dim, *hidden, embed_dim], where)
                + count_params([d_item, *hidden, embed_dim + 1], where))

    def embed(self, X: np.ndarray) -> np.ndarray:
        """``[U, b] = psi(X)``: ``(N, k + 1)``."""
        return self.item_net.predict(X)

    def scores(self, S: np.ndarray, R: np.ndarray) -> np.ndarray:
        """``Q = phi(S) @ U.T + b``: ``(n, N)`` from ``S (n, obs_dim)`` and ``R = [U, b] (N, k + 1)``."""
        return self.state_net.predict(S) @ R[:, :self.k].T + R[:, self.k]

    def forward_pairs(self, S: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``q_j = phi(s_j) . u(x_j) + b(x_j)`` for ``B`` pairs: ``(B,)``; keeps ``Phi`` and ``[U, b]``."""
        self._Phi = self.state_net.forward(S)                 # (B, k)
        self._R = self.item_net.forward(X)                    # (B, k + 1)
        return np.einsum("bk,bk->b", self._Phi, self._R[:, :self.k]) + self._R[:, self.k]

    def backward_pairs(self, dq: np.ndarray, input_grad: bool = False):
        """From ``dL/dq (B,)``: ``dPhi = dq u``, ``dU = dq phi``, ``db = dq``, then each tower's
        backward; writes ``grads``. Returns ``(dL/dS, dL/dX)`` with ``input_grad``, else None."""
        dq = dq[:, None]                                      # (B, 1): never (B,) against (B, k)
        dPhi = dq * self._R[:, :self.k]                       # (B, k)
        dR = np.concatenate([dq * self._Phi, dq], axis=1)     # (B, k + 1)
        dS = self.state_net.backward(dPhi, input_grad=input_grad)
        dX = self.item_net.backward(dR, input_grad=input_grad)
        return (dS, dX) if input_grad else None


class ConcatQ(_FlatModel):
    """``ConcatQ(obs_dim, d_item, hidden, activation, dtype, seed)``: one ``MLP([obs_dim + d_item,
    *hidden, 1])``; ``embed`` is the identity, ``scores`` runs it on all ``n * N`` pairs."""

    def __init__(self, obs_dim, d_item, hidden, embed_dim=None, activation="relu", dtype=np.float32, seed=0):
        self.spec = dict(obs_dim=obs_dim, d_item=d_item, hidden=tuple(hidden), embed_dim=embed_dim,
                         activation=activation, dtype=dtype)
        self.obs_dim = obs_dim
        self.net = MLP([obs_dim + d_item, *hidden, 1], activation, seed=as_generator(seed), dtype=dtype)
        self._bind([self.net])

    @staticmethod
    def count(obs_dim, d_item, hidden, embed_dim=None, where="network") -> int:
        return count_params([obs_dim + d_item, *hidden, 1], where)

    def embed(self, X: np.ndarray) -> np.ndarray:
        return X

    def scores(self, S: np.ndarray, R: np.ndarray) -> np.ndarray:
        """``Q (n, N)``: the network on every pair ``[s_j, x_i]`` (``n N`` rows: memory ``n N d``)."""
        n, N = S.shape[0], R.shape[0]
        pairs = np.empty((n, N, S.shape[1] + R.shape[1]), self.params.dtype)
        pairs[:, :, :S.shape[1]] = S[:, None, :]
        pairs[:, :, S.shape[1]:] = R[None, :, :]
        return self.net.predict(pairs.reshape(n * N, -1)).reshape(n, N)

    def forward_pairs(self, S: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.net.forward(np.concatenate([S, X], axis=1))[:, 0]

    def backward_pairs(self, dq: np.ndarray, input_grad: bool = False):
        dZ = self.net.backward(dq[:, None], input_grad=input_grad)
        return (dZ[:, :self.obs_dim], dZ[:, self.obs_dim:]) if input_grad else None


NETWORKS = {"two-tower": TwoTowerQ, "concat": ConcatQ}

"""A learned choice model for slates: a conditional logit fitted to the clicks a shop observes.

The model of ``slate_choice.py`` with learned utilities: for state features ``z = [1, s]``
``(d_z,)`` and product features ``y_i = [1, x_i]`` ``(d_y,)``,

    u(s, i) = z^T W y_i              (W: (d_z, d_y), a bilinear score)
    P(slot j | s, A) = exp(u(s, A_j) + rho_j) / (1 + sum_l exp(u(s, A_l) + rho_l)),

no click having utility 0 and ``rho_0 = 0`` (the intercept ``W[0, 0]`` already moves every
product against no click). The negative log-likelihood of observed choices ``c_b`` (a slot, or
-1 for none) on shown slates ``A_b`` is convex in ``(W, rho)``; with ``p_bj`` the model's
probabilities and ``t_bj = 1[c_b = j]``, its batch mean has the gradient

    dL/dl_bj = (p_bj - t_bj) / B,     dW = Z^T G,  G_b = sum_j dL/dl_bj y_{A_bj},     drho_j = sum_b dL/dl_bj

and Adam takes the steps. It learns only from what was shown and what was clicked, never from a
shopper's hidden taste (``RecSim``'s SlateQ reads the true interests; this does not). ``W``
starts at 0: every product as likely as not clicking. Not covered: the values of the products
(``slate_q.py``), purchases (the reward carries them).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_array, check_float, check_int
from .optim import Adam
from .slate_choice import slate_probs


class ConditionalLogit:
    """``ConditionalLogit(obs_dim, item_features (N, d_item), slate_size, lr=0.01)``; float64.

    ``params`` holds ``W`` (row-major) then ``rho`` ``(k,)``; ``grads`` the same shape.
    """

    def __init__(self, obs_dim: int, item_features, slate_size: int, lr: float = 0.01):
        self.obs_dim = check_int("obs_dim", obs_dim, minimum=1)
        X = check_array("item_features", item_features, ndim=2, dtype=np.float64)
        self.n_items = X.shape[0]
        self.slate_size = check_int("slate_size", slate_size, minimum=1, maximum=self.n_items)
        self.Y = np.concatenate([np.ones((self.n_items, 1)), X], axis=1)     # (N, d_y)
        d_z, d_y = obs_dim + 1, self.Y.shape[1]
        self.params = np.zeros(d_z * d_y + self.slate_size)
        self.grads = np.zeros_like(self.params)
        self.W = self.params[:d_z * d_y].reshape(d_z, d_y)                  # views into params
        self.rho = self.params[d_z * d_y:]
        self.opt = Adam(self.params, check_float("lr", lr, 0.0, low_open=True))

    @staticmethod
    def _z(S: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ones((S.shape[0], 1)), S], axis=1)        # (n, d_z)

    def utilities(self, S: np.ndarray) -> np.ndarray:
        """``u(s, i)`` for states ``S (n, obs_dim)`` against every product: ``(n, N)``."""
        return self._z(S) @ self.W @ self.Y.T

    def probs(self, S: np.ndarray, A: np.ndarray):
        """``(P(slot j) (n, k), P(no click) (n,))`` of slates ``A (n, k)`` in states ``S``."""
        u = np.take_along_axis(self.utilities(S), A, 1)
        return slate_probs(u, self.rho)

    def loss_and_grad(self, S: np.ndarray, A: np.ndarray, clicked: np.ndarray) -> float:
        """Mean negative log-likelihood of ``clicked (B,)`` (slots, -1 for none) on ``A (B, k)``
        shown in ``S (B, obs_dim)``; writes its gradient into ``grads`` (``rho_0``'s stays 0)."""
        B = S.shape[0]
        Z = self._z(S)                                                      # (B, d_z)
        YA = self.Y[A]                                                      # (B, k, d_y)
        u = np.einsum("bd,de,bke->bk", Z, self.W, YA)                       # (B, k)
        p, p0 = slate_probs(u, self.rho)
        t = np.zeros_like(p)
        rows = np.flatnonzero(clicked >= 0)
        t[rows, clicked[rows]] = 1.0
        p_chosen = np.where(clicked >= 0, p[np.arange(B), np.maximum(clicked, 0)], p0)
        loss = -np.log(np.maximum(p_chosen, 1e-300)).mean()
        dl = (p - t) / B                                                    # (B, k): dL/dl_bj
        G = np.einsum("bk,bke->be", dl, YA)                                 # (B, d_y)
        self.grads[:self.W.size] = (Z.T @ G).reshape(-1)
        self.grads[self.W.size:] = dl.sum(axis=0)
        self.grads[self.W.size] = 0.0                                       # rho_0 = 0: no click is the reference
        return float(loss)

    def update(self, S, A, clicked) -> float:
        """One Adam step on a batch of observed choices; returns the loss before the step."""
        loss = self.loss_and_grad(S, A, clicked)
        self.opt.step(self.grads)
        return loss

"""Shared test machinery: one independent gradient check, used by many one-line tests."""
from __future__ import annotations

import numpy as np
from hypothesis import settings

from minidqn._blas import limit_blas_threads

limit_blas_threads(1)  # as the command line does: DQN-sized products gain nothing from threads

settings.register_profile("default", deadline=None)
settings.load_profile("default")


def numerical_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(f(x + eps e_i) - f(x - eps e_i)) / 2 eps`` for every entry of ``x``.

    ``x`` (float64) is perturbed in place and restored; ``f`` takes no argument and reads it.
    """
    assert x.dtype == np.float64, "finite differences need float64"
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def assert_grad_close(analytic, numeric, rtol: float = 1e-6, atol: float = 1e-8, what: str = "") -> None:
    """Elementwise ``|a - n| <= rtol * max(|a|, |n|) + atol``, with the worst entry in the message."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)
    err = np.abs(analytic - numeric)
    bound = rtol * np.maximum(np.abs(analytic), np.abs(numeric)) + atol
    worst = int(np.argmax(err - bound)) if err.size else 0
    assert np.all(err <= bound), (
        f"{what}: gradient mismatch at flat index {worst}: analytic {analytic.reshape(-1)[worst]!r}, "
        f"numeric {numeric.reshape(-1)[worst]!r}")


def random_mdp(seed, n_states=4, n_actions=3, end=0.1):
    """A finite model: ``P`` with every row leaking ``end`` (so gamma=1 is proper too), ``R``
    uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions)) * (1 - end)
    return P, rng.uniform(-1, 1, size=(n_states, n_actions))

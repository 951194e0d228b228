"""Optimizers over one flat parameter vector, updated in place: Adam, SGD; and gradient clipping.

Each optimizer holds a reference to the ``params`` array it updates (an ``MLP``'s flat buffer) and
its own state arrays of the same shape, so a step is a handful of vector operations with no
allocation. Checkpointing goes through ``state_dict()``/``load_state_dict()``. Learning-rate
schedules, weight decay and parameter groups are left out.
"""
from __future__ import annotations

import math

import numpy as np

from ._validate import check_array, check_float, check_int


def _check_params(params) -> np.ndarray:
    if not isinstance(params, np.ndarray) or params.ndim != 1 or not np.issubdtype(params.dtype, np.floating):
        raise TypeError("params must be a 1-D floating-point numpy array (e.g. MLP.params), got "
                        f"{type(params).__name__} {getattr(params, 'shape', '')}")
    if not params.flags.writeable or not params.flags.c_contiguous:
        raise ValueError("params must be writeable and contiguous: the optimizer updates it in place")
    return params


_V_FLOOR = 1e-30


class _Optimizer:
    def __init__(self, params, lr: float):
        self.params = _check_params(params)
        self.lr = check_float("lr", lr, low=0.0, low_open=True)
        self._scratch = np.empty_like(self.params)

    def _check_grads(self, grads) -> np.ndarray:
        if not isinstance(grads, np.ndarray) or grads.shape != self.params.shape:
            raise ValueError(f"grads must be an array of shape {self.params.shape} like params, got "
                             f"{getattr(grads, 'shape', type(grads).__name__)}")
        return grads

    def _load_arrays(self, state: dict, names: tuple) -> dict:
        out = {}
        for name in names:
            if name not in state:
                raise ValueError(f"optimizer state lacks {name!r}")
            out[name] = check_array(f"optimizer state {name!r}", state[name], shape=self.params.shape)
        return out


def _real_scalar(name: str, value) -> float:
    """A stored hyperparameter: a single real number, not text that happens to parse as one."""
    value = np.asarray(value)
    if value.shape != () or value.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a single number, got {value.dtype} {value.shape}")
    return float(value)


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``eps`` is added to ``sqrt(v_hat)``::

        m = b1 m + (1 - b1) g          m_hat = m / (1 - b1**t)
        v = b2 v + (1 - b2) g**2       v_hat = v / (1 - b2**t)
        params -= lr * m_hat / (sqrt(v_hat) + eps)

    the same update as ``torch.optim.Adam`` without weight decay or amsgrad. One thing is added:
    ``g**2`` is taken as ``g**2 + 1e-30``, so ``v`` never falls below 1e-30: a parameter whose
    gradient stays zero (a dead ReLU unit) would otherwise decay ``v`` into the subnormal range,
    where x86 arithmetic is tens of times slower. It moves ``sqrt(v_hat)`` by at most 1e-15, a
    relative change of at most ``1e-15 / eps`` in an update (1e-7 at the default ``eps``).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        if not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (check_float("betas[0]", betas[0], 0.0, 1.0, high_open=True),
                      check_float("betas[1]", betas[1], 0.0, 1.0, high_open=True))
        self.eps = check_float("eps", eps, low=0.0, low_open=True)  # 0 would divide 0 by 0
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)
        self.t = 0

    def step(self, grads) -> None:
        """One update with gradient ``grads`` (shape of ``params``), in place, in the docstring's
        order; ``tmp`` is one preallocated scratch vector, so a step allocates nothing."""
        g = self._check_grads(grads)
        b1, b2 = self.betas
        m, v, tmp = self.m, self.v, self._scratch
        self.t += 1
        m *= b1                                     # m = b1 m + (1 - b1) g
        m += np.multiply(g, 1.0 - b1, out=tmp)
        v *= b2                                     # v = b2 v + (1 - b2) (g**2 + 1e-30)
        np.multiply(g, g, out=tmp)
        tmp += _V_FLOOR
        tmp *= 1.0 - b2
        v += tmp
        np.sqrt(v, out=tmp)                         # sqrt(v_hat) + eps
        tmp *= 1.0 / np.sqrt(1.0 - b2 ** self.t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)                  # lr * m_hat / (sqrt(v_hat) + eps)
        tmp *= self.lr / (1.0 - b1 ** self.t)
        self.params -= tmp

    STATE_KEYS = ("m", "v", "t", "lr", "betas", "eps")  # what state_dict() holds

    def state_dict(self) -> dict:
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t), "lr": np.array(self.lr),
                "betas": np.array(self.betas), "eps": np.array(self.eps)}

    def load_state_dict(self, state: dict) -> None:
        arrays = self._load_arrays(state, ("m", "v"))
        try:
            t = check_int("Adam state t", np.asarray(state["t"]).item(), minimum=0)
            lr, eps = _real_scalar("lr", state["lr"]), _real_scalar("eps", state["eps"])
            betas = np.asarray(state["betas"])
            if betas.shape != (2,) or betas.dtype.kind != "f":
                raise TypeError(f"betas must be 2 floats, got {betas.dtype} {betas.shape}")
            betas = tuple(float(b) for b in betas)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"Adam state is incomplete or malformed: {e}") from e
        if np.any(arrays["v"] < 0):
            raise ValueError("Adam state has negative second moments v: it cannot come from Adam")
        fresh = Adam(self.params, lr, betas, eps)  # validates the hyperparameters
        self.m[:], self.v[:] = arrays["m"], arrays["v"]
        self.t, self.lr, self.betas, self.eps = t, fresh.lr, fresh.betas, fresh.eps


class SGD(_Optimizer):
    """Stochastic gradient descent, with optional heavy-ball momentum as in ``torch.optim.SGD``::

        buf = momentum * buf + g   (buf = g on the first step)
        params -= lr * buf         (params -= lr * g when momentum = 0)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, high_open=True)
        self.buf = np.zeros_like(self.params)
        self.t = 0

    def step(self, grads) -> None:
        g = self._check_grads(grads)
        if self.momentum == 0.0:
            np.multiply(g, self.lr, out=self._scratch)
        else:
            if self.t == 0:
                self.buf[:] = g
            else:
                self.buf *= self.momentum
                self.buf += g
            np.multiply(self.buf, self.lr, out=self._scratch)
        self.params -= self._scratch
        self.t += 1

    def state_dict(self) -> dict:
        return {"buf": self.buf.copy(), "t": np.array(self.t), "lr": np.array(self.lr),
                "momentum": np.array(self.momentum)}

    def load_state_dict(self, state: dict) -> None:
        arrays = self._load_arrays(state, ("buf",))
        try:
            t = check_int("SGD state t", np.asarray(state["t"]).item(), minimum=0)
            lr, momentum = _real_scalar("lr", state["lr"]), _real_scalar("momentum", state["momentum"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"SGD state is incomplete or malformed: {e}") from e
        fresh = SGD(self.params, lr, momentum)
        self.buf[:] = arrays["buf"]
        self.t, self.lr, self.momentum = t, fresh.lr, fresh.momentum


def clip_grad_norm(grads: np.ndarray, max_norm: float) -> float:
    """Scale ``grads`` in place so its global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (``inf``/``nan`` when the gradients are not finite, in which
    case nothing is scaled: the caller should stop, not step). ``max_norm=inf`` only measures.
    """
    if max_norm != np.inf:
        max_norm = check_float("max_norm", max_norm, low=0.0, low_open=True)
    if not isinstance(grads, np.ndarray) or grads.dtype.kind != "f":
        raise TypeError(f"grads must be a floating-point numpy array, got {type(grads).__name__}")
    flat = grads.reshape(-1)
    norm = math.sqrt(np.dot(flat, flat))
    if not math.isfinite(norm) and np.all(np.isfinite(flat)):  # float32 overflow of the sum only
        norm = float(np.linalg.norm(flat.astype(np.float64)))
    if math.isfinite(norm) and norm > max_norm:
        grads *= max_norm / norm
    return norm

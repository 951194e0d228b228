"""A multilayer perceptron with a hand-written backward pass, on one flat parameter buffer.

Layer ``i`` computes ``Z_i = A_{i-1} @ W_i + b_i`` with ``A_0 = x``; hidden layers apply the
activation ``A_i = f(Z_i)`` (ReLU or tanh), the last layer is linear. Every weight and bias lives
in one contiguous vector ``params`` (``weights[i]`` and ``biases[i]`` are views into it), and the
gradients in its twin ``grads``, so an optimizer, a gradient clip or a target-network sync is one
vector operation.

The forward pass keeps, per batch size, preallocated buffers for the activations and their
gradients, so a training step allocates only its output and input gradient. This module knows
nothing of Q-learning, losses or optimizers.
"""
from __future__ import annotations

import numpy as np

from ._checkpoint import open_checkpoint, save_arrays
from ._validate import as_generator, check_array, check_int

ACTIVATIONS = ("relu", "tanh")
STATE_KEYS = ("sizes", "activation", "dtype", "params")  # what state_dict() holds
_MAX_CACHED_BATCH_SIZES = 8


class _Workspace:
    """Buffers for one batch size: the input copy, hidden activations and their gradients."""

    def __init__(self, batch: int, sizes: list[int], dtype, for_backward: bool):
        hidden = sizes[1:-1] if for_backward else []
        self.x = np.empty((batch, sizes[0]), dtype)
        self.A = [np.empty((batch, n), dtype) for n in sizes[1:-1]]  # post-activation outputs
        self.dA = [np.empty((batch, n), dtype) for n in hidden]      # their gradients, then dZ
        self.tmp = [np.empty((batch, n), dtype) for n in hidden]     # f'(Z), from A alone


class MLP:
    """``MLP(sizes, activation="relu", seed=0, dtype=np.float32)``.

    Parameters
    ----------
    sizes : sequence of int, e.g. ``[obs_dim, 64, 64, n_actions]`` (at least input and output).
    activation : ``"relu"`` (He-normal init, std ``sqrt(2 / fan_in)``) or ``"tanh"`` (Glorot-uniform,
        bound ``sqrt(6 / (fan_in + fan_out))``). Biases start at zero.
    seed : int or ``numpy.random.Generator`` for the initial weights.
    dtype : ``np.float32`` (default) or ``np.float64``. Inputs are converted to it.
    """

    def __init__(self, sizes, activation: str = "relu", seed=0, dtype=np.float32):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a sequence of layer widths, got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width, got {list(sizes)}")
        self.sizes = [check_int(f"sizes[{i}]", n, minimum=1) for i, n in enumerate(sizes)]
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")

        shapes = list(zip(self.sizes[:-1], self.sizes[1:]))
        self.params = np.zeros(sum(i * o + o for i, o in shapes), self.dtype)
        self.grads = np.zeros_like(self.params)
        self.weights, self.biases = self._views(self.params)
        self._grad_weights, self._grad_biases = self._views(self.grads)

        rng = as_generator(seed)
        for W in self.weights:
            fan_in, fan_out = W.shape
            if activation == "relu":
                W[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=W.shape)
            else:
                bound = np.sqrt(6.0 / (fan_in + fan_out))
                W[...] = rng.uniform(-bound, bound, size=W.shape)

        self._workspaces: dict[tuple, _Workspace] = {}
        self._last: _Workspace | None = None  # what the last forward kept for backward

    def _views(self, flat: np.ndarray):
        """Per-layer ``(W, b)`` views into ``flat``, laid out ``W_0, b_0, W_1, b_1, ...``."""
        weights, biases, offset = [], [], 0
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            weights.append(flat[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out))
            offset += fan_in * fan_out
            biases.append(flat[offset:offset + fan_out])
            offset += fan_out
        return weights, biases

    @property
    def n_params(self) -> int:
        return self.params.size

    # ------------------------------------------------------------------ forward and backward
    def _check_input(self, x) -> np.ndarray:
        # Convert first, then check: 1e39 is finite in float64 and inf in float32.
        return check_array("x", x, shape=(None, self.sizes[0]), dtype=self.dtype)

    def _workspace(self, batch: int, for_backward: bool) -> _Workspace:
        # predict() has buffers of its own, so predicting between forward and backward is harmless.
        key = (batch, for_backward)
        ws = self._workspaces.get(key)
        if ws is None:
            if len(self._workspaces) >= _MAX_CACHED_BATCH_SIZES:
                self._workspaces.clear()
            ws = self._workspaces[key] = _Workspace(batch, self.sizes, self.dtype, for_backward)
        return ws

    def _run(self, ws: _Workspace) -> np.ndarray:
        """Forward from ``ws.x``, filling ``ws.A``; returns a fresh output array."""
        A = ws.x
        for W, b, A_next in zip(self.weights, self.biases, ws.A):
            np.matmul(A, W, out=A_next)                 # Z = A @ W + b, in place ...
            A_next += b
            if self.activation == "relu":               # ... then A = f(Z), in place
                np.maximum(A_next, 0, out=A_next)
            else:
                np.tanh(A_next, out=A_next)
            A = A_next
        return A @ self.weights[-1] + self.biases[-1]   # linear output layer

    def forward(self, x) -> np.ndarray:
        """``x`` of shape ``(batch, sizes[0])`` -> ``(batch, sizes[-1])``; keeps what backward needs.

        The input is copied (and converted to the network's dtype), so the caller may reuse it.
        """
        return self._forward(self._check_input(x))

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """``forward`` without the input checks, for data the library checked when storing it."""
        ws = self._workspace(x.shape[0], for_backward=True)
        np.copyto(ws.x, x)
        out = self._run(ws)
        self._last = ws
        return out

    def predict(self, x) -> np.ndarray:
        """Forward without keeping anything: ``(batch, in)`` -> ``(batch, out)``, ``(in,)`` -> ``(out,)``."""
        x = check_array("x", x, dtype=self.dtype)
        if x.ndim == 1:
            return self.predict(x[None, :])[0]
        return self._predict(self._check_input(x))

    def _predict(self, x: np.ndarray) -> np.ndarray:
        """``predict`` of a ``(batch, in)`` array, without the input checks."""
        ws = self._workspace(x.shape[0], for_backward=False)
        np.copyto(ws.x, x)
        return self._run(ws)

    def backward(self, grad_out, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate ``dL/dout`` of shape ``(batch, sizes[-1])`` through the last forward.

        Writes (does not accumulate) ``dL/dparams`` into ``self.grads`` and returns ``dL/dx`` of
        shape ``(batch, sizes[0])``, or ``None`` with ``input_grad=False`` (saves one matmul).
        For each layer, last to first::

            dW = A_prev.T @ dZ      db = dZ.sum(0)      dA_prev = dZ @ W.T
            dZ_prev = dA_prev * f'(Z_prev)    relu: (A_prev > 0);  tanh: 1 - A_prev**2
        """
        ws = self._last
        if ws is None:
            raise RuntimeError("backward() called before forward(): there is nothing to differentiate")
        dZ = check_array("grad_out", grad_out, shape=(ws.x.shape[0], self.sizes[-1]), dtype=self.dtype)
        return self._backward(dZ, input_grad)

    def _backward(self, dZ: np.ndarray, input_grad: bool = True):
        """``backward`` without the checks: ``dZ`` must match the last forward's output."""
        ws = self._last
        inputs = [ws.x] + ws.A  # the A_prev of each layer
        for i in reversed(range(len(self.weights))):
            np.matmul(inputs[i].T, dZ, out=self._grad_weights[i])
            np.sum(dZ, axis=0, out=self._grad_biases[i])
            if i == 0:
                break
            A_prev, dA_prev, fprime = inputs[i], ws.dA[i - 1], ws.tmp[i - 1]
            np.matmul(dZ, self.weights[i].T, out=dA_prev)
            if self.activation == "relu":
                np.greater(A_prev, 0, out=fprime, casting="unsafe")
            else:
                np.multiply(A_prev, A_prev, out=fprime)
                np.subtract(1, fprime, out=fprime)
            np.multiply(dA_prev, fprime, out=dA_prev)  # now the dZ of layer i - 1
            dZ = dA_prev
        return dZ @ self.weights[0].T if input_grad else None

    # ------------------------------------------------------------------ copies and files
    def copy(self) -> "MLP":
        """An independent network with the same sizes, activation, dtype and parameters."""
        twin = MLP(self.sizes, self.activation, seed=0, dtype=self.dtype)
        twin.params[:] = self.params
        return twin

    def state_dict(self) -> dict:
        """Arrays that describe the network completely (for :meth:`from_state_dict` and files)."""
        return {"sizes": np.array(self.sizes, np.int64), "activation": np.array(self.activation),
                "dtype": np.array(self.dtype.name), "params": self.params.copy()}

    @classmethod
    def from_state_dict(cls, state: dict, where: str = "state") -> "MLP":
        """Rebuild a network from :meth:`state_dict`; ``where`` names the source in errors.

        The parameter count the sizes imply is checked against ``params`` before any network is
        allocated (a few bytes must not be able to declare a 20000 x 20000 layer)."""
        try:
            sizes = np.asarray(state["sizes"])
            if sizes.ndim != 1 or sizes.dtype.kind not in "iu":
                raise ValueError(f"sizes must be a 1-D integer array, got {sizes.dtype} {sizes.shape}")
            sizes = [int(n) for n in sizes]
            activation, dtype = str(state["activation"]), str(state["dtype"])
            params = np.asarray(state["params"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{where} does not describe an MLP: {e}") from e
        n_params = _n_params(sizes, where)
        if params.shape != (n_params,):
            raise ValueError(f"{where} has {params.shape} parameters, sizes {sizes} need ({n_params},)")
        try:
            net = cls(sizes, activation, seed=0, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where} describes an invalid MLP: {e}") from e
        check_array(f"params in {where}", params)
        net.params[:] = params
        return net

    @classmethod
    def _from_checkpoint(cls, ckpt, prefix: str = "") -> "MLP":
        """Read the network stored under ``prefix`` in an open checkpoint: sizes first, then the
        parameters' header against them, and only then the parameters."""
        sizes_shape, sizes_dtype = ckpt.headers[prefix + "sizes"]
        if len(sizes_shape) != 1 or not 2 <= sizes_shape[0] <= 1000 or sizes_dtype.kind not in "iu":
            raise ValueError(f"{ckpt.where}: {prefix}sizes must be 2 to 1000 integers, got {sizes_dtype} {sizes_shape}")
        sizes = [int(n) for n in ckpt.read(prefix + "sizes")]
        n_params = _n_params(sizes, ckpt.where)
        ckpt.expect(prefix + "params", (n_params,), "f")
        return cls.from_state_dict({"sizes": np.array(sizes, np.int64),
                                    "activation": ckpt.read_scalar(prefix + "activation", "U", 400),
                                    "dtype": ckpt.read_scalar(prefix + "dtype", "U", 400),
                                    "params": ckpt.read(prefix + "params")}, where=ckpt.where)

    def save(self, path) -> None:
        """Write sizes, activation, dtype and parameters to ``path`` (``.npz``, no pickle)."""
        save_arrays(path, "MLP", self.state_dict())

    @classmethod
    def load(cls, path) -> "MLP":
        """Read a network written by :meth:`save`; a corrupt or foreign file is a ``ValueError``."""
        with open_checkpoint(path, "MLP", required=STATE_KEYS) as ckpt:
            return cls._from_checkpoint(ckpt)

    def __repr__(self) -> str:
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, "
                f"dtype={self.dtype.name}, n_params={self.n_params})")


def _n_params(sizes: list, where: str) -> int:
    """``sum(n_in * n_out + n_out)`` over the layers, in Python ints, before anything is allocated."""
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError(f"{where} describes an invalid MLP: sizes {sizes} must be >= 2 widths, each >= 1")
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))

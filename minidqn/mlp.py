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
from ._validate import as_generator, check_array, check_layer_sizes

ACTIVATIONS = ("relu", "tanh")
STATE_KEYS = ("sizes", "activation", "dtype", "params")  # what state_dict() holds
_MAX_CACHED_BATCH_SIZES = 8


class _Workspace:
    """Buffers for one batch size. ``A1[i]`` is layer ``i``'s input ``A_i`` with a column of ones
    appended (``A1[0]`` holds a copy of ``x``), ``Z[i]`` the hidden layer's pre-activation and
    ``dA[i]`` the gradient of the hidden activation, turned in place into ``dZ``."""

    def __init__(self, batch: int, sizes: list[int], dtype):
        self.A1 = [np.ones((batch, n + 1), dtype) for n in sizes[:-1]]  # the last column stays 1
        self.Z = [np.empty((batch, n), dtype) for n in sizes[1:-1]]
        self.dA = [np.empty((batch, n), dtype) for n in sizes[1:-1]]


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
        self.sizes = check_layer_sizes(sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")

        shapes = list(zip(self.sizes[:-1], self.sizes[1:]))
        self.params = np.zeros(sum(i * o + o for i, o in shapes), self.dtype)
        self.grads = np.zeros_like(self.params)
        self.weights, self.biases, self._Wb = self._views(self.params)
        _, _, self._dWb = self._views(self.grads)

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
        """Per-layer views into ``flat``, laid out ``W_0, b_0, W_1, b_1, ...``: ``W (in, out)``,
        ``b (out,)``, and both as one ``(in + 1, out)`` block ``Wb = [W; b]`` (``b`` is its last row)."""
        weights, biases, Wbs, offset = [], [], [], 0
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            Wb = flat[offset:offset + (fan_in + 1) * fan_out].reshape(fan_in + 1, fan_out)
            weights.append(Wb[:-1])
            biases.append(Wb[-1])
            Wbs.append(Wb)
            offset += Wb.size
        return weights, biases, Wbs

    @property
    def n_params(self) -> int:
        return self.params.size

    def bind(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Move the parameters and gradients into ``params`` and ``grads``: 1-D arrays of
        ``n_params`` entries of the network's dtype, e.g. slices of a larger model's flat buffers,
        so that one optimizer step or clip covers several networks. The current parameters are
        copied in; afterwards ``weights``, ``biases``, forward and backward use the new buffers."""
        for name, buf in (("params", params), ("grads", grads)):
            if not (isinstance(buf, np.ndarray) and buf.shape == (self.n_params,) and buf.dtype == self.dtype
                    and buf.flags.c_contiguous and buf.flags.writeable):
                raise ValueError(f"{name} must be a writeable contiguous {self.dtype.name} array of shape "
                                 f"({self.n_params},), got {getattr(buf, 'dtype', type(buf).__name__)} "
                                 f"{getattr(buf, 'shape', '')}")
        params[:], grads[:] = self.params, self.grads
        self.params, self.grads = params, grads
        self.weights, self.biases, self._Wb = self._views(params)
        _, _, self._dWb = self._views(grads)

    # ------------------------------------------------------------------ forward and backward
    def _input(self, name: str, x, rows: int | None, width: int) -> np.ndarray:
        """``x`` as a finite ``(rows, width)`` array of the network's dtype (any number of rows when
        ``rows`` is None). The common case (an ndarray already of that dtype and shape) costs one
        ``isfinite`` pass; anything else goes through the full check, which converts first (1e39
        is finite in float64 and inf in float32)."""
        if not (type(x) is np.ndarray and x.dtype == self.dtype and x.ndim == 2 and x.shape[1] == width
                and (rows is None or x.shape[0] == rows) and np.isfinite(x).all()):
            x = check_array(name, x, shape=(rows, width), dtype=self.dtype)
        return x

    def _workspace(self, batch: int, kept: bool) -> _Workspace:
        # predict() has buffers of its own, so predicting between forward and backward is harmless.
        ws = self._workspaces.get((batch, kept))
        if ws is None:
            if len(self._workspaces) >= _MAX_CACHED_BATCH_SIZES:
                self._workspaces.clear()
            ws = self._workspaces[batch, kept] = _Workspace(batch, self.sizes, self.dtype)
        return ws

    def _run(self, x: np.ndarray, ws: _Workspace) -> np.ndarray:
        """The forward pass into ``ws``; returns a fresh ``(batch, sizes[-1])`` output array.

        Each ``A1[i]`` ends in a column of ones and each ``Wb[i]`` in the row ``b``, so one product
        ``A1 @ Wb`` is ``A @ W + b``: the bias costs no pass of its own here, and its gradient
        comes with ``dW`` in backward (measured: about 10 % of a 32-128-128-50 train step)."""
        ws.A1[0][:, :-1] = x                                  # a copy: the caller may reuse x
        for i in range(len(self.sizes) - 2):
            Z = np.matmul(ws.A1[i], self._Wb[i], out=ws.Z[i])   # Z = A @ W + b
            A = ws.A1[i + 1][:, :-1]
            if self.activation == "relu":                       # A = f(Z)
                np.maximum(Z, 0, out=A)
            else:
                np.tanh(Z, out=A)
        return ws.A1[-1] @ self._Wb[-1]                         # linear output layer

    def forward(self, x) -> np.ndarray:
        """``x`` of shape ``(batch, sizes[0])`` -> ``(batch, sizes[-1])``; keeps what backward needs.

        The input is copied (and converted to the network's dtype), so the caller may reuse it.
        """
        x = self._input("x", x, None, self.sizes[0])
        ws = self._workspace(x.shape[0], kept=True)
        out = self._run(x, ws)
        self._last = ws
        return out

    def predict(self, x) -> np.ndarray:
        """Forward without keeping anything: ``(batch, in)`` -> ``(batch, out)``, ``(in,)`` -> ``(out,)``."""
        if np.ndim(x) == 1:
            return self.predict(np.asarray(x)[None, :])[0]
        x = self._input("x", x, None, self.sizes[0])
        return self._run(x, self._workspace(x.shape[0], kept=False))

    def backward(self, grad_out, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate ``dL/dout`` of shape ``(batch, sizes[-1])`` through the last forward.

        Writes (does not accumulate) ``dL/dparams`` into ``self.grads`` and returns ``dL/dx`` of
        shape ``(batch, sizes[0])``, or ``None`` with ``input_grad=False`` (saves one matmul).
        For each layer, last to first::

            dW = A_prev.T @ dZ      db = dZ.sum(0)      dA_prev = dZ @ W.T
            dZ_prev = dA_prev * f'(Z_prev)    relu: (Z_prev > 0);  tanh: 1 - A_prev**2
        """
        ws = self._last
        if ws is None:
            raise RuntimeError("backward() called before forward(): there is nothing to differentiate")
        dZ = self._input("grad_out", grad_out, ws.A1[0].shape[0], self.sizes[-1])  # as the last output
        for i in reversed(range(len(self.weights))):
            np.matmul(ws.A1[i].T, dZ, out=self._dWb[i])        # [dW; db] = [A_prev, 1].T @ dZ
            if i == 0:
                break
            dA = np.matmul(dZ, self.weights[i].T, out=ws.dA[i - 1])  # dA_prev = dZ @ W.T
            if self.activation == "relu":                       # dZ_prev = dA_prev * f'(Z_prev)
                dA *= ws.Z[i - 1] > 0
            else:
                A = ws.A1[i][:, :-1]
                dA *= 1 - A * A
            dZ = dA
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
        n_params = count_params(sizes, where)
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
    def from_checkpoint(cls, ckpt, prefix: str = "") -> "MLP":
        """Read the network stored under ``prefix`` in a checkpoint opened by
        ``_checkpoint.open_checkpoint`` (an agent's file holds its networks under prefixes): sizes
        first, then the parameters' header against them, and only then the parameters."""
        sizes_shape, sizes_dtype = ckpt.headers[prefix + "sizes"]
        if len(sizes_shape) != 1 or not 2 <= sizes_shape[0] <= 1000 or sizes_dtype.kind not in "iu":
            raise ValueError(f"{ckpt.where}: {prefix}sizes must be 2 to 1000 integers, got {sizes_dtype} {sizes_shape}")
        sizes = [int(n) for n in ckpt.read(prefix + "sizes")]
        n_params = count_params(sizes, ckpt.where)
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
            return cls.from_checkpoint(ckpt)

    def __repr__(self) -> str:
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, "
                f"dtype={self.dtype.name}, n_params={self.n_params})")


def count_params(sizes: list, where: str) -> int:
    """How many parameters an ``MLP(sizes)`` has, ``sum(n_in * n_out + n_out)`` over the layers, in
    Python ints and before anything is allocated (for checking a file's declared sizes);
    ``where`` names the source in the error for invalid sizes."""
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError(f"{where} describes an invalid MLP: sizes {sizes} must be >= 2 widths, each >= 1")
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))

"""The networks every trainer produces: ``depth`` hidden tanh layers, two kinds of output head.

``HamiltonianNet`` (the HNN, a scalar head), with one hidden layer (the sampled trainers' and the
paper's network):
    Ĥ(x) = Σ_j c_j tanh(w_j·x + b_j) + c_0
    ∇Ĥ(x) = Σ_j c_j (1 − tanh²(w_j·x + b_j)) w_j        (analytic, no autograd needed)
    ẋ̂ = J ∇Ĥ(x),   J = [[0, I], [−I, 0]]
    ∇²Ĥ(x) = Σ_j c_j (−2 t_j (1 − t_j²)) w_j w_jᵀ,   t_j = tanh(w_j·x + b_j)   (analytic)
With ``depth`` L > 1 (the standard HNN tasks' published models: two layers of 200), h_0 = x,
h_l = tanh(W_l h_{l−1} + b_l), Ĥ = c·h_L + c_0, and ∇Ĥ by the same chain rule written out:
g_L = c ⊙ (1 − h_L²), g_{l−1} = (g_l W_l) ⊙ (1 − h_{l−1}²), ∇Ĥ = g_1 W_1 (still analytic and
differentiable in the weights; the Hessian, needed only by the backward-error correction, is
one-layer only).
``VectorFieldNet`` (the MLP / ODE-net, a 2n-vector head, no Hamiltonian):
    ẋ̂ = C h_L + c

Both share ``TanhNet``: ``torch.nn.Linear`` layers (``hidden``: W_1, b_1; ``deeper``: the layers
after the first; ``output``), so the backprop trainers get PyTorch's default (or an orthogonal)
initialisation and the sampled trainers overwrite the weights of their one-layer network; saved
without pickle (weights in ``.npz``, architecture and metadata in a JSON beside them).
``numpy_field()`` is the vector field as a numpy closure, with preallocated buffers at depth 1,
for the thousands of tiny steps of a rollout (≈ 9 µs a call for one state at width 500, torch
≈ 50 µs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def apply_J_torch(grad: torch.Tensor) -> torch.Tensor:
    """J ∇H for a batch (N, 2n): (∂H/∂p, −∂H/∂q)."""
    dof = grad.shape[-1] // 2
    return torch.cat([grad[..., dof:], -grad[..., :dof]], dim=-1)


class TanhNet(torch.nn.Module):
    """``depth`` hidden tanh layers of width ``hidden_width`` and a linear head of
    ``outputs(dim)``. The state-dict keys of a one-layer network are those of every earlier
    version (``hidden.*``, ``output.*``), so saved models keep loading."""

    #: the JSON's ``kind``, which ``load_network`` dispatches on
    kind: ClassVar[str]

    def __init__(
        self,
        input_dim: int,
        hidden_width: int,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        depth: int = 1,
    ) -> None:
        super().__init__()
        if input_dim < 2 or input_dim % 2:
            raise ValueError(f"input_dim={input_dim} must be an even number >= 2 (q and p)")
        if hidden_width < 1:
            raise ValueError(f"hidden_width={hidden_width} must be >= 1")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth={depth!r} must be an integer >= 1 (hidden layers)")
        self.input_dim = input_dim
        self.hidden_width = hidden_width
        self.depth = depth
        self.hidden = torch.nn.Linear(input_dim, hidden_width, dtype=dtype, device=device)
        self.deeper = torch.nn.ModuleList(
            torch.nn.Linear(hidden_width, hidden_width, dtype=dtype, device=device)
            for _ in range(depth - 1)
        )
        self.output = torch.nn.Linear(
            hidden_width, self.outputs(input_dim), dtype=dtype, device=device
        )

    @property
    def layers(self) -> list[torch.nn.Linear]:
        """The hidden layers, first to last."""
        return [self.hidden, *self.deeper]

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """h_1 … h_L, each (N, M)."""
        out, h = [], x
        for layer in self.layers:
            h = torch.tanh(layer(h))
            out.append(h)
        return out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h_L, the last hidden layer's activation (N, M)."""
        return self.activations(x)[-1]

    def one_layer_only(self, what: str) -> None:
        """Refuse ``what`` on a deeper network in one line."""
        if self.depth != 1:
            raise ValueError(f"{what} needs a network with one hidden layer; this one has depth "
                             f"{self.depth}")  # fmt: skip

    @staticmethod
    def outputs(input_dim: int) -> int:
        """Width of the output head."""
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype:
        return self.hidden.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.hidden.weight.device

    def as_tensor(self, x: ArrayLike) -> torch.Tensor:
        """Put an array on the network's device and dtype."""
        return torch.as_tensor(x, dtype=self.dtype, device=self.device)

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        """ẋ̂(x) for a batch (N, 2n) → (N, 2n)."""
        raise NotImplementedError

    @torch.no_grad()
    def set_weights(
        self,
        hidden_weight: ArrayLike,
        hidden_bias: ArrayLike,
        output_weight: ArrayLike,
        output_bias: float | ArrayLike,
    ) -> None:
        """Overwrite all weights of a one-layer network (W: (M, 2n), b: (M,), output weight
        (outputs, M) — a vector (M,) for one output —, output bias (outputs,) or a scalar)."""
        self.one_layer_only("set_weights")
        self.hidden.weight.copy_(self.as_tensor(hidden_weight).reshape(self.hidden_width, -1))
        self.hidden.bias.copy_(self.as_tensor(hidden_bias).reshape(-1))
        self.output.weight.copy_(self.as_tensor(output_weight).reshape(self.output.weight.shape))
        self.output.bias.copy_(self.as_tensor(output_bias).reshape(self.output.bias.shape))

    @torch.no_grad()
    def predict_vector_field(self, x: ArrayLike) -> np.ndarray:
        return self.vector_field(self.as_tensor(x)).cpu().numpy()

    def head(self) -> tuple[np.ndarray, np.ndarray]:
        """(K (M, 2n), k (2n,)) with ẋ̂ = a(x) K + k, a the hidden activation of ``numpy_field``."""
        raise NotImplementedError

    #: the numpy closure's hidden activation: tanh (False) or its derivative 1 − tanh² (True)
    uses_slope: ClassVar[bool] = False

    @torch.no_grad()
    def numpy_field(self) -> Callable[[np.ndarray], np.ndarray]:
        """ẋ̂ as a numpy function of a batch (R, 2n), weights copied once (in the network's
        dtype, on the CPU) and, at depth 1, the (R, M) buffer reused while R stays the same: a
        rollout's thousands of small steps cost a few numpy calls each, not a torch dispatch."""
        if self.depth > 1:
            layers = [
                (layer.weight.T.cpu().numpy().copy(), layer.bias.cpu().numpy().copy())
                for layer in self.layers
            ]
            return self._deep_numpy_field(layers)
        w_t = self.hidden.weight.T.cpu().numpy().copy()  # (2n, M)
        bias = self.hidden.bias.cpu().numpy().copy()
        matrix, offset = self.head()
        slope = self.uses_slope
        buffers: dict[int, np.ndarray] = {}

        def field(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=w_t.dtype)
            rows = x.shape[0]
            act = buffers.get(rows)
            if act is None:
                act = buffers[rows] = np.empty((rows, w_t.shape[1]), dtype=w_t.dtype)
            np.matmul(x, w_t, out=act)
            act += bias
            np.tanh(act, out=act)
            if slope:
                np.multiply(act, act, out=act)
                np.subtract(1, act, out=act)
            return act @ matrix + offset

        return field

    def _deep_numpy_field(
        self, layers: list[tuple[np.ndarray, np.ndarray]]
    ) -> Callable[[np.ndarray], np.ndarray]:
        """``numpy_field`` of a network with several hidden layers ((Wᵀ, b) per layer)."""
        raise NotImplementedError

    # -- persistence without pickle -----------------------------------------------------------
    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write ``path`` (.npz weights) and ``path`` with suffix .json (architecture, metadata)."""
        path = Path(path)
        arrays = {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}
        np.savez(path.with_suffix(".npz"), **arrays)
        info = {
            "kind": self.kind,
            "input_dim": self.input_dim,
            "hidden_width": self.hidden_width,
            "depth": self.depth,
            "dtype": str(self.dtype).removeprefix("torch."),
            "metadata": metadata or {},
        }
        path.with_suffix(".json").write_text(json.dumps(info, indent=2, default=str))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> TanhNet:
        """Read a network written by :meth:`save` (``allow_pickle=False``); the class is the
        JSON's ``kind`` (files without one are HNNs), which must be ``cls`` or a subclass;
        files without a ``depth`` have one hidden layer."""
        path = Path(path)
        info = json.loads(path.with_suffix(".json").read_text())
        kind = info.get("kind", HamiltonianNet.kind)
        if kind not in NETWORKS:
            raise ValueError(f"{path}: unknown network kind {kind!r}; known: {sorted(NETWORKS)}")
        net_class = NETWORKS[kind]
        if not issubclass(net_class, cls):
            raise ValueError(f"{path} holds a {net_class.__name__}, not a {cls.__name__}")
        net = net_class(
            info["input_dim"],
            info["hidden_width"],
            getattr(torch, info["dtype"]),
            device=device,
            depth=int(info.get("depth", 1)),
        )
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:
            state = {k: torch.as_tensor(arrays[k]) for k in arrays.files}
        net.load_state_dict(state)
        return net


class HamiltonianNet(TanhNet):
    """The HNN: a linear scalar head Ĥ; the vector field is J ∇Ĥ (analytic)."""

    kind = "hamiltonian"
    uses_slope = True

    @staticmethod
    def outputs(input_dim: int) -> int:
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Ĥ(x) for a batch (N, 2n) → (N,)."""
        return self.output(self.features(x)).squeeze(-1)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic ∇Ĥ(x), shape (N, 2n); differentiable with respect to the weights. At depth 1
        this is (1 − tanh²(Wx + b)) ⊙ c times W; deeper, the chain rule layer by layer."""
        activations = self.activations(x)
        g = self.output.weight  # (1, M): ∂Ĥ/∂h_L
        for layer, h in zip(reversed(self.layers), reversed(activations), strict=True):
            g = ((1 - h**2) * g) @ layer.weight
        return g

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        """ẋ̂ = J ∇Ĥ(x)."""
        return apply_J_torch(self.grad(x))

    def _curvature(self, x: torch.Tensor) -> torch.Tensor:
        """c_j · tanh''(w_j·x + b_j) per point and neuron (N, M): tanh'' = −2t(1 − t²)."""
        self.one_layer_only("the analytic Hessian")
        t = torch.tanh(self.hidden(x))
        return -2 * t * (1 - t**2) * self.output.weight

    def hessian(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic ∇²Ĥ(x), shape (N, 2n, 2n)."""
        w = self.hidden.weight  # (M, 2n)
        return torch.einsum("nm,mi,mj->nij", self._curvature(x), w, w)

    def hessian_form(self, x: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """uᵀ ∇²Ĥ(x) v per point (u, v: (N, 2n)) → (N,), without forming the (2n)² Hessian."""
        w = self.hidden.weight
        return (self._curvature(x) * (u @ w.T) * (v @ w.T)).sum(-1)

    @torch.no_grad()
    def head(self) -> tuple[np.ndarray, np.ndarray]:
        # J ∇Ĥ = J ((s ⊙ c) W)ᵀ = s (c ⊙ W) Jᵀ: the slopes times one (M, 2n) matrix
        self.one_layer_only("head")
        scaled = self.hidden.weight * self.output.weight.reshape(-1, 1)
        matrix = apply_J_torch(scaled).cpu().numpy().copy()
        return matrix, np.zeros(self.input_dim, dtype=matrix.dtype)

    def _deep_numpy_field(
        self, layers: list[tuple[np.ndarray, np.ndarray]]
    ) -> Callable[[np.ndarray], np.ndarray]:
        c = self.output.weight.cpu().numpy().reshape(-1).copy()
        dof = self.input_dim // 2

        def field(x: np.ndarray) -> np.ndarray:
            h = np.asarray(x, dtype=c.dtype)
            slopes = []
            for w_t, bias in layers:
                h = np.tanh(h @ w_t + bias)
                slopes.append(1 - h * h)
            g = c * slopes[-1]
            for (w_t, _), slope in zip(layers[:0:-1], slopes[-2::-1], strict=True):
                g = (g @ w_t.T) * slope
            grad = g @ layers[0][0].T
            return np.concatenate([grad[:, dof:], -grad[:, :dof]], axis=1)

        return field

    @torch.no_grad()
    def shift_to_anchor(self, anchor: ArrayLike, anchor_H: float) -> None:
        """Shift the output bias c_0 so that Ĥ(x0) = H0."""
        value = self(self.as_tensor(anchor).reshape(1, -1))[0]
        self.output.bias += anchor_H - value

    # -- numpy conveniences for evaluation at the edges ------------------------------------
    @torch.no_grad()
    def predict_H(self, x: ArrayLike) -> np.ndarray:
        return self(self.as_tensor(x)).cpu().numpy()

    @torch.no_grad()
    def predict_grad(self, x: ArrayLike) -> np.ndarray:
        return self.grad(self.as_tensor(x)).cpu().numpy()


class VectorFieldNet(TanhNet):
    """The MLP (ODE-net): a linear 2n-vector head ẋ̂ = C h_L + c (h_1 = tanh(Wx + b)); no
    Hamiltonian, so it has no ``predict_H`` / ``predict_grad`` and the H metrics of its runs are
    null."""

    kind = "vector_field"

    @staticmethod
    def outputs(input_dim: int) -> int:
        return input_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ẋ̂(x) for a batch (N, 2n) → (N, 2n)."""
        return self.output(self.features(x))

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    @torch.no_grad()
    def head(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.output.weight.T.cpu().numpy().copy(),
            self.output.bias.cpu().numpy().copy(),
        )

    def _deep_numpy_field(
        self, layers: list[tuple[np.ndarray, np.ndarray]]
    ) -> Callable[[np.ndarray], np.ndarray]:
        matrix, offset = self.head()

        def field(x: np.ndarray) -> np.ndarray:
            h = np.asarray(x, dtype=matrix.dtype)
            for w_t, bias in layers:
                h = np.tanh(h @ w_t + bias)
            return h @ matrix + offset

        return field


#: network kind (the saved JSON's ``kind``) → class
NETWORKS: dict[str, type[TanhNet]] = {
    HamiltonianNet.kind: HamiltonianNet,
    VectorFieldNet.kind: VectorFieldNet,
}


def load_network(path: str | Path, device: str | torch.device = "cpu") -> TanhNet:
    """Either kind of network written by ``save`` (its JSON says which)."""
    return TanhNet.load(path, device)

"""The networks every trainer produces: one hidden tanh layer, two kinds of output head.

``HamiltonianNet`` (the HNN, a scalar head):
    Ĥ(x) = Σ_j c_j tanh(w_j·x + b_j) + c_0
    ∇Ĥ(x) = Σ_j c_j (1 − tanh²(w_j·x + b_j)) w_j        (analytic, no autograd needed)
    ẋ̂ = J ∇Ĥ(x),   J = [[0, I], [−I, 0]]
    ∇²Ĥ(x) = Σ_j c_j (−2 t_j (1 − t_j²)) w_j w_jᵀ,   t_j = tanh(w_j·x + b_j)   (analytic)
``VectorFieldNet`` (the MLP / ODE-net, a 2n-vector head, no Hamiltonian):
    ẋ̂ = C tanh(W x + b) + c

Both share ``OneHiddenLayerNet``: weights in two ``torch.nn.Linear`` layers (hidden: W, b; output),
so the backprop trainers get PyTorch's default initialisation and the sampled trainers overwrite
the weights; saved without pickle (weights in ``.npz``, architecture and metadata in a JSON beside
them). ``numpy_field()`` is the vector field as a numpy closure with preallocated buffers, for the
thousands of tiny steps of a rollout (≈ 9 µs a call for one state at width 500, torch ≈ 50 µs).
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


class OneHiddenLayerNet(torch.nn.Module):
    """One hidden tanh layer of width ``hidden_width`` and a linear head of ``outputs(dim)``."""

    #: the JSON's ``kind``, which ``load_network`` dispatches on
    kind: ClassVar[str]

    def __init__(
        self,
        input_dim: int,
        hidden_width: int,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        if input_dim < 2 or input_dim % 2:
            raise ValueError(f"input_dim={input_dim} must be an even number >= 2 (q and p)")
        if hidden_width < 1:
            raise ValueError(f"hidden_width={hidden_width} must be >= 1")
        self.input_dim = input_dim
        self.hidden_width = hidden_width
        self.hidden = torch.nn.Linear(input_dim, hidden_width, dtype=dtype, device=device)
        self.output = torch.nn.Linear(
            hidden_width, self.outputs(input_dim), dtype=dtype, device=device
        )

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
        """Overwrite all weights (W: (M, 2n), b: (M,), output weight (outputs, M) — a vector
        (M,) for one output —, output bias (outputs,) or a scalar)."""
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
        dtype, on the CPU) and the (R, M) buffer reused while R stays the same: a rollout's
        thousands of small steps cost a few numpy calls each, not a torch dispatch."""
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
            "dtype": str(self.dtype).removeprefix("torch."),
            "metadata": metadata or {},
        }
        path.with_suffix(".json").write_text(json.dumps(info, indent=2, default=str))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> OneHiddenLayerNet:
        """Read a network written by :meth:`save` (``allow_pickle=False``); the class is the
        JSON's ``kind`` (files without one are HNNs), which must be ``cls`` or a subclass."""
        path = Path(path)
        info = json.loads(path.with_suffix(".json").read_text())
        kind = info.get("kind", HamiltonianNet.kind)
        if kind not in NETWORKS:
            raise ValueError(f"{path}: unknown network kind {kind!r}; known: {sorted(NETWORKS)}")
        net_class = NETWORKS[kind]
        if not issubclass(net_class, cls):
            raise ValueError(f"{path} holds a {net_class.__name__}, not a {cls.__name__}")
        net = net_class(
            info["input_dim"], info["hidden_width"], getattr(torch, info["dtype"]), device=device
        )
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:
            state = {k: torch.as_tensor(arrays[k]) for k in arrays.files}
        net.load_state_dict(state)
        return net


class HamiltonianNet(OneHiddenLayerNet):
    """The HNN: a linear scalar head Ĥ; the vector field is J ∇Ĥ (analytic)."""

    kind = "hamiltonian"
    uses_slope = True

    @staticmethod
    def outputs(input_dim: int) -> int:
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Ĥ(x) for a batch (N, 2n) → (N,)."""
        return self.output(torch.tanh(self.hidden(x))).squeeze(-1)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic ∇Ĥ(x), shape (N, 2n); differentiable with respect to the weights."""
        slope = 1 - torch.tanh(self.hidden(x)) ** 2  # (N, M)
        return (slope * self.output.weight) @ self.hidden.weight

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        """ẋ̂ = J ∇Ĥ(x)."""
        return apply_J_torch(self.grad(x))

    def _curvature(self, x: torch.Tensor) -> torch.Tensor:
        """c_j · tanh''(w_j·x + b_j) per point and neuron (N, M): tanh'' = −2t(1 − t²)."""
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
        scaled = self.hidden.weight * self.output.weight.reshape(-1, 1)
        matrix = apply_J_torch(scaled).cpu().numpy().copy()
        return matrix, np.zeros(self.input_dim, dtype=matrix.dtype)

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


class VectorFieldNet(OneHiddenLayerNet):
    """The MLP (ODE-net): a linear 2n-vector head ẋ̂ = C tanh(Wx + b) + c; no Hamiltonian, so it
    has no ``predict_H`` / ``predict_grad`` and the H metrics of its runs are null."""

    kind = "vector_field"

    @staticmethod
    def outputs(input_dim: int) -> int:
        return input_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ẋ̂(x) for a batch (N, 2n) → (N, 2n)."""
        return self.output(torch.tanh(self.hidden(x)))

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    @torch.no_grad()
    def head(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.output.weight.T.cpu().numpy().copy(),
            self.output.bias.cpu().numpy().copy(),
        )


#: network kind (the saved JSON's ``kind``) → class
NETWORKS: dict[str, type[OneHiddenLayerNet]] = {
    HamiltonianNet.kind: HamiltonianNet,
    VectorFieldNet.kind: VectorFieldNet,
}


def load_network(path: str | Path, device: str | torch.device = "cpu") -> OneHiddenLayerNet:
    """Either kind of network written by ``save`` (its JSON says which)."""
    return OneHiddenLayerNet.load(path, device)

"""The one network both trainers produce.

    Ĥ(x) = Σ_j c_j tanh(w_j·x + b_j) + c_0
    ∇Ĥ(x) = Σ_j c_j (1 − tanh²(w_j·x + b_j)) w_j        (analytic, no autograd needed)
    ẋ̂ = J ∇Ĥ(x),   J = [[0, I], [−I, 0]]
    ∇²Ĥ(x) = Σ_j c_j (−2 t_j (1 − t_j²)) w_j w_jᵀ,   t_j = tanh(w_j·x + b_j)   (analytic)

Weights live in two ``torch.nn.Linear`` layers (hidden: W, b; output: c, c_0), so the Adam trainer
gets PyTorch's default initialisation and the sampled trainer simply overwrites the weights.
Saved without pickle: weights in ``.npz``, the architecture and metadata in a JSON beside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def apply_J_torch(grad: torch.Tensor) -> torch.Tensor:
    """J ∇H for a batch (N, 2n): (∂H/∂p, −∂H/∂q)."""
    dof = grad.shape[-1] // 2
    return torch.cat([grad[..., dof:], -grad[..., :dof]], dim=-1)


class HamiltonianNet(torch.nn.Module):
    """One hidden tanh layer of width ``hidden_width`` and a linear scalar output."""

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
        self.output = torch.nn.Linear(hidden_width, 1, dtype=dtype, device=device)

    @property
    def dtype(self) -> torch.dtype:
        return self.hidden.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.hidden.weight.device

    def as_tensor(self, x: ArrayLike) -> torch.Tensor:
        """Put an array on the network's device and dtype."""
        return torch.as_tensor(x, dtype=self.dtype, device=self.device)

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
    def set_weights(
        self,
        hidden_weight: ArrayLike,
        hidden_bias: ArrayLike,
        output_weight: ArrayLike,
        output_bias: float | ArrayLike,
    ) -> None:
        """Overwrite all weights (W: (M, 2n), b: (M,), c: (M,), c_0: scalar)."""
        self.hidden.weight.copy_(self.as_tensor(hidden_weight).reshape(self.hidden_width, -1))
        self.hidden.bias.copy_(self.as_tensor(hidden_bias).reshape(-1))
        self.output.weight.copy_(self.as_tensor(output_weight).reshape(1, -1))
        self.output.bias.copy_(self.as_tensor(output_bias).reshape(1))

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

    @torch.no_grad()
    def predict_vector_field(self, x: ArrayLike) -> np.ndarray:
        return self.vector_field(self.as_tensor(x)).cpu().numpy()

    # -- persistence without pickle -----------------------------------------------------------
    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write ``path`` (.npz weights) and ``path`` with suffix .json (architecture, metadata)."""
        path = Path(path)
        arrays = {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}
        np.savez(path.with_suffix(".npz"), **arrays)
        info = {
            "input_dim": self.input_dim,
            "hidden_width": self.hidden_width,
            "dtype": str(self.dtype).removeprefix("torch."),
            "metadata": metadata or {},
        }
        path.with_suffix(".json").write_text(json.dumps(info, indent=2, default=str))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> HamiltonianNet:
        """Read a network written by :meth:`save` (``allow_pickle=False``)."""
        path = Path(path)
        info = json.loads(path.with_suffix(".json").read_text())
        net = cls(
            info["input_dim"], info["hidden_width"], getattr(torch, info["dtype"]), device=device
        )
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:
            state = {k: torch.as_tensor(arrays[k]) for k in arrays.files}
        net.load_state_dict(state)
        return net

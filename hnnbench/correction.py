"""Backward-error correction of an Ĥ learned from snapshot pairs (``evaluation.correction``).

Fitted to the quotients (x_{n+1} − x_n)/h at (q_{n+1}, p_n), Ĥ is the Hamiltonian whose
symplectic Euler step reproduces the exact flow Φ_h of H: H is (up to O(h³)) the modified
Hamiltonian of Ĥ for that method (Hairer, Lubich, Wanner, ch. IX), so

    none:   H ≈ Ĥ                                                      error O(h)
    first:  H ≈ Ĥ + (h/2) Ĥ_q·Ĥ_p                                      error O(h²) (the paper's)
    second: H ≈ Ĥ + (h/2) Ĥ_q·Ĥ_p
                  + (h²/12) (Ĥ_qᵀ Ĥ_pp Ĥ_q + Ĥ_pᵀ Ĥ_qq Ĥ_p + 4 Ĥ_pᵀ Ĥ_qp Ĥ_q)    error O(h³)

with (Ĥ_qp)_kl = ∂²Ĥ/∂q_k∂p_l, so the cross term is Σ_kl Ĥ_{p_k} Ĥ_{q_k p_l} Ĥ_{q_l}: Ĥ_p meets
the q index (tests/test_snapshots.py checks the n-dof form on 2 degrees of freedom, where the
other contraction, Ĥ_qᵀ Ĥ_qp Ĥ_p, leaves the error at O(h²)). Computed from the network's
analytic ∇Ĥ and Hessian quadratic forms (n degrees of freedom); the additive
constant is fixed at the anchor afterwards. The correction changes the H metrics only: ∇Ĥ, ẋ̂
and the rollouts stay the network's own (the paper corrects H; a corrected vector field would
need third derivatives for the second order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from hnnbench.model import is_hamiltonian
from hnnbench.network import ArrayLike, HamiltonianNet

CORRECTIONS = ("none", "first", "second")


def corrected_H(net: HamiltonianNet, x: torch.Tensor, h: float, order: str) -> torch.Tensor:
    """Ĥ plus the correction terms up to ``order`` (no anchor shift), shape (N,)."""
    value = net(x)
    if order == "none":
        return value
    grad = net.grad(x)
    dof = grad.shape[-1] // 2
    gq, gp = grad[:, :dof], grad[:, dof:]
    value = value + (h / 2) * (gq * gp).sum(-1)
    if order == "second":
        zero = torch.zeros_like(gq)
        q_part = torch.cat([zero, gq], dim=-1)  # Ĥ_q placed in the p slots: Ĥ_qᵀ Ĥ_pp Ĥ_q
        p_part = torch.cat([gp, zero], dim=-1)  # Ĥ_p placed in the q slots: Ĥ_pᵀ Ĥ_qq Ĥ_p
        # cross term Σ_kl Ĥ_{p_k} ∂²Ĥ/∂q_k∂p_l Ĥ_{q_l}: Ĥ_p contracts the q index (with Ĥ_q
        # there instead, the same in one dof, the 2-dof test sees no third order)
        quadratic = (
            net.hessian_form(x, q_part, q_part)
            + net.hessian_form(x, p_part, p_part)
            + 4 * net.hessian_form(x, p_part, q_part)
        )
        value = value + (h**2 / 12) * quadratic
    return value


class CorrectedModel:
    """The network with its Ĥ replaced by the corrected one, shifted so that H(x0) = H0;
    ∇Ĥ and the vector field are the network's."""

    def __init__(
        self, net: HamiltonianNet, h: float, order: str, anchor: ArrayLike, anchor_H: float
    ) -> None:
        self.net, self.h, self.order = net, float(h), order
        with torch.no_grad():
            at_anchor = corrected_H(net, net.as_tensor(anchor).reshape(1, -1), self.h, order)
        self.offset = float(anchor_H) - float(at_anchor[0])

    @torch.no_grad()
    def predict_H(self, x: ArrayLike) -> np.ndarray:
        value = corrected_H(self.net, self.net.as_tensor(x), self.h, self.order)
        return value.cpu().numpy() + self.offset

    def predict_grad(self, x: ArrayLike) -> np.ndarray:
        return self.net.predict_grad(x)

    def predict_vector_field(self, x: ArrayLike) -> np.ndarray:
        return self.net.predict_vector_field(x)

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """The network itself (the correction is a function of it, h and the order)."""
        self.net.save(path, {**(metadata or {}), "correction": self.order, "dt_obs": self.h})


def corrected(model: Any, order: str, h: float | None, anchor: ArrayLike, anchor_H: float) -> Any:
    """``model`` with the correction applied (unchanged for ``none`` or a model without Ĥ)."""
    if order == "none" or not is_hamiltonian(model):
        return model
    if not isinstance(model, HamiltonianNet):
        raise TypeError(
            f"correction={order!r} needs the analytic derivatives of HamiltonianNet, "
            f"not a {type(model).__name__}"
        )
    if h is None:
        raise ValueError(f"correction={order!r} needs the observation step dt_obs")
    return CorrectedModel(model, h, order, anchor, anchor_H)

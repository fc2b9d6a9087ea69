"""Fermi–Pasta–Ulam–Tsingou β chain with fixed ends, n = ``dof`` moving particles (1 … 64).

    H = Σ_{k=1}^{n} p_k²/2 + Σ_{k=0}^{n} [ d_k²/2 + β d_k⁴/4 ],   d_k = q_{k+1} − q_k,
    q_0 = q_{n+1} = 0 (the walls).

β = 0 is the harmonic chain: normal modes sin(j k π/(n+1)) with ω_k = 2 sin(k π/(2(n+1))), an
exact solution the tests compare with. β ≥ 0 keeps the potential confining (β < 0 is rejected).

Default domain: q ∈ [−1, 1]ⁿ, p ∈ [−1, 1]ⁿ. With β = 1 a uniform state has bond stretches up to 2
(1 at the walls), where the quartic term (up to 4) outweighs the quadratic one (up to 2): the
sampled states are in the nonlinear regime, with energies of order one per particle. The anchor
is the origin (the chain at rest, H = 0).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from hnnbench.systems.base import ScalableSystem


class FPUT(ScalableSystem):
    name = "fput"
    default_dof = 8
    defaults = {"beta": 1.0}

    def __init__(
        self,
        domain: Sequence[Sequence[float]] | None = None,
        dof: int | None = None,
        **params: Any,
    ) -> None:
        super().__init__(domain, dof, **params)
        if self.beta < 0:  # a negative quartic term is not confining: orbits escape
            raise ValueError(f"parameter beta={self.beta!r} of 'fput' must be >= 0")

    def default_domain(self) -> list[list[float]]:
        return [[-1.0, 1.0]] * (2 * self.dof)

    def _stretches(self, q: np.ndarray) -> np.ndarray:
        """Bond stretches d_k = q_{k+1} − q_k, k = 0..n, with the fixed ends: (N, n + 1)."""
        walls = np.zeros((len(q), 1))
        return np.diff(np.hstack([walls, q, walls]), axis=1)

    def H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, self.dof)
        d = self._stretches(q)
        potential = np.sum(0.5 * d**2 + 0.25 * self.beta * d**4, axis=1)
        return 0.5 * np.sum(p**2, axis=1) + potential

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, self.dof)
        d = self._stretches(q)
        force = d + self.beta * d**3  # V'(d_k)
        # q_k is the right end of bond k−1 and the left end of bond k
        return np.hstack([force[:, :-1] - force[:, 1:], p])

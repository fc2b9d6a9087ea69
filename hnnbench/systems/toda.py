"""Periodic Toda lattice, n = ``dof`` particles on a ring (1 … 64).

    H = Σ_{k=1}^{n} p_k²/2 + Σ_{k=1}^{n} [ exp(q_k − q_{k+1}) − 1 ],   q_{n+1} = q_1.

The −1 per bond makes H(0) = 0 (the anchor is the origin); the linear term of the usual
exp(r) − 1 − r form is left out because the stretches of a ring sum to zero. The periodic
lattice is chosen over the open chain because its relative motion is bounded (the open chain
flies apart); it is integrable: besides H, the total momentum P = Σ p_k and
I₃ = Σ p_k³/3 + Σ (p_k + p_{k+1}) exp(q_k − q_{k+1}) are conserved (tested). Its centre of mass
moves uniformly with velocity P/n, and H is invariant under a common shift of every q_k.
n = 1 is a free particle (its one bond is q_1 − q_1 = 0).

Default domain: q ∈ [−1, 1]ⁿ, p ∈ [−1, 1]ⁿ: neighbour stretches stay within [−2, 2], so the exp
terms stay moderate (at most e² ≈ 7.4) while still far from their harmonic approximation.
"""

import numpy as np

from hnnbench.systems.base import ScalableSystem


class Toda(ScalableSystem):
    name = "toda"
    default_dof = 8
    defaults: dict[str, float] = {}

    def default_domain(self) -> list[list[float]]:
        return [[-1.0, 1.0]] * (2 * self.dof)

    @staticmethod
    def _bonds(q: np.ndarray) -> np.ndarray:
        """exp(q_k − q_{k+1}) around the ring: (N, n)."""
        return np.exp(q - np.roll(q, -1, axis=1))

    def H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, self.dof)
        return 0.5 * np.sum(p**2, axis=1) + np.sum(self._bonds(q) - 1.0, axis=1)

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, self.dof)
        bonds = self._bonds(q)
        # q_k is the left end of bond k and the right end of bond k−1
        return np.hstack([bonds - np.roll(bonds, 1, axis=1), p])

    def momentum(self, x: np.ndarray) -> np.ndarray:
        """Total momentum P = Σ p_k (conserved), (N,)."""
        return np.sum(self._split(x, self.dof)[1], axis=1)

    def third_integral(self, x: np.ndarray) -> np.ndarray:
        """I₃ = Σ p_k³/3 + Σ (p_k + p_{k+1}) exp(q_k − q_{k+1}) (conserved), (N,)."""
        q, p = self._split(x, self.dof)
        pairs = p + np.roll(p, -1, axis=1)
        return np.sum(p**3, axis=1) / 3 + np.sum(pairs * self._bonds(q), axis=1)

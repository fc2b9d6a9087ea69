"""Hénon–Heiles: H = (p1² + p2²)/2 + (q1² + q2²)/2 + α (q1² q2 − q2³/3).

For α ≠ 0 the potential has three saddles at distance 1/|α| from the origin, all at the escape
energy 1/(6α²) (1/6 at α = 1): below it the level set around the origin is bounded (inside the
triangle through the saddles) and every orbit started there stays there; above it orbits can
escape and blow up in finite time. Hénon and Heiles (1964) studied energies 1/12, 1/8 and 1/6.
"""

import numpy as np

from hnnbench.systems.base import HamiltonianSystem


class HenonHeiles(HamiltonianSystem):
    name = "henon_heiles"
    dof = 2
    defaults = {"alpha": 1.0}

    def default_domain(self) -> list[list[float]]:
        return [[-5.0, 5.0]] * 4

    def H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 2)
        q1, q2 = q[:, 0], q[:, 1]
        quadratic = 0.5 * np.sum(p**2, axis=1) + 0.5 * np.sum(q**2, axis=1)
        return quadratic + self.alpha * (q1**2 * q2 - q2**3 / 3)

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 2)
        q1, q2 = q[:, 0], q[:, 1]
        dq1 = q1 + 2 * self.alpha * q1 * q2
        dq2 = q2 + self.alpha * (q1**2 - q2**2)
        return np.column_stack([dq1, dq2, p[:, 0], p[:, 1]])

    def escape_energy(self) -> float | None:
        """1/(6α²); None at α = 0 (two uncoupled oscillators: nothing escapes)."""
        return None if self.alpha == 0 else 1 / (6 * self.alpha**2)

    def well_box(self, energy: float) -> np.ndarray | None:
        """|q_i| <= 1/|α| (the well lies in the triangle whose corners are the saddles) and
        |p_i| <= √(2E) (the potential is >= 0 in the well)."""
        if self.alpha == 0:
            return None
        reach = [1 / abs(self.alpha)] * 2 + [float(np.sqrt(2 * energy))] * 2
        return np.array([[-r, r] for r in reach])

"""Hénon–Heiles: H = (p1² + p2²)/2 + (q1² + q2²)/2 + α (q1² q2 − q2³/3)."""

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

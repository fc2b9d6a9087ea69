"""Double pendulum in canonical coordinates.

With Δ = q1 − q2:
    T = [m2 l2² p1² + (m1+m2) l1² p2² − 2 m2 l1 l2 p1 p2 cos Δ] / [2 m2 l1² l2² (m1 + m2 sin² Δ)]
    V = −(m1+m2) g l1 cos q1 − m2 g l2 cos q2,        H = T + V.
"""

import numpy as np

from hnnbench.systems.base import HamiltonianSystem


class DoublePendulum(HamiltonianSystem):
    name = "double_pendulum"
    dof = 2
    defaults = {"m1": 1.0, "m2": 1.0, "l1": 1.0, "l2": 1.0, "g": 1.0}
    positive = ("m1", "m2", "l1", "l2", "g")

    def default_domain(self) -> list[list[float]]:
        return [[-np.pi, np.pi], [-np.pi, np.pi], [-1.0, 1.0], [-1.0, 1.0]]

    def _kinetic_parts(self, q: np.ndarray, p: np.ndarray):
        m1, m2, l1, l2 = self.m1, self.m2, self.l1, self.l2
        delta = q[:, 0] - q[:, 1]
        cos_d, sin_d = np.cos(delta), np.sin(delta)
        p1, p2 = p[:, 0], p[:, 1]
        numerator = (
            m2 * l2**2 * p1**2 + (m1 + m2) * l1**2 * p2**2 - 2 * m2 * l1 * l2 * p1 * p2 * cos_d
        )
        denominator = 2 * m2 * l1**2 * l2**2 * (m1 + m2 * sin_d**2)
        return numerator, denominator, cos_d, sin_d

    def H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 2)
        numerator, denominator, _, _ = self._kinetic_parts(q, p)
        potential = -(self.m1 + self.m2) * self.g * self.l1 * np.cos(q[:, 0]) - (
            self.m2 * self.g * self.l2 * np.cos(q[:, 1])
        )
        return numerator / denominator + potential

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 2)
        m1, m2, l1, l2, g = self.m1, self.m2, self.l1, self.l2, self.g
        numerator, denominator, cos_d, sin_d = self._kinetic_parts(q, p)
        p1, p2 = p[:, 0], p[:, 1]
        # derivatives of numerator and denominator with respect to Δ = q1 − q2
        d_num = 2 * m2 * l1 * l2 * p1 * p2 * sin_d
        d_den = 2 * m2 * l1**2 * l2**2 * (2 * m2 * sin_d * cos_d)
        d_kinetic = (d_num * denominator - numerator * d_den) / denominator**2
        dq1 = d_kinetic + (m1 + m2) * g * l1 * np.sin(q[:, 0])
        dq2 = -d_kinetic + m2 * g * l2 * np.sin(q[:, 1])
        dp1 = (2 * m2 * l2**2 * p1 - 2 * m2 * l1 * l2 * p2 * cos_d) / denominator
        dp2 = (2 * (m1 + m2) * l1**2 * p2 - 2 * m2 * l1 * l2 * p1 * cos_d) / denominator
        return np.column_stack([dq1, dq2, dp1, dp2])

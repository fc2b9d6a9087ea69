"""Pendulum: H = p²/(2 m l²) + m g l (1 − cos(f q))."""

import numpy as np

from hnnbench.systems.base import HamiltonianSystem


class Pendulum(HamiltonianSystem):
    name = "pendulum"
    dof = 1
    defaults = {"m": 1.0, "l": 1.0, "g": 1.0, "frequency": 1.0}
    positive = ("m", "l", "g", "frequency")

    def default_domain(self) -> list[list[float]]:
        return [[-2 * np.pi, 2 * np.pi], [-1.0, 1.0]]

    def H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 1)
        kinetic = p[:, 0] ** 2 / (2 * self.m * self.l**2)
        return kinetic + self.m * self.g * self.l * (1 - np.cos(self.frequency * q[:, 0]))

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 1)
        dq = self.m * self.g * self.l * self.frequency * np.sin(self.frequency * q)
        dp = p / (self.m * self.l**2)
        return np.concatenate([dq, dp], axis=1)

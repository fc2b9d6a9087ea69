"""Mass–spring: H = k q²/2 + p²/(2m)."""

import numpy as np

from hnnbench.systems.base import HamiltonianSystem


class Spring(HamiltonianSystem):
    name = "spring"
    dof = 1
    defaults = {"m": 1.0, "k": 1.0}
    positive = ("m", "k")

    def default_domain(self) -> list[list[float]]:
        return [[-1.0, 1.0], [-1.0, 1.0]]

    def H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 1)
        return self.k * q[:, 0] ** 2 / 2 + p[:, 0] ** 2 / (2 * self.m)

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 1)
        return np.concatenate([self.k * q, p / self.m], axis=1)

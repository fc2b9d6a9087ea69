"""Lotka–Volterra in log coordinates: H = δ eᵖ − γ p + β e^q − α q."""

import numpy as np

from hnnbench.systems.base import HamiltonianSystem


class LotkaVolterra(HamiltonianSystem):
    name = "lotka_volterra"
    dof = 1
    defaults = {"alpha": -2.0, "beta": -1.0, "gamma": -1.0, "delta": -1.0}

    def default_domain(self) -> list[list[float]]:
        return [[-2.0, 2.0], [-2.0, 2.0]]

    def H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 1)
        q, p = q[:, 0], p[:, 0]
        return self.delta * np.exp(p) - self.gamma * p + self.beta * np.exp(q) - self.alpha * q

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        q, p = self._split(x, 1)
        return np.concatenate(
            [self.beta * np.exp(q) - self.alpha, self.delta * np.exp(p) - self.gamma], axis=1
        )

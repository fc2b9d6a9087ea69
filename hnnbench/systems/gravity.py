"""Newtonian gravity of N equal point masses in the plane (``two_body``, ``three_body``).

State order (the standard HNN tasks'): all positions, then all momenta, x-coordinates of every
body before the y-coordinates, x = (x_1..x_N, y_1..y_N, p_x1..p_xN, p_y1..p_yN):
    H = Σ_i |p_i|² / (2m) − Σ_{i<j} G m² / r_ij,     r_ij = |q_i − q_j|
    ∂H/∂q_i = Σ_{j≠i} G m² (q_i − q_j) / r_ij³,       ∂H/∂p_i = p_i / m.

The singularity r → 0 is guarded twice, so no run ever records a NaN from it: a domain box that
lets two bodies coincide is refused when the system is built (``validate_domain_separation``),
and H or ∇H at a state with two bodies exactly on top of each other raises a ValueError naming
them. The anchor (where Ĥ's constant is fixed) is the centre of the domain box, which the guard
keeps away from r = 0 (the origin, every body at 0, is the singularity itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, ClassVar

import numpy as np

from hnnbench.systems.base import HamiltonianSystem


def pair_indices(bodies: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) index arrays of every pair i < j."""
    pairs = np.array(list(combinations(range(bodies), 2)))
    return pairs[:, 0], pairs[:, 1]


def interval_distance(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Distance of 0 from each interval [low, high] (0 when the interval contains it)."""
    return np.maximum(0.0, np.maximum(low, -high))


class Gravity(HamiltonianSystem):
    """N bodies of mass ``m`` under gravity ``G`` in 2-D; a subclass sets ``bodies`` and
    ``dof`` = 2 · bodies."""

    bodies: ClassVar[int]
    defaults = {"G": 1.0, "m": 1.0}
    positive = ("G", "m")

    def __init__(self, domain: Sequence[Sequence[float]] | None = None, **params: Any) -> None:
        super().__init__(domain, **params)
        self.validate_domain_separation()

    def positions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x-coordinates, y-coordinates), each (N, bodies)."""
        q, _ = self._split(x, self.dof)
        return q[:, : self.bodies], q[:, self.bodies :]

    def separations(self, x: np.ndarray) -> np.ndarray:
        """|q_i − q_j| of every pair i < j, shape (N, pairs)."""
        xs, ys = self.positions(x)
        i, j = pair_indices(self.bodies)
        return np.hypot(xs[:, i] - xs[:, j], ys[:, i] - ys[:, j])

    def min_separation(self, x: np.ndarray) -> np.ndarray:
        """The smallest pair separation of each state (N,)."""
        return self.separations(x).min(axis=1)

    def _checked_separations(self, x: np.ndarray) -> np.ndarray:
        r = self.separations(x)
        hit = np.argwhere(r == 0)
        if hit.size:
            row, pair = hit[0]
            i, j = pair_indices(self.bodies)
            raise ValueError(
                f"{self.name}: bodies {i[pair] + 1} and {j[pair] + 1} coincide in state {row} "
                "(r = 0, where H and ∇H are singular)"
            )
        return r

    def H(self, x: np.ndarray) -> np.ndarray:
        _, p = self._split(x, self.dof)
        r = self._checked_separations(x)
        kinetic = np.sum(p**2, axis=1) / (2 * self.m)
        return kinetic - self.G * self.m**2 * np.sum(1.0 / r, axis=1)

    def grad_H(self, x: np.ndarray) -> np.ndarray:
        _, p = self._split(x, self.dof)
        r = self._checked_separations(x)
        xs, ys = self.positions(x)
        i, j = pair_indices(self.bodies)
        strength = self.G * self.m**2 / r**3  # (N, pairs)
        fx = strength * (xs[:, i] - xs[:, j])  # ∂/∂x_i of −G m²/r_ij; −fx for x_j
        fy = strength * (ys[:, i] - ys[:, j])
        dx, dy = np.zeros_like(xs), np.zeros_like(ys)
        for k, (a, b) in enumerate(zip(i, j, strict=True)):
            dx[:, a] += fx[:, k]
            dx[:, b] -= fx[:, k]
            dy[:, a] += fy[:, k]
            dy[:, b] -= fy[:, k]
        return np.concatenate([dx, dy, p / self.m], axis=1)

    def angular_momentum(self, x: np.ndarray) -> np.ndarray:
        """Σ_i x_i p_yi − y_i p_xi per state (N,), conserved by the exact flow."""
        q, p = self._split(x, self.dof)
        n = self.bodies
        return np.sum(q[:, :n] * p[:, n:] - q[:, n:] * p[:, :n], axis=1)

    @property
    def anchor(self) -> np.ndarray:
        """The centre of the domain box (the origin is the singularity)."""
        return self.domain.mean(axis=1)

    def validate_domain_separation(self) -> None:
        """Refuse a box in which two bodies can coincide: the smallest separation any pair can
        reach inside it must be > 0."""
        box = self.domain
        n = self.bodies
        i, j = pair_indices(n)
        # x_i − x_j over the box ranges over [lo_i − hi_j, hi_i − lo_j], likewise y
        gap_x = interval_distance(box[i, 0] - box[j, 1], box[i, 1] - box[j, 0])
        gap_y = interval_distance(box[n + i, 0] - box[n + j, 1], box[n + i, 1] - box[n + j, 0])
        reach = np.hypot(gap_x, gap_y)
        if np.any(reach == 0):
            k = int(np.argmin(reach))
            raise ValueError(
                f"domain of {self.name} lets bodies {i[k] + 1} and {j[k] + 1} coincide (their "
                "x and y ranges overlap): H is singular at r = 0; allowed: a box whose position "
                "ranges keep every pair apart, e.g. the default domain (domain: null)"
            )

"""The common interface of every Hamiltonian system.

Phase space x = (q1..qn, p1..pn), batches of shape (N, 2n), float64 numpy.
Hamilton's equations: q̇ = ∂H/∂p, ṗ = −∂H/∂q, i.e. ẋ = J ∇H(x) with J = [[0, I], [−I, 0]].
The analytic ``grad_H`` is the single source of truth for training targets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np


def symplectic_matrix(dof: int) -> np.ndarray:
    """J = [[0, I], [−I, 0]] of size 2n × 2n."""
    eye = np.eye(dof)
    zero = np.zeros((dof, dof))
    return np.block([[zero, eye], [-eye, zero]])


def apply_J(grad: np.ndarray) -> np.ndarray:
    """J ∇H for a batch (N, 2n): (∂H/∂p, −∂H/∂q), without forming J."""
    dof = grad.shape[-1] // 2
    return np.concatenate([grad[..., dof:], -grad[..., :dof]], axis=-1)


def validate_domain(domain: Sequence[Sequence[float]], dim: int) -> np.ndarray:
    """Check a box domain [[lo, hi], ...] with one pair per coordinate; return it as (dim, 2)."""
    try:
        box = np.asarray(domain, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"domain {domain!r} is not a list of [low, high] pairs") from err
    if box.shape != (dim, 2):
        raise ValueError(
            f"domain {domain!r} has shape {box.shape}; expected {dim} pairs [low, high] "
            f"(one per phase-space coordinate)"
        )
    if not np.all(np.isfinite(box)):
        raise ValueError(f"domain {domain!r} has non-finite limits; limits must be finite")
    bad = np.nonzero(box[:, 0] >= box[:, 1])[0]
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"domain coordinate {i} has low {box[i, 0]} >= high {box[i, 1]}; low must be < high"
        )
    return box


class HamiltonianSystem(ABC):
    """A Hamiltonian system with an analytic H and gradient.

    Subclasses set ``name``, ``dof`` and ``defaults`` (parameter name → default value), and
    implement ``H``, ``grad_H`` and ``default_domain``. Parameters become attributes. ``dof`` is
    read from the instance, so a subclass may set it per instance (``ScalableSystem``) or once
    as a class attribute (the fixed-size systems).
    """

    name: ClassVar[str]
    dof: int
    defaults: ClassVar[dict[str, float]]
    #: parameters that must be strictly positive (masses, lengths, ...)
    positive: ClassVar[tuple[str, ...]] = ()

    def __init__(self, domain: Sequence[Sequence[float]] | None = None, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"unknown parameter {unknown[0]!r} for system {self.name!r}; "
                f"allowed: {sorted(self.defaults)} (and 'domain')"
            )
        values = {**self.defaults, **params}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise ValueError(f"parameter {key}={value!r} of {self.name!r} must be a number")
            if not np.isfinite(value):
                raise ValueError(f"parameter {key}={value!r} of {self.name!r} must be finite")
            if key in self.positive and value <= 0:
                raise ValueError(f"parameter {key}={value!r} of {self.name!r} must be > 0")
            setattr(self, key, float(value))
        self.params: dict[str, float] = {k: float(v) for k, v in values.items()}
        box = self.default_domain() if domain is None else domain
        self.domain: np.ndarray = validate_domain(box, 2 * self.dof)

    @property
    def dim(self) -> int:
        """Phase-space dimension 2n."""
        return 2 * self.dof

    @abstractmethod
    def default_domain(self) -> list[list[float]]:
        """The box [[lo, hi], ...] used when none is given."""

    @abstractmethod
    def H(self, x: np.ndarray) -> np.ndarray:
        """Hamiltonian at a batch (N, 2n) → (N,)."""

    @abstractmethod
    def grad_H(self, x: np.ndarray) -> np.ndarray:
        """∇H at a batch (N, 2n) → (N, 2n), ordered (∂/∂q, ∂/∂p)."""

    def vector_field(self, x: np.ndarray) -> np.ndarray:
        """ẋ = J ∇H(x), shape (N, 2n)."""
        return apply_J(self.grad_H(x))

    def escape_energy(self) -> float | None:
        """The energy below which an orbit started in the well around the anchor stays in that
        well for ever; None when the system has none (rollouts then use the box rule)."""
        return None

    def well_box(self, energy: float) -> np.ndarray | None:
        """A box (2n, 2) holding the well {H <= energy} around the anchor, for an energy below
        ``escape_energy``; None when the system has no escape energy."""
        return None

    @property
    def anchor(self) -> np.ndarray:
        """The anchor point x0 (the origin) whose known H0 fixes the integration constant."""
        return np.zeros(self.dim)

    @property
    def anchor_H(self) -> float:
        """H0 = H(x0)."""
        return float(self.H(self.anchor[None, :])[0])

    def describe(self) -> Mapping[str, Any]:
        """What a run record stores about the system."""
        return {
            "name": self.name,
            "dof": self.dof,
            "params": dict(self.params),
            "domain": self.domain.tolist(),
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    @staticmethod
    def _split(x: np.ndarray, dof: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != 2 * dof:
            raise ValueError(f"x has shape {x.shape}; expected (N, {2 * dof})")
        return x[:, :dof], x[:, dof:]


#: the range of ``dof`` a scalable system accepts (64 degrees of freedom: a 128-dim phase space)
MIN_DOF, MAX_DOF = 1, 64


def validate_dof(dof: Any, name: str) -> int:
    """``dof`` as an int, or a ValueError naming the value and the allowed range."""
    # bool is an int subclass and floats such as 3.0 would hide a typo: integers only
    if isinstance(dof, bool) or not isinstance(dof, (int, np.integer)):
        raise ValueError(
            f"dof={dof!r} of {name!r} must be an integer in {MIN_DOF}..{MAX_DOF}, "
            f"not a {type(dof).__name__}"
        )
    if not MIN_DOF <= dof <= MAX_DOF:
        raise ValueError(f"dof={dof} of {name!r} is out of range; allowed: {MIN_DOF}..{MAX_DOF}")
    return int(dof)


class ScalableSystem(HamiltonianSystem):
    """A system whose number of degrees of freedom n is a constructor argument (``dof=``)."""

    default_dof: ClassVar[int]

    def __init__(
        self,
        domain: Sequence[Sequence[float]] | None = None,
        dof: int | None = None,
        **params: Any,
    ) -> None:
        # set before the base class builds the default domain, which depends on n
        self.dof = validate_dof(self.default_dof if dof is None else dof, self.name)
        super().__init__(domain, **params)

    def __repr__(self) -> str:
        args = ", ".join([f"dof={self.dof}", *(f"{k}={v:g}" for k, v in self.params.items())])
        return f"{type(self).__name__}({args})"

"""Hamiltonian systems with analytic H and ∇H: ``get(name, **params)`` and ``names()``.

Adding a system: one new file here defining a ``HamiltonianSystem`` subclass (``ScalableSystem``
when the number of degrees of freedom is a parameter, ``dof=``), one entry in ``_REGISTRY``
below, and one YAML in ``conf/system/``.
"""

from typing import Any

from hnnbench.systems.base import (
    HamiltonianSystem,
    ScalableSystem,
    apply_J,
    symplectic_matrix,
    validate_domain,
)
from hnnbench.systems.double_pendulum import DoublePendulum
from hnnbench.systems.fput import FPUT
from hnnbench.systems.henon_heiles import HenonHeiles
from hnnbench.systems.lotka_volterra import LotkaVolterra
from hnnbench.systems.pendulum import Pendulum
from hnnbench.systems.spring import Spring
from hnnbench.systems.three_body import ThreeBody
from hnnbench.systems.toda import Toda
from hnnbench.systems.two_body import TwoBody

_REGISTRY: dict[str, type[HamiltonianSystem]] = {
    cls.name: cls
    for cls in (
        Pendulum, Spring, HenonHeiles, DoublePendulum, LotkaVolterra, FPUT, Toda, TwoBody,
        ThreeBody,
    )
}  # fmt: skip


def names() -> list[str]:
    """Names of every registered system, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **params: Any) -> HamiltonianSystem:
    """Build the system ``name`` with its parameters (and optionally ``domain=[[lo, hi], ...]``)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown system {name!r}; allowed: {names()}")
    return _REGISTRY[name](**params)


__all__ = [
    "HamiltonianSystem",
    "ScalableSystem",
    "apply_J",
    "get",
    "names",
    "symplectic_matrix",
    "validate_domain",
]

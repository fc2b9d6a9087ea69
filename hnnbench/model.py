"""What a trained model offers the evaluation: a vector field, and maybe a Hamiltonian.

Every model predicts ẋ̂(x) and can be saved without pickle. A Hamiltonian model (the HNN of
``network.py``) also predicts Ĥ and ∇Ĥ; for a model without them (e.g. a plain ODE-net) the
metrics that need H are null, not errors (``metrics.Metric.needs_hamiltonian``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorFieldModel(Protocol):
    def predict_vector_field(self, x: np.ndarray) -> np.ndarray:
        """ẋ̂ at a batch of states (N, 2n) → (N, 2n)."""
        ...

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write the model next to ``path`` (no pickle)."""
        ...


@runtime_checkable
class HamiltonianModel(VectorFieldModel, Protocol):
    def predict_H(self, x: np.ndarray) -> np.ndarray:
        """Ĥ at a batch of states (N, 2n) → (N,)."""
        ...

    def predict_grad(self, x: np.ndarray) -> np.ndarray:
        """∇Ĥ at a batch of states (N, 2n) → (N, 2n)."""
        ...


def is_hamiltonian(model: object) -> bool:
    return isinstance(model, HamiltonianModel)

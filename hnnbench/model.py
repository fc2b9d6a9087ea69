"""What a trained model offers the evaluation: a vector field, and maybe a Hamiltonian.

Every model predicts ẋ̂(x) and can be saved without pickle. A Hamiltonian model (the HNN of
``network.py``) also predicts Ĥ and ∇Ĥ; for a model without them (e.g. a plain ODE-net) the
metrics that need H are null, not errors (``metrics.Metric.needs_hamiltonian``).

A model may also offer ``numpy_field()``: its vector field as a plain numpy function (the
networks of ``network.py`` do), which rollouts use for their many small steps
(``rollout_field``).
"""

from __future__ import annotations

from collections.abc import Callable
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


def rollout_field(model: VectorFieldModel) -> Callable[[np.ndarray], np.ndarray]:
    """The vector field a rollout integrates: the model's numpy closure when it has one (no
    per-step torch dispatch), else ``predict_vector_field``."""
    fast = getattr(model, "numpy_field", None)
    return fast() if callable(fast) else model.predict_vector_field

"""The one interface every trainer implements; the runner talks to nothing else.

A trainer is a scikit-learn-style estimator: parameters in ``__init__``, ``fit(dataset)`` returns
a model (``hnnbench.model``), fitted attributes end in ``_``. It never evaluates the final model,
times the whole fit or writes files: the runner times ``fit``, the evaluator measures and the
record writes. Adding a trainer = a subclass in one module + one YAML in ``conf/trainer/``
(docs/extending.md).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from hnnbench.checks import integer
from hnnbench.data import Dataset
from hnnbench.model import VectorFieldModel

Kind = Literal["sampled", "backprop"]
STATUSES = ("ok", "diverged")


class Trainer(ABC):
    """Common parameters and fitted attributes.

    Parameters every trainer receives from the runner (the shared knobs of a sweep):
    ``hidden_width``, ``model_seed``, ``device``, ``dtype``.

    After ``fit``:
    * ``fit_info_``: what ran (free-form, JSON-able; stored in the record),
    * ``status_``: ``'ok'`` or ``'diverged'`` (a diverged model is not evaluated),
      with ``status_message_`` saying why,
    * ``train_time_s_``: the trainer's own training clock (e.g. excluding learning-curve
      evaluations), or None when the runner's wall clock of ``fit`` is the training time,
    * ``learning_curve_``: list of {seconds, step, train_loss, test_H_rel_l2} (empty when the
      trainer does not iterate).
    """

    #: 'sampled' (no backprop) or 'backprop'; stored as the record's ``trainer``
    kind: ClassVar[Kind]
    #: the record's ``method`` (e.g. 'aswim', 'adam')
    method: str
    #: False for trainers whose model predicts ẋ without an Ĥ (S-MLP, Adam-MLP)
    learns_hamiltonian: ClassVar[bool] = True
    #: a progress bar on a terminal (set by the runner from ``progress=``)
    progress: bool = False

    def __init__(
        self,
        hidden_width: int,
        model_seed: int = 992472,
        device: str = "cpu",
        dtype: str = "float64",
    ) -> None:
        self.hidden_width = int(integer("hidden_width", hidden_width, 1))
        self.model_seed = int(integer("model_seed", model_seed, 0))
        self.device = device
        self.dtype = dtype
        self.fit_info_: dict[str, Any] = {}
        self.status_: str = "ok"
        self.status_message_: str | None = None
        self.train_time_s_: float | None = None
        self.learning_curve_: list[dict[str, float]] = []

    @abstractmethod
    def fit(self, data: Dataset) -> VectorFieldModel:
        """Train on ``data`` and return the model; set the fitted attributes."""

    def warmup_copy(self) -> Trainer:
        """A tiny, quiet copy whose untimed fit starts up libraries and thread pools."""
        tiny = copy.copy(self)
        tiny.hidden_width = min(self.hidden_width, 8)
        tiny.progress = False
        return tiny

    def needs_validation(self) -> str | None:
        """Why this trainer needs validation points (e.g. a plateau rule), None if it does not;
        the runner refuses ``validation_points=0`` before any work when it does."""
        return None

    def fitted_fields(self) -> dict[str, Any]:
        """The record fields only a fit knows (after ``fit``): ``effective_rank`` (a
        least-squares solve's), ``stopped_by`` and ``converged`` (an iterative trainer's);
        None here, so every record has them."""
        return {"effective_rank": None, "stopped_by": None, "converged": None}

    def record_fields(self) -> dict[str, Any]:
        """The record's identity fields this trainer fills (``solver``, ``rcond``: None here;
        ``depth``: hidden layers, 1 unless a backprop trainer is given more); they override the
        runner's, so a trainer that computes in another dtype than the run's (backprop
        ``train_dtype``) also returns ``dtype``."""
        return {
            "trainer": self.kind,
            "method": self.method,
            "solver": None,
            "rcond": None,
            "depth": 1,
        }

"""The metric registry: every number a run reports is declared here once.

Evaluation fills the ``test`` and ``rollout`` metrics, the runner the ``fit`` ones, the standard
HNN tasks' evaluation (``task_evaluation.py``) the ``task`` ones (null for box data); the record
schema (``record.FIELDS``), the report's frame, summary tables and figure labels all read this
table, so a new metric is one ``Metric(...)`` line plus the code that computes it.

``needs_hamiltonian``: the metric compares a learned Ĥ (or ∇Ĥ) with the truth; it is null (not an
error) for a model that only has a vector field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["fit", "test", "rollout", "task"]


@dataclass(frozen=True)
class Metric:
    name: str  # record field
    label: str  # table / axis label, without the unit
    unit: str  # "" when dimensionless
    stage: Stage  # who fills it: the runner's fit clock/meter, test points, rollouts, or a task
    lower_is_better: bool = True
    summarised: bool = True  # gets a median [min–max] column in the summary table
    needs_hamiltonian: bool = False

    @property
    def heading(self) -> str:
        """The label with its unit, e.g. ``train time [s]``."""
        return f"{self.label} [{self.unit}]" if self.unit else self.label


_DECLARED = (
    Metric("train_time_s", "train time", "s", "fit"),
    Metric("fit_wall_time_s", "fit wall time", "s", "fit", summarised=False),
    # process user + system time of the fit (all threads): compute, not a model of power
    Metric("cpu_time_s", "CPU time", "s", "fit"),
    Metric("energy_kwh", "energy", "kWh", "fit"),
    Metric("co2_kg", "CO₂", "kg", "fit", summarised=False),
    Metric("test_H_rel_l2", "test rel-L2(H)", "", "test", needs_hamiltonian=True),
    Metric(
        "test_grad_rel_l2", "test rel-L2(∇H)", "", "test", summarised=False, needs_hamiltonian=True
    ),
    Metric("test_xdot_rel_l2", "test rel-L2(ẋ)", "", "test", summarised=False),
    # on the shell (box × evaluation.outside_scale) minus (box): extrapolation
    Metric("test_outside_H_rel_l2", "outside rel-L2(H)", "", "test", needs_hamiltonian=True),
    Metric(
        "test_outside_grad_rel_l2",
        "outside rel-L2(∇H)",
        "",
        "test",
        summarised=False,
        needs_hamiltonian=True,
    ),
    # rollouts: valid time first, defined for every rollout; the rollout error and the energy
    # drift are medians over the rollouts that did not diverge, whose count comes next
    Metric("valid_prediction_time", "valid time", "", "rollout", lower_is_better=False),
    Metric("rollout_diverged", "diverged rollouts", "", "rollout"),
    Metric("rollout_rel_error_final", "rollout error (final)", "", "rollout"),
    Metric("rollout_rel_error_mean", "rollout error (mean)", "", "rollout", summarised=False),
    Metric("energy_drift", "energy drift", "", "rollout"),
    # rollouts from the outer 10 % of the box, whose true orbits may leave it
    Metric(
        "boundary_valid_prediction_time",
        "boundary valid time",
        "",
        "rollout",
        lower_is_better=False,
        summarised=False,
    ),
    # the standard HNN tasks' published metrics (docs/standard-tasks.md), on their own test set
    Metric("train_mse", "train MSE", "", "task", summarised=False),
    Metric("test_mse", "test MSE", "", "task", summarised=False),
    # E as published: q² + p² for spring and pendulum, the true energy for the n-body tasks
    Metric("energy_mse", "energy MSE", "", "task", summarised=False),
    # E = the system's H (for the pendulum its true H beside the published proxy)
    Metric("energy_mse_H", "energy MSE (true H)", "", "task", summarised=False),
    # n-body: the closest two bodies came in the model's energy rollouts
    Metric(
        "min_pair_separation",
        "min pair separation",
        "",
        "task",
        lower_is_better=False,
        summarised=False,
    ),
)

#: name → Metric, in table order
METRICS: dict[str, Metric] = {m.name: m for m in _DECLARED}


def names(stage: Stage | None = None) -> tuple[str, ...]:
    """Metric names (of one stage), in table order."""
    return tuple(m.name for m in METRICS.values() if stage is None or m.stage == stage)


def summarised() -> dict[str, Metric]:
    return {name: m for name, m in METRICS.items() if m.summarised}


def heading(name: str) -> str:
    return METRICS[name].heading

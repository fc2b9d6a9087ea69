"""Test errors and rollout metrics, identical for every trainer (they only see the network).

* test rel-L2 of H, ∇H and ẋ:  ‖y − ŷ‖₂ / ‖y‖₂ over all test points (and components); H and ∇H
  are null for a model without a Hamiltonian (``model.is_hamiltonian``).
* outside the box: rel-L2 of H and ∇H on points of the shell (box × ``outside_scale``) minus
  (box) (``data.make_outside_set``): how the model extrapolates; null without a Hamiltonian.
* rollouts from R initial states over [0, T] (``data.rollout_states``: uniform in the half box,
  or on energy shells below the escape energy): the learned and the true vector field are
  integrated with the SAME fixed-step integrator and step; the tight reference (DOP853) is
  recorded too. Per rollout r:
  - relative trajectory error e_r(t) = ‖x̂_r(t) − x_r(t)‖ / ‖x_r(t)‖ (x = the true field under
    the same integrator),
  - diverged: x̂_r(t) is not finite, or outside the domain scaled by ``divergence_scale``
    (``bound``), at some t; its time is recorded,
  - valid time: first t with e_r(t) > threshold (T when never exceeded), at most the time it
    diverged,
  - energy drift max_t |H(x̂_r(t)) − H(x̂_r(0))| / max(|H(x̂_r(0))|, floor), using the TRUE H.
  The run's metrics: valid time = the median over ALL rollouts (a time is a number even for a
  diverged rollout); rollout error (final: e_r(T); mean: over t) and energy drift = medians over
  the rollouts that did NOT diverge (null when every one did: a blown-up error is no number to
  average), ``rollout_diverged`` = how many did. Every per-rollout value is in ``rollout``.
* boundary rollouts: a few initial states in the outer 10 % of the box
  (``data.boundary_initial_states``), NOT filtered to stay inside it: their true trajectories
  may leave the training box. Their valid prediction time (the median of each one's, learned vs
  true field under the same fixed-step integrator; no DOP853 reference, which escaping orbits
  could break) says how long a model stays right once it has to extrapolate.

* energy trajectory (``evaluation.trajectory``, off unless ``state`` is set): ONE long rollout
  of the learned field from a given state (the paper's energy study: symplectic Euler, h = 5e-4
  to T = 100 from (π/2, 0)), the TRUE H along it (and Ĥ for a Hamiltonian model); its summary
  (H min / max / final, rollout seconds) goes into the record's ``trajectory``, the curve
  thinned to ``samples`` points into ``trajectory.npz`` beside the record.

Rollouts evaluate a network through its numpy closure (``model.rollout_field``): one state at
width 500 costs ≈ 9 µs a call instead of torch's ≈ 50 µs, so 200 000 steps take seconds.

Which metrics exist, their labels and directions: ``metrics.py``; ``evaluate`` fills every
``test`` and ``rollout`` metric declared there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hnnbench.data import Dataset, OutsideSet
from hnnbench.ground_truth import true_trajectories
from hnnbench.hardware import torch_threads
from hnnbench.integrators import integrate
from hnnbench.metrics import names
from hnnbench.model import VectorFieldModel, is_hamiltonian, rollout_field
from hnnbench.systems import HamiltonianSystem

#: at most about this many points of each curve are stored in a run record
CURVE_POINTS = 200
#: the valid-time threshold unless the configuration sets another (``evaluation.threshold``)
DEFAULT_THRESHOLD = 0.1


def rel_l2(true: np.ndarray, predicted: np.ndarray) -> float:
    """‖true − predicted‖₂ / ‖true‖₂ over all entries (inf when predicted is not finite)."""
    if not np.all(np.isfinite(predicted)):
        return float("inf")
    return float(np.linalg.norm(predicted - true) / np.linalg.norm(true))


def test_errors(
    model: VectorFieldModel, data: Dataset, outside: OutsideSet | None = None
) -> dict[str, float | None]:
    """The ``test`` metrics; those that need Ĥ are None for a model without one or data without
    a known H (measured data), the outside ones also when no ``outside`` set is given."""
    errors: dict[str, float | None] = dict.fromkeys(names("test"))
    errors["test_xdot_rel_l2"] = rel_l2(data.xdot_test, model.predict_vector_field(data.x_test))
    if is_hamiltonian(model) and data.H_test is not None and data.grad_test is not None:
        errors["test_H_rel_l2"] = rel_l2(data.H_test, model.predict_H(data.x_test))
        errors["test_grad_rel_l2"] = rel_l2(data.grad_test, model.predict_grad(data.x_test))
        if outside is not None:
            errors["test_outside_H_rel_l2"] = rel_l2(outside.H, model.predict_H(outside.x))
            errors["test_outside_grad_rel_l2"] = rel_l2(outside.grad, model.predict_grad(outside.x))
    return errors


@dataclass(frozen=True)
class RolloutSettings:
    initial_states: np.ndarray  # (R, 2n)
    horizon: float
    dt: float
    integrator: str = "rk4"
    threshold: float = DEFAULT_THRESHOLD
    energy_floor: float = 1e-8
    boundary_states: np.ndarray | None = None  # (R_b, 2n), near the box's boundary
    # a learned state outside this box (2n, 2) marks its rollout diverged (non-finite ones always)
    bound: np.ndarray | None = None
    rule: str = "box"  # how the initial states were drawn (data.INITIAL_RULES), recorded


def relative_error_curve(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """e(t) over a batch of trajectories (K, R, 2n) → (K,)."""
    scale = np.maximum(np.linalg.norm(true.reshape(len(true), -1), axis=1), 1e-300)
    error = np.linalg.norm((predicted - true).reshape(len(true), -1), axis=1) / scale
    return np.where(np.isfinite(error), error, np.inf)


def rollout_errors(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """e_r(t) = ‖x̂_r(t) − x_r(t)‖ / ‖x_r(t)‖ per trajectory: (K, R, 2n) → (K, R), inf where
    either is not finite."""
    with np.errstate(all="ignore"):
        scale = np.maximum(np.linalg.norm(true, axis=-1), 1e-300)
        error = np.linalg.norm(predicted - true, axis=-1) / scale
    return np.where(np.isfinite(error), error, np.inf)


def drift_curves(system: HamiltonianSystem, states: np.ndarray, floor: float) -> np.ndarray:
    """|H(x_r(t)) − H(x_r(0))| / max(|H(x_r(0))|, floor) per trajectory: (K, R, 2n) → (K, R)."""
    with np.errstate(all="ignore"):
        energy = system.H(states.reshape(-1, states.shape[-1])).reshape(states.shape[:2])
        drift = np.abs(energy - energy[0]) / np.maximum(np.abs(energy[0]), floor)
    return np.where(np.isfinite(drift), drift, np.inf)


def drift_curve(system: HamiltonianSystem, states: np.ndarray, floor: float) -> np.ndarray:
    """max over trajectories of the drift per time (K,)."""
    return np.max(drift_curves(system, states, floor), axis=1)


def thinned(count: int) -> slice:
    """Every k-th of ``count`` curve points, so at most about ``CURVE_POINTS`` are stored."""
    return slice(None, None, -(-count // CURVE_POINTS))


def valid_time(times: np.ndarray, error: np.ndarray, threshold: float) -> float:
    """The first time with error > threshold; the last time (the horizon) when never."""
    beyond = np.nonzero(error > threshold)[0]
    return float(times[beyond[0]]) if beyond.size else float(times[-1])


def divergence_times(times: np.ndarray, states: np.ndarray, bound: np.ndarray | None) -> np.ndarray:
    """Per trajectory (K, R, 2n) → (R,): the first time its state is not finite or lies outside
    ``bound`` (2n, 2); NaN when never (not diverged)."""
    gone = ~np.all(np.isfinite(states), axis=-1)
    if bound is not None:
        with np.errstate(invalid="ignore"):
            outside = np.any((states < bound[:, 0]) | (states > bound[:, 1]), axis=-1)
        gone |= outside
    first = np.argmax(gone, axis=0)
    return np.where(gone.any(axis=0), times[first], np.nan)


def median_or_none(values: np.ndarray) -> float | None:
    """The median, or None for no values (every rollout diverged)."""
    return float(np.median(values)) if values.size else None


def curve_or_none(curves: np.ndarray, keep: slice) -> list[float] | None:
    """The median per time over trajectories (K, R_kept), thinned; None when none is kept."""
    return np.median(curves, axis=1)[keep].tolist() if curves.shape[1] else None


def rollout_metrics(
    model: VectorFieldModel, system: HamiltonianSystem, settings: RolloutSettings
) -> dict[str, Any]:
    """The rollout metrics (module docstring) and the per-rollout details behind them."""
    x0 = settings.initial_states
    args = (x0, settings.horizon, settings.dt, settings.integrator)
    with torch_threads(1):  # thousands of tiny steps: extra threads only add overhead
        times, learned = integrate(rollout_field(model), *args)
    _, truth = integrate(system.vector_field, *args)
    reference = true_trajectories(system, x0, times)
    errors = rollout_errors(learned, truth)  # (K, R)
    drifts = drift_curves(system, learned, settings.energy_floor)
    diverged_at = divergence_times(times, learned, settings.bound)
    diverged = np.isfinite(diverged_at)
    crossed = np.array([valid_time(times, e, settings.threshold) for e in errors.T])
    valid = np.fmin(crossed, diverged_at)  # a diverged rollout is not valid after it diverged
    kept = ~diverged  # errors and drifts of diverged rollouts are no numbers to summarise
    finals, means, peaks = errors[-1, kept], errors[:, kept].mean(axis=0), drifts[:, kept].max(0)
    keep = thinned(len(times))  # curves stored thinned
    truth_drift = drift_curve(system, truth, settings.energy_floor)
    return {
        "rollout_times": times[keep].tolist(),
        "rollout_rel_error_curve": curve_or_none(errors[:, kept], keep),
        "rollout_rel_error_final": median_or_none(finals),
        "rollout_rel_error_mean": median_or_none(means),
        "energy_drift": median_or_none(peaks),
        "energy_drift_curve": curve_or_none(drifts[:, kept], keep),
        "energy_drift_true_integrator": float(np.max(truth_drift)),
        "valid_prediction_time": float(np.median(valid)),
        "rollout_diverged": int(diverged.sum()),
        "rollout_count": len(x0),
        "rollout_rule": settings.rule,
        "threshold": settings.threshold,
        "horizon": settings.horizon,
        "divergence_bound": None if settings.bound is None else settings.bound.tolist(),
        "rollout_valid_times": valid.tolist(),
        "rollout_diverged_flags": diverged.tolist(),
        "rollout_diverged_at": [
            float(t) if d else None for t, d in zip(diverged_at, diverged, strict=True)
        ],
        "rollout_final_errors": [
            float(e) if not d else None for e, d in zip(errors[-1], diverged, strict=True)
        ],
        "rollout_initial_energies": system.H(x0).tolist(),
        "integrator_error_vs_reference": float(relative_error_curve(truth, reference)[-1]),
        "rollout_initial_states": x0.tolist(),
        "rollout_example_learned": learned[keep, 0].tolist(),
        "rollout_example_true": reference[keep, 0].tolist(),
        **boundary_rollouts(model, system, settings),
    }


def boundary_rollouts(
    model: VectorFieldModel, system: HamiltonianSystem, settings: RolloutSettings
) -> dict[str, Any]:
    """Valid prediction time from the boundary initial states, the median over them of each
    one's (None when there are none)."""
    x0 = settings.boundary_states
    if x0 is None:
        return {"boundary_valid_prediction_time": None}
    args = (x0, settings.horizon, settings.dt, settings.integrator)
    with torch_threads(1):
        times, learned = integrate(rollout_field(model), *args)
    _, truth = integrate(system.vector_field, *args)  # may leave the box, or escape
    errors = rollout_errors(learned, truth)  # escaping orbits overflow: their error counts as inf
    valid = [valid_time(times, e, settings.threshold) for e in errors.T]
    keep = thinned(len(times))
    with np.errstate(all="ignore"):
        curve = relative_error_curve(learned, truth)
    return {
        "boundary_valid_prediction_time": float(np.median(valid)),
        "boundary_valid_times": valid,
        "boundary_rel_error_curve": curve[keep].tolist(),
        "boundary_initial_states": x0.tolist(),
    }


@dataclass(frozen=True)
class TrajectoryStudy:
    """One long rollout of the learned field from ``state`` (``evaluation.trajectory``)."""

    state: np.ndarray  # (2n,)
    horizon: float
    dt: float
    integrator: str
    samples: int = 10001  # points of the curve kept in the NPZ (every k-th step, and the last)


#: the file beside ``record.json`` with the thinned energy trajectory
TRAJECTORY_FILE = "trajectory.npz"


def trajectory_study(
    model: VectorFieldModel, system: HamiltonianSystem, study: TrajectoryStudy
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(the record's ``trajectory`` summary, the thinned arrays for ``trajectory.npz``).

    H min / max / final are over EVERY step (not only the kept samples); ``rollout_seconds`` is
    the wall clock of integrating the learned field alone.
    """
    with torch_threads(1):
        start = time.perf_counter()
        times, states = integrate(
            rollout_field(model), study.state[None, :], study.horizon, study.dt, study.integrator
        )
        seconds = time.perf_counter() - start
    states = states[:, 0]
    with np.errstate(all="ignore"):
        energy = system.H(states)
    finite = energy[np.isfinite(energy)]
    stride = max(1, -(-(len(times) - 1) // (study.samples - 1)))
    keep = np.unique(np.append(np.arange(0, len(times), stride), len(times) - 1))
    arrays = {"t": times[keep], "x": states[keep], "H": energy[keep]}
    if is_hamiltonian(model):
        with np.errstate(all="ignore"):
            arrays["H_learned"] = np.asarray(model.predict_H(states[keep]))
    H0 = float(energy[0])
    summary = {
        "initial_state": study.state.tolist(),
        "horizon": study.horizon,
        "dt": float(times[1] - times[0]),
        "integrator": study.integrator,
        "steps": len(times) - 1,
        "H_initial": H0,
        "H_min": float(finite.min()) if finite.size else None,
        "H_max": float(finite.max()) if finite.size else None,
        "H_final": float(energy[-1]),
        "max_abs_H_error": float(np.max(np.abs(finite - H0))) if finite.size else None,
        "finite": bool(finite.size == energy.size),
        "rollout_seconds": seconds,
        "samples": int(len(keep)),
        "file": TRAJECTORY_FILE,
    }
    return summary, arrays


def write_trajectory(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The thinned trajectory as a compressed NPZ (no pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def evaluate(
    model: VectorFieldModel,
    data: Dataset,
    system: HamiltonianSystem,
    settings: RolloutSettings,
    outside: OutsideSet | None = None,
) -> dict[str, Any]:
    """Every ``test`` and ``rollout`` metric of the registry (None where it does not apply),
    plus ``rollout``: the curves and details behind the rollout metrics."""
    rollout = rollout_metrics(model, system, settings)
    fields: dict[str, Any] = {**test_errors(model, data, outside), "rollout": rollout}
    fields.update({name: rollout[name] for name in names("rollout")})
    return fields

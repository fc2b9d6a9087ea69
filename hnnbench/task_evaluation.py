"""The standard HNN tasks' published metrics, and hnnbench's own rollout metrics on the same
rollouts (``evaluate_task``; the runner calls it instead of ``evaluate.evaluate`` when the data
are a task's, ``Dataset.task``).

* **train / test MSE**: mean over points and components of (ẋ − ẋ̂)² on the whole train / test
  set; published "±" = std of the squared errors / √(rows), one run's standard error.
* **energy MSE**: truth and model integrated from the same initial states to the same times
  (scipy RK45 at the task's rtol, atol 1e-6 as published; the states stacked into one ODE, a
  failed stacked solve redone state by state), an energy E on both, (E_true − E_model)²
  averaged over times and states; "±" = std of 5 contiguous group means / √5 (groups of
  states; of time points when there is one state). E is the published one (``energy_mse``:
  q² + p² for spring and pendulum, the true total energy for the n-body tasks, 2.4(1 − cos q)
  + p² against the *measured* states for the real pendulum) and the system's own H
  (``energy_mse_H``, the pendulum's true 3(1 − cos q) + p² beside the proxy).
* **n-body**: the smallest pair separation of the model's rollouts (``min_pair_separation``);
  a run whose rollouts come closer than ``SINGULARITY_FRACTION`` × the closest approach in its
  training data is flagged ``near_singularity`` (H ~ −1/r: the energy error there says little
  about the learned field elsewhere, so the report shows medians beside means).
* hnnbench's own: test rel-L2 of H, ∇H and ẋ on the task's test points (H and ∇H null for the
  measured pendulum), and from the energy rollouts the relative trajectory error, the energy
  drift (true H) and the valid prediction time (``evaluate.py``'s definitions); nothing outside
  a box (the task data are not a box).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from hnnbench.data import Dataset
from hnnbench.evaluate import (
    drift_curve,
    relative_error_curve,
    test_errors,
    thinned,
    valid_time,
)
from hnnbench.hardware import torch_threads
from hnnbench.metrics import names
from hnnbench.model import VectorFieldModel, rollout_field
from hnnbench.systems import HamiltonianSystem
from hnnbench.tasks import REAL_ENERGY, EnergySetup, energy_setup

#: a model rollout closer than this fraction of the training data's closest approach is flagged
SINGULARITY_FRACTION = 0.5
#: scipy's default absolute tolerance, which the published integrations kept
ATOL = 1e-6
#: the published "±" of the energy MSE splits the errors into this many groups
ERROR_GROUPS = 5

Field = Callable[[np.ndarray], np.ndarray]


def squared_errors(model: VectorFieldModel, x: np.ndarray, xdot: np.ndarray) -> np.ndarray:
    """(ẋ − ẋ̂)² per point and component (N, 2n); non-finite predictions count as inf."""
    with np.errstate(all="ignore"):
        error = (np.asarray(model.predict_vector_field(x)) - xdot) ** 2
    return np.where(np.isfinite(error), error, np.inf)


def mean_and_se(errors: np.ndarray) -> tuple[float, float]:
    """(mean over every entry, std over every entry / √rows): the published train/test ±."""
    if not np.all(np.isfinite(errors)):
        return float("inf"), float("inf")
    return float(errors.mean()), float(errors.std(ddof=1) / np.sqrt(len(errors)))


def group_se(values: np.ndarray, groups: int = ERROR_GROUPS) -> float:
    """std of ``groups`` contiguous group means / √groups (the published energy ±)."""
    if len(values) < groups or not np.all(np.isfinite(values)):
        return float("nan") if len(values) < groups else float("inf")
    means = [part.mean() for part in np.array_split(values, groups)]
    return float(np.std(means) / np.sqrt(groups))


def solve(field: Field, start: np.ndarray, times: np.ndarray, rtol: float) -> np.ndarray | None:
    """RK45 from the states ``start`` (R, 2n) to ``times``, all states as one ODE; (K, R, 2n),
    or None when the solver stops early or leaves the finite numbers."""
    rows, dim = start.shape

    def rhs(_t: float, flat: np.ndarray) -> np.ndarray:
        return np.asarray(field(flat.reshape(rows, dim)), dtype=float).ravel()

    with np.errstate(all="ignore"):
        result = solve_ivp(
            rhs, (times[0], times[-1]), start.ravel(), "RK45", times, rtol=rtol, atol=ATOL
        )
    states = result.y.T
    if not result.success or len(states) != len(times) or not np.all(np.isfinite(states)):
        return None
    return states.reshape(len(times), rows, dim)


def rollouts(field: Field, start: np.ndarray, times: np.ndarray, rtol: float) -> np.ndarray:
    """``solve`` stacked, else state by state; a state whose solve fails is inf throughout
    (its energy error is then inf: a diverged rollout, never a NaN)."""
    stacked = solve(field, start, times, rtol)
    if stacked is not None:
        return stacked
    out = np.full((len(times), *start.shape), np.inf)
    for i, state in enumerate(start):
        alone = solve(field, state[None, :], times, rtol)
        if alone is not None:
            out[:, i] = alone[:, 0]
    return out


def proxy_energy(states: np.ndarray) -> np.ndarray:
    """q² + p² summed over the coordinates (the published spring / pendulum energy)."""
    return np.sum(states**2, axis=-1)


def energy_errors(energy: Field, truth: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """(E(truth) − E(learned))² per time and state (K, R), non-finite as inf."""
    dim = truth.shape[-1]
    with np.errstate(all="ignore"):
        e_true = energy(truth.reshape(-1, dim)).reshape(truth.shape[:2])
        e_model = energy(learned.reshape(-1, dim)).reshape(learned.shape[:2])
        error = (e_true - e_model) ** 2
    return np.where(np.isfinite(error), error, np.inf)


def energy_mse(errors: np.ndarray) -> tuple[float, float]:
    """(mean, published ±) of the energy errors (K, R)."""
    per_group = errors.mean(axis=0) if errors.shape[1] >= ERROR_GROUPS else errors[:, 0]
    mean = float(errors.mean()) if np.all(np.isfinite(errors)) else float("inf")
    return mean, group_se(per_group)


def setup_of(data: Dataset, eval_seed: int) -> EnergySetup:
    """The energy rollouts of the data's task (the measured pendulum: from its first test row
    over the test rows' times, against the measured states)."""
    info = data.task
    assert info is not None
    if info.t_test is None:
        return energy_setup(info.name, eval_seed)
    return EnergySetup(
        states=data.x_test[:1],
        times=info.t_test - info.t_test[0],
        rtol=REAL_ENERGY.rtol,
        proxy=False,
        measured=data.x_test[:, None, :],
    )


def separation_fields(
    system: HamiltonianSystem, data: Dataset, truth: np.ndarray, learned: np.ndarray
) -> dict[str, Any]:
    """n-body: the smallest pair separation of the model's and the true rollouts, and the flag;
    ``min_pair_separation`` null for other systems."""
    separation = getattr(system, "min_separation", None)
    if separation is None:
        return {"min_pair_separation": None, "near_singularity": None}
    dim = truth.shape[-1]
    with np.errstate(all="ignore"):
        model_sep = separation(learned.reshape(-1, dim))
    finite = model_sep[np.isfinite(model_sep)]
    closest = float(finite.min()) if finite.size else float("nan")
    floor = SINGULARITY_FRACTION * float(data.task.min_separation)
    return {
        "min_pair_separation": closest,
        "near_singularity": bool(not finite.size or closest < floor),
        "truth_min_pair_separation": float(separation(truth.reshape(-1, dim)).min()),
        "singularity_flag_below": floor,
    }


def test_quantiles(errors: np.ndarray) -> dict[str, float]:
    """Per test point (mean over components): median, 99th percentile, and the share of the
    total squared error carried by the worst 1 % of points (heavy tails: three_body)."""
    per_point = errors.mean(axis=1)
    if not np.all(np.isfinite(per_point)):
        return {"median": float("inf"), "p99": float("inf"), "top1_share": float("nan")}
    ordered = np.sort(per_point)[::-1]
    top = max(1, len(ordered) // 100)
    return {
        "median": float(np.median(per_point)),
        "p99": float(np.quantile(per_point, 0.99)),
        "top1_share": float(ordered[:top].sum() / ordered.sum()) if ordered.sum() > 0 else 0.0,
    }


def evaluate_task(
    model: VectorFieldModel,
    data: Dataset,
    system: HamiltonianSystem,
    eval_seed: int,
    threshold: float,
    energy_floor: float,
) -> dict[str, Any]:
    """Every ``task`` metric, the ``test`` metrics that apply and the ``rollout`` metrics from the
    energy rollouts, plus ``rollout`` (curves) and ``standard_task`` (details, ±, quantiles)."""
    info = data.task
    assert info is not None
    train_mse, train_se = mean_and_se(squared_errors(model, data.x_train, data.xdot_train))
    test_sq = squared_errors(model, data.x_test, data.xdot_test)
    test_mse, test_se = mean_and_se(test_sq)
    setup = setup_of(data, eval_seed)
    with torch_threads(1):  # many small steps: extra threads only add overhead
        learned = rollouts(rollout_field(model), setup.states, setup.times, setup.rtol)
    truth = (
        setup.measured
        if setup.measured is not None
        else rollouts(system.vector_field, setup.states, setup.times, setup.rtol)
    )
    published = energy_errors(proxy_energy if setup.proxy else system.H, truth, learned)
    own = energy_errors(system.H, truth, learned) if setup.proxy else published
    (energy, energy_se), (energy_H, energy_H_se) = energy_mse(published), energy_mse(own)
    with np.errstate(all="ignore"):
        error = relative_error_curve(learned, truth)
        drift = drift_curve(system, learned, energy_floor)
    separation = separation_fields(system, data, truth, learned)
    keep = thinned(len(setup.times))
    fields: dict[str, Any] = {
        **test_errors(model, data),
        "train_mse": train_mse,
        "test_mse": test_mse,
        "energy_mse": energy,
        "energy_mse_H": energy_H,
        "min_pair_separation": separation.pop("min_pair_separation"),
        "near_singularity": separation.pop("near_singularity"),
        "rollout_rel_error_final": float(error[-1]),
        "rollout_rel_error_mean": float(np.mean(error)),
        "energy_drift": float(np.max(drift)),
        "valid_prediction_time": valid_time(setup.times, error, threshold),
        "boundary_valid_prediction_time": None,
    }
    fields["rollout"] = {
        "rollout_times": setup.times[keep].tolist(),
        "rollout_rel_error_curve": error[keep].tolist(),
        "energy_drift_curve": drift[keep].tolist(),
        "rollout_initial_states": setup.states.tolist(),
        "rollout_example_learned": learned[keep, 0].tolist(),
        "rollout_example_true": truth[keep, 0].tolist(),
    }
    exact = None
    if data.H_test is not None:  # simulated: the exact field at the (noisy) test inputs
        exact = float(np.mean((system.vector_field(data.x_test) - data.xdot_test) ** 2))
    fields["standard_task"] = {
        "task": info.name,
        "train_trajectories": info.train_trajectories,
        "test_trajectories": info.test_trajectories,
        "train_mse_se": train_se,
        "test_mse_se": test_se,
        "energy_mse_se": energy_se,
        "energy_mse_H_se": energy_H_se,
        "energy_proxy": setup.proxy,
        "energy_states": len(setup.states),
        "energy_times": len(setup.times),
        "energy_horizon": float(setup.times[-1]),
        "energy_rtol": setup.rtol,
        "energy_mse_per_state": published.mean(axis=0).tolist(),
        "exact_field_test_mse": exact,
        "test_error_quantiles": test_quantiles(test_sq),
        "train_min_pair_separation": info.min_separation,
        **separation,
    }
    missing = set(names("task")) - set(fields)
    assert not missing, f"task metrics not computed: {sorted(missing)}"
    return fields

"""Synthetic run records with the full schema, for the report's tests and for trying the report.

``write_synthetic(folder)`` writes a small set: sampled runs over 3 seeds at 2 widths, Adam runs
with learning curves, one failed and one diverged run, and one run with NaN/inf metrics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hnnbench.record import FIELDS, RECORD_NAME, write_atomic

ENVIRONMENT = {
    "python": "3.11.7",
    "cpu_model": "Synthetic CPU",
    "cpu_count": 2,
    "gpu_name": None,
    "torch": "2.13.0+cpu",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "hnnbench_commit": "0123456789abcdef",
}
PENDULUM_DOMAIN = [[-2 * math.pi, 2 * math.pi], [-1.0, 1.0]]


def rollout(error: float, steps: int = 51, seed: int = 0) -> dict[str, Any]:
    """A plausible rollout block: curves growing from ``error``, an example trajectory."""
    times = np.linspace(0.0, 5.0, steps)
    angle = times * 1.3
    true = np.stack([np.sin(angle), np.cos(angle)], axis=1)
    learned = true * (1 + error * (1 + times[:, None]))
    return {
        "rollout_times": times.tolist(),
        "rollout_rel_error_curve": (error * (1 + times**2) + 1e-16 * seed).tolist(),
        "energy_drift_curve": (error * times).tolist(),
        "rollout_example_true": true.tolist(),
        "rollout_example_learned": learned.tolist(),
    }


def learning_curve(final_error: float, seconds: float, points: int = 20) -> list[dict[str, Any]]:
    """A decreasing learning curve from error 1 to ``final_error`` over ``seconds``."""
    t = np.linspace(0.0, seconds, points)
    errors = np.exp(np.linspace(0.0, math.log(final_error), points))
    return [
        {"seconds": float(s), "step": 10 * i, "train_loss": float(e**2), "test_H_rel_l2": float(e)}
        for i, (s, e) in enumerate(zip(t, errors, strict=True))
    ]


def make_record(
    method: str,
    seed: int = 0,
    width: int = 100,
    status: str = "ok",
    error: float = 1e-6,
    seconds: float = 0.5,
    name: str = "synthetic",
    system: str = "pendulum",
    domain: list[list[float]] | None = None,
    points: int = 1000,
    **extra: Any,
) -> dict[str, Any]:
    """One record with every schema field; metrics null unless the run completed."""
    adam = method == "adam"
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    params = {"m": 1.0, "l": 1.0, "g": 1.0, "frequency": 1.0} if system == "pendulum" else {}
    record.update(
        schema_version=1,
        run_id=f"{name}-{method}-{width}-{points}-{seed}-{status}",
        status=status,
        name=name,
        system=system,
        system_params=params,
        domain=domain or PENDULUM_DOMAIN,
        trainer="backprop" if adam else "sampled",
        method=method,
        hidden_width=width,
        train_points=points,
        test_points=points,
        seed=seed,
        device="cpu",
        dtype="float64",
        threads=2,
        environment=ENVIRONMENT,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:01:00+00:00",
        config={"results_dir": "results", "name": name, "system": {"name": system}},
    )
    if status == "failed":
        record["error"] = "RuntimeError: synthetic failure in the solver"
        return {**record, **extra}
    record.update(train_time_s=seconds, fit_wall_time_s=seconds, energy_kwh=seconds * 1e-5)
    record["energy_method"] = "estimated"
    if adam:
        record["learning_curve"] = learning_curve(error, seconds)
    if status == "diverged":
        record["error"] = "non-finite loss at step 40"
        return {**record, **extra}
    record.update(
        test_H_rel_l2=error,
        test_grad_rel_l2=error * 3,
        rollout_rel_error_final=error * 26,
        rollout_rel_error_mean=error * 9,
        energy_drift=error * 5,
        valid_prediction_time=5.0,
        rollout=rollout(error, seed=seed),
    )
    return {**record, **extra}


def synthetic_records() -> list[dict[str, Any]]:
    """Sampled (elm, aswim) × 2 widths × 3 seeds, Adam × 2 widths × 2 seeds, and bad runs."""
    records = []
    for width in (100, 200):
        for seed in range(3):
            scale = 1 + 0.1 * seed
            records.append(make_record("elm", seed, width, error=1e-5 * scale, seconds=0.2))
            records.append(make_record("aswim", seed, width, error=1e-8 * scale, seconds=0.4))
        for seed in range(2):
            records.append(make_record("adam", seed, width, error=1e-3 * (1 + seed), seconds=50))
    records.append(make_record("uswim", 0, 100, status="failed"))
    records.append(make_record("adam", 2, 100, status="diverged", seconds=3.0))
    records.append(
        make_record("uswim", 1, 100, test_H_rel_l2="inf", energy_drift="nan", energy_kwh=None)
    )
    return records


def write_synthetic(folder: str | Path, records: list[dict[str, Any]] | None = None) -> Path:
    """Write records as ``folder/<name>/<run_id>/record.json``; returns ``folder``."""
    root = Path(folder)
    for record in synthetic_records() if records is None else records:
        write_atomic(root / record["name"] / record["run_id"] / RECORD_NAME, record)
    return root

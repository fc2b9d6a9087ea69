"""Synthetic run records with the full schema, for the report's tests and for trying the report.

``write_synthetic(folder)`` writes a small set: sampled runs over 3 seeds at 2 widths, Adam runs
with learning curves, one failed and one diverged run, and one run with NaN/inf metrics.
``claims_records()`` is shaped like ``python -m hnnbench.claims``: an A-SWIM width ladder and
three backprop methods (two of them at several learning rates) on two systems.
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
SPRING_DOMAIN = [[-1.0, 1.0], [-1.0, 1.0]]
BACKPROP_METHODS = ("adam", "adam_tuned", "lbfgs")


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
    lr: float | None = None,
    curve: list[tuple[float, float]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One record with every schema field; metrics null unless the run completed.

    Methods in ``BACKPROP_METHODS`` are backprop runs with a learning curve: ``curve`` as
    (seconds, test error) points, else a decreasing one ending at ``error`` after ``seconds``.
    ``lr`` goes to ``config.trainer.lr`` (and the run_id). ``extra`` overrides any field."""
    adam = method in BACKPROP_METHODS
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    params = {"m": 1.0, "l": 1.0, "g": 1.0, "frequency": 1.0} if system == "pendulum" else {}
    record.update(
        schema_version=1,
        run_id=f"{name}-{system}-{method}-{width}-{points}-{seed}-{status}"
        + ("" if lr is None else f"-lr{lr:g}"),
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
        config={
            "results_dir": "results",
            "name": name,
            "system": {"name": system},
            "trainer": {"lr": lr} if lr is not None else {"method": method},
        },
    )
    if status == "failed":
        record["error"] = "RuntimeError: synthetic failure in the solver"
        return {**record, **extra}
    record.update(train_time_s=seconds, fit_wall_time_s=seconds, energy_kwh=seconds * 1e-5)
    record["energy_method"] = "estimated"
    if adam:
        record["learning_curve"] = (
            learning_curve(error, seconds)
            if curve is None
            else [
                {"seconds": t, "step": 10 * i, "train_loss": e * e, "test_H_rel_l2": e}
                for i, (t, e) in enumerate(curve)
            ]
        )
    if status == "diverged":
        record["error"] = "non-finite loss at step 40"
        return {**record, **extra}
    record.update(
        test_H_rel_l2=error,
        test_grad_rel_l2=error * 3,
        test_outside_H_rel_l2=error * 40,
        test_outside_grad_rel_l2=error * 90,
        rollout_rel_error_final=error * 26,
        rollout_rel_error_mean=error * 9,
        energy_drift=error * 5,
        valid_prediction_time=5.0,
        boundary_valid_prediction_time=2.0,
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


def dimension_records(dofs: tuple[int, ...] = (1, 2, 4, 8)) -> list[dict[str, Any]]:
    """An fput dimension sweep, 2 seeds: A-SWIM time ∝ n (exponent 1) and error ∝ n^0.5, Adam
    time constant (a fixed budget) and error ∝ n^2; plus a pendulum run (no sweep)."""
    records = []
    for dof in dofs:
        common = {
            "name": "dimension",
            "system": "fput",
            "system_params": {"beta": 1.0, "dof": dof},
            "domain": [[-1.0, 1.0]] * (2 * dof),
        }
        for seed in range(2):
            scale = 1 + 0.1 * seed
            ids = {m: f"dimension-fput{dof}-{m}-{seed}" for m in ("aswim", "adam")}
            records.append(make_record("aswim", seed, 200, error=1e-4 * dof**0.5 * scale,
                                       seconds=0.1 * dof * scale, run_id=ids["aswim"],
                                       **common))  # fmt: skip
            records.append(make_record("adam", seed, 200, error=1e-3 * dof**2 * scale,
                                       seconds=10.0, run_id=ids["adam"], **common))  # fmt: skip
    records.append(make_record("aswim", 0, 200, name="dimension"))
    return records


RCONDS = (1e-16, 1e-14, 1e-13, 1e-12, 1e-10)


def rcond_records() -> list[dict[str, Any]]:
    """An rcond sweep of A-SWIM, 2 seeds, on the pendulum (error ∝ rcond^0.5, auto at 1e-14 with
    the best error's 1.5×) and the spring (error flat at 1e-4, auto at 1e-10 but 5× worse: it is
    flagged); plus an ELM run at one rcond (no sweep)."""
    records = []
    for system, domain in (("pendulum", PENDULUM_DOMAIN), ("spring", SPRING_DOMAIN)):
        common = {"name": "rcond", "system": system, "domain": domain}
        for seed in range(2):
            scale = 1 + 0.1 * seed
            for rcond in RCONDS:
                error = (rcond**0.5 * 1e2 if system == "pendulum" else 1e-4) * scale
                records.append(
                    make_record(
                        "aswim",
                        seed,
                        200,
                        error=error,
                        rcond=rcond,
                        rcond_mode="fixed",
                        run_id=f"rc-{system}-{rcond:g}-{seed}",
                        **common,
                    )
                )
            auto_error = (1.5e-6 if system == "pendulum" else 5e-4) * scale
            records.append(
                make_record(
                    "aswim",
                    seed,
                    200,
                    error=auto_error,
                    rcond=1e-14 if system == "pendulum" else 1e-10,
                    rcond_mode="auto",
                    run_id=f"rc-{system}-auto-{seed}",
                    **common,
                )
            )
    records.append(make_record("elm", 0, 200, name="rcond", rcond=1e-13, rcond_mode="fixed"))
    return records


NOISES = (0.0, 1e-6, 1e-4, 1e-2)


def noise_records() -> list[dict[str, Any]]:
    """A relative-noise sweep on the pendulum, one seed: A-SWIM error = max(1e-8, level), auto
    half of it; Adam flat at 1e-3."""
    records = []
    for level in NOISES:
        common = {"name": "noise", "noise_std": level, "noise_relative": True}
        tag = f"{level:g}"
        records.append(
            make_record(
                "aswim",
                0,
                200,
                error=max(1e-8, level),
                rcond=1e-13,
                rcond_mode="fixed",
                run_id=f"nz-aswim-{tag}",
                **common,
            )
        )
        records.append(
            make_record(
                "aswim",
                0,
                200,
                error=max(1e-8, level) / 2,
                rcond=1e-10,
                rcond_mode="auto",
                run_id=f"nz-auto-{tag}",
                **common,
            )
        )
        records.append(make_record("adam", 0, 200, error=1e-3, run_id=f"nz-adam-{tag}", **common))
    return records


LADDER = {25: (1e-3, 0.02), 50: (2e-4, 0.04), 100: (3e-5, 0.1), 200: (4e-6, 0.3), 400: (5e-7, 1.0)}


def claims_records(
    systems: tuple[str, ...] = ("pendulum", "spring"), energy_method: str = "estimated"
) -> list[dict[str, Any]]:
    """An A-SWIM ladder (widths 25–400: error ↓, time ↑) × 3 seeds per system; Adam at three
    learning rates (2e-3 best), adam_tuned at two, L-BFGS at one, 3 seeds each, 20 s budgets."""
    records = []
    for system in systems:
        domain = PENDULUM_DOMAIN if system == "pendulum" else SPRING_DOMAIN
        common = {
            "system": system,
            "domain": domain,
            "name": "claims",
            "energy_method": energy_method,
        }
        for width, (error, seconds) in LADDER.items():
            for seed in range(3):
                scale = 1 + 0.1 * seed
                records.append(make_record("aswim", seed, width, error=error * scale,
                                           seconds=seconds * scale, **common))  # fmt: skip
        backprop = {"adam": (5e-4, 2e-3, 1e-2), "adam_tuned": (3e-3, 1e-2), "lbfgs": (1.0,)}
        finals = {5e-4: 1e-3, 2e-3: 3e-4, 1e-2: 5e-3, 3e-3: 8e-5, 1.0: 2e-5}
        for method, lrs in backprop.items():
            for lr in lrs:
                for seed in range(3):
                    records.append(
                        make_record(method, seed, 200, error=finals[lr] * (1 + 0.2 * seed),
                                    seconds=20.0, lr=lr, **common)
                    )  # fmt: skip
    return records


def write_synthetic(folder: str | Path, records: list[dict[str, Any]] | None = None) -> Path:
    """Write records as ``folder/<name>/<run_id>/record.json``; returns ``folder``."""
    root = Path(folder)
    for record in synthetic_records() if records is None else records:
        write_atomic(root / record["name"] / record["run_id"] / RECORD_NAME, record)
    return root


def _experiment_for(table: str, method: str) -> str:
    """A lite paper experiment of ``table`` (an Adam one for Adam), else any lite one: matching
    is by content, so the folder only has to be a paper experiment's."""
    from hnnbench.experiments import LITE

    backprop = method in BACKPROP_METHODS
    names = [e.name for e in LITE if e.table == table and ("_adam" in e.name) == backprop]
    return names[0] if names else LITE[0].name


#: times with many digits (0.987654…), as measured ones have: a table must fit them too
TIME_DIGITS = 0.987654321


def paper_records(published: Any, seeds: int = 2, flag_every: int = 7) -> list[dict[str, Any]]:
    """Records filling every published cell of ``published`` (a frame like
    ``paper_tables.csv``) at its size: error and time the published ones × (1 + 0.3·seed), and
    every ``flag_every``-th cell's error × 20 (flagged). Parameters that are no system parameter
    (e.g. ``data=snapshots; dt_obs=0.05; correction=none``) go into the config (``data.source``,
    ``data.dt_obs``, ``evaluation.correction``), where the comparison looks them up. A cell
    that two tables publish (the same content) gets its runs once, as a real sweep would."""
    from hnnbench.report.published import parse_domain, parse_params

    records, seen = [], set()
    for index, row in enumerate(published.itertuples()):
        params, domain = parse_params(row.params), parse_domain(row.domain)
        content = (row.system, str(sorted(params.items())), str(domain), row.method,
                   row.hidden_width, row.train_points, row.test_points)  # fmt: skip
        if content in seen:
            continue
        seen.add(content)
        numeric = {k: v for k, v in params.items() if isinstance(v, float)}
        system_keys = {"data", "dt_obs", "correction"}
        config: dict[str, Any] = {"results_dir": "results", "trainer": {"method": row.method}}
        config["system"] = {"name": row.system, **{k: v for k, v in numeric.items()
                                                   if k not in system_keys}}  # fmt: skip
        if "data" in params or "dt_obs" in params:
            config["data"] = {"source": params.get("data"), "dt_obs": params.get("dt_obs")}
        if "correction" in params:
            config["evaluation"] = {"correction": params["correction"]}
        error = float(row.test_H_rel_l2) * (20.0 if index % flag_every == flag_every - 1 else 1.0)
        seconds = (
            float(row.train_time_s) if math.isfinite(float(row.train_time_s)) else 0.5937
        )  # the widest time text: 0.59 [0.49–0.7]
        name = _experiment_for(row.table, row.method)
        for seed in range(seeds):
            scale = 1 + 0.3 * seed
            records.append(
                make_record(
                    row.method, seed, int(row.hidden_width), error=error * scale,
                    seconds=seconds * scale * TIME_DIGITS, name=name, system=row.system,
                    domain=domain, points=int(row.train_points),
                    test_points=int(row.test_points), run_id=f"paper-{index}-{seed}",
                    system_params={k: v for k, v in numeric.items() if k not in system_keys},
                    config={**config, "name": name, "seed": seed},
                )
            )  # fmt: skip
    return records


#: the paper's error-correction cells (h, uncorrected, first-order corrected test rel-L2(H)),
#: for tests of a table whose parameters are no system parameters
ERROR_CORRECTION = ((0.05, 7.42e-3, 1.04e-4), (0.1, 1.49e-2, 4.17e-4), (0.2, 2.99e-2, 1.68e-3))


def error_correction_published() -> Any:
    """Published rows shaped like the ``error_correction`` table of ``paper_tables.csv``."""
    import pandas as pd

    rows = [
        {
            "table": "error_correction", "system": "pendulum",
            "params": f"frequency=1; data=snapshots; dt_obs={h}; correction={correction}",
            "domain": "q in [-pi,pi], p in [-1,1]", "method": "aswim", "hidden_width": 200,
            "train_points": 2500, "test_points": 2500, "seeds": 1, "test_H_rel_l2": value,
            "train_time_s": math.nan, "hardware": "not stated", "source": "test", "note": "",
        }
        for h, none, first in ERROR_CORRECTION
        for correction, value in (("none", none), ("first", first))
    ]  # fmt: skip
    return pd.DataFrame(rows)

"""Run records → one tidy frame for the report: numbers cleaned, domain resolved, groups labelled.

Metrics may be null (failed runs), NaN or ±inf (records store them as strings); every metric column
here is float with NaN for "missing" and ±inf kept. Column ``idx`` points back into the record list
(curves and rollouts stay in the records). ``lr`` is the trainer's learning rate (NaN for sampled
runs) and ``setup`` the rest of the trainer config as JSON: together with method, device and width
they identify one training configuration, whose seeds are pooled. ``dof`` is the system's number
of degrees of freedom n (the record's ``system_params.dof`` for a scalable system, else half the
domain's dimension). ``rcond`` / ``rcond_mode`` are the sampled solver's regularisation (the
chosen value under ``auto``); an ``auto`` run's method reads ``<method>-auto`` (``base_method``
keeps the sampler), so it is never pooled with the fixed-rcond runs. ``noise_std`` /
``noise_relative``: the target noise; a noisy run's case names it, so noise levels are never
pooled either. ``hamiltonian``: whether the run's model has a Hamiltonian (the record's field;
records written before it: True when the run has an H error), None when unknown (a failed run).
``data_source``, ``dt_obs``, ``state_noise_std`` and ``correction``: where the
training data came from (records before them: derivatives); a run learned from snapshots or
trajectories names them in its case, so sources, steps, noise and corrections are never pooled.
A run whose valid time is at another threshold than the default τ = 0.1 names it in its case.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from hnnbench.data import TASK_SOURCES
from hnnbench.evaluate import DEFAULT_THRESHOLD
from hnnbench.metrics import METRICS
from hnnbench.report.experiments import claims_group, paper_experiment

TEXT = ("run_id", "status", "error", "name", "system", "trainer", "method", "solver", "device")
INTS = ("hidden_width", "train_points", "test_points", "seed", "dof")
#: a run of at least this many equal consecutive intervals is written once, as [lo,hi]^count
REPEAT_MIN = 3


def as_float(value: Any) -> float:
    """The report's one number parser: a float from a record value ('inf'/'nan' strings
    included); null, booleans, text and unparsable values become NaN."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def record_domain(record: Mapping[str, Any]) -> list[list[float]] | None:
    """The box the run used (the runner stores it in every record it writes)."""
    domain = record.get("domain")
    return [[float(lo), float(hi)] for lo, hi in domain] if domain else None


def format_bound(value: float) -> str:
    """A domain bound, as a multiple of π when it is one (to 1e-9)."""
    multiple = value / math.pi
    if value != 0 and abs(multiple * 2 - round(multiple * 2)) < 1e-9:
        factor = f"{multiple:g}"
        return {"1": "π", "-1": "-π"}.get(factor, f"{factor}π")
    return f"{value:g}"


def format_domain(domain: Sequence[Sequence[float]] | None) -> str:
    """The box as a product of intervals; repeated ones as ``[lo,hi]^count`` (a 128-dim box
    would otherwise make a title or table cell 128 intervals long)."""
    if not domain:
        return "?"
    intervals = [f"[{format_bound(lo)},{format_bound(hi)}]" for lo, hi in domain]
    parts, start = [], 0
    while start < len(intervals):
        end = start
        while end < len(intervals) and intervals[end] == intervals[start]:
            end += 1
        count = end - start
        parts += [f"{intervals[start]}^{count}"] if count >= REPEAT_MIN else intervals[start:end]
        start = end
    return "×".join(parts)


def record_dof(record: Mapping[str, Any]) -> Any:
    """n: ``system_params.dof`` when the system has one, else half the domain's dimension."""
    params = record.get("system_params") or {}
    if params.get("dof") is not None:
        return params["dof"]
    domain = record.get("domain")
    return len(domain) // 2 if domain else None


def format_params(params: Mapping[str, Any] | None) -> str:
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in sorted((params or {}).items())
    )


def group_of(name: str | None) -> str:
    """Figures and comparisons group paper experiments by table, the claims sub-experiments
    into one group, everything else by name."""
    experiment = paper_experiment(name)
    if experiment is None:
        return claims_group(name) or str(name)
    return f"{experiment.table}{' (lite)' if experiment.lite else ''}"


def trainer_kind(record: Mapping[str, Any]) -> str | None:
    """'sampled' or 'backprop' (schema version 1 wrote 'adam' for the backprop kind)."""
    kind = record.get("trainer")
    return "backprop" if kind == "adam" else kind


def trainer_setup(record: Mapping[str, Any]) -> tuple[float, str]:
    """(learning rate, the rest of the trainer config as sorted JSON) from the record's config."""
    trainer = dict((record.get("config") or {}).get("trainer") or {})
    lr = as_float(trainer.pop("lr", None))
    return lr, json.dumps(trainer, sort_keys=True, default=str)


def has_hamiltonian(record: Mapping[str, Any]) -> bool | None:
    """The record's ``hamiltonian``; older records: True when they have a test error of H."""
    value = record.get("hamiltonian")
    if isinstance(value, bool):
        return value
    return True if math.isfinite(as_float(record.get("test_H_rel_l2"))) else None


def row_of(index: int, record: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"idx": index}
    row.update({k: record.get(k) for k in TEXT})
    for key in INTS:
        value = as_float(record_dof(record) if key == "dof" else record.get(key))
        row[key] = int(value) if math.isfinite(value) else None
    row.update({k: as_float(record.get(k)) for k in METRICS})
    domain = record_domain(record)
    row["domain"] = domain
    row["params"] = format_params(record.get("system_params"))
    row["case"] = f"{row['params']}; {format_domain(domain)}"
    row["group"] = group_of(record.get("name"))
    row["energy_method"] = record.get("energy_method")
    # the timed fit shared the machine (timing.py's rule); None: not recorded (schema < 3)
    row["contended"] = record.get("contended")
    row["status"] = row["status"] or "unknown"
    row["trainer"] = trainer_kind(record)
    row["hamiltonian"] = has_hamiltonian(record)
    row["device"] = row["device"] or "cpu"
    row["lr"], row["setup"] = trainer_setup(record)
    row["rcond"], row["rcond_mode"] = as_float(record.get("rcond")), record.get("rcond_mode")
    row["base_method"] = row["method"]
    if row["rcond_mode"] == "auto":
        row["method"] = f"{row['method']}-auto"
    row["noise_std"] = as_float(record.get("noise_std"))
    row["noise_relative"] = bool(record.get("noise_relative"))
    if row["noise_std"] > 0:
        row["case"] += f"; noise {row['noise_std']:g}{' rel.' if row['noise_relative'] else ''}"
    row.update(data_columns(record))
    threshold = rollout_threshold(record)
    if threshold != DEFAULT_THRESHOLD:  # valid times at another threshold are another metric
        row["case"] += f"; valid time at τ={threshold:g}"
    if row["data_source"] in TASK_SOURCES:  # a standard HNN task: its protocol is the case
        row["case"] += f"; {record.get('task')} task"
    elif row["data_source"] != "derivatives":
        row["case"] += f"; {row['data_source']} h={row['dt_obs']:g}"
        if row["state_noise_std"] > 0:
            row["case"] += f"; state noise {row['state_noise_std']:g}"
        row["case"] += f"; correction {row['correction']}"
    return row


def rollout_threshold(record: Mapping[str, Any]) -> float:
    """The run's valid-time threshold ``evaluation.threshold`` (the default when unknown)."""
    evaluation = (record.get("config") or {}).get("evaluation") or {}
    threshold = as_float(evaluation.get("threshold"))
    return threshold if math.isfinite(threshold) else DEFAULT_THRESHOLD


def data_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """Data source, h, state noise and correction (older records: derivatives, none)."""
    return {
        "data_source": record.get("data_source") or "derivatives",
        "dt_obs": as_float(record.get("dt_obs")),
        "state_noise_std": as_float(record.get("state_noise_std")),
        "correction": record.get("correction") or "none",
    }


def to_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per record, in a stable order (group, system, n, case, method, width, points,
    seed): n before the case string, so dof 2 comes before dof 16."""
    frame = pd.DataFrame([row_of(i, r) for i, r in enumerate(records)])
    if frame.empty:
        return frame
    for key in INTS:
        frame[key] = frame[key].astype("Int64")
    order = ["group", "system", "dof", "case", "method", "hidden_width", "train_points", "seed"]
    return frame.sort_values(order, na_position="last", kind="stable").reset_index(drop=True)

"""Run records: schema, run_id, atomic writes, and collection into one tidy table.

One JSON file per run, ``<results_dir>/<name>/<run_id>/record.json``. ``run_id`` is a hash of
the resolved config without output paths, so the same run always lands in the same place and a
re-run sweep can skip what is already done. Records are written to a temporary file and renamed,
so a killed run never leaves a half-written record.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hnnbench.metrics import METRICS

#: 2: ``trainer`` is the trainer kind, 'sampled' or 'backprop' (version 1 wrote 'adam'), and
#: metrics that do not apply to a model are null
SCHEMA_VERSION = 2
#: statuses of a finished run; ``ok`` and ``diverged`` are complete results, ``failed`` is retried
STATUSES = ("ok", "diverged", "failed")
COMPLETE = ("ok", "diverged")
RECORD_NAME = "record.json"
#: config keys that only say where output goes: they do not change a run's identity
OUTPUT_KEYS = ("results_dir", "name", "hydra", "progress")

#: identity and set-up fields, then the metrics (``metrics.py``), then the nested details
IDENTITY = (
    "schema_version",
    "run_id",
    "status",
    "error",
    "name",
    "system",
    "system_params",
    "domain",
    "trainer",
    "method",
    "solver",
    "rcond",
    "hidden_width",
    "train_points",
    "test_points",
    "noise_std",
    "seed",
    "data_seed",
    "model_seed",
    "eval_seed",
    "effective_rank",
    "device",
    "dtype",
    "threads",
    "energy_method",
    "energy_error",
)
#: nested fields left out of the tidy table (curves and whole configs)
NESTED = ("rollout", "learning_curve", "fit_info", "environment", "config")
#: every field a record has (values may be null), in table order
FIELDS = (*IDENTITY, *METRICS, *NESTED, "started_at", "finished_at")


def run_id_of(config: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the config without output-path keys."""
    identity = {k: v for k, v in config.items() if k not in OUTPUT_KEYS}
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _json_safe(value: Any) -> Any:
    """NaN and ±inf become strings JSON can hold ('nan', 'inf', '-inf')."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_atomic(path: Path, record: Mapping[str, Any]) -> None:
    """Write JSON to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    missing = [f for f in FIELDS if f not in record]
    if missing:
        raise ValueError(f"record lacks schema fields {missing}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".record-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(_json_safe(dict(record)), handle, indent=1, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: Path) -> dict[str, Any] | None:
    """A record, or None when the file is unreadable (never raises on a bad file)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_complete(path: Path) -> bool:
    record = read_record(path) if path.exists() else None
    return bool(record and record.get("status") in COMPLETE)


def find_records(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).rglob(RECORD_NAME))


def load_records(folder: str | Path) -> list[dict[str, Any]]:
    return [r for r in map(read_record, find_records(folder)) if r is not None]


def to_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per record; scalar fields as columns, a few environment fields flattened."""
    rows = []
    for record in records:
        row = {k: record.get(k) for k in FIELDS if k not in NESTED}
        row["system_params"] = json.dumps(record.get("system_params"), sort_keys=True)
        row["domain"] = json.dumps(record.get("domain"))
        env = record.get("environment") or {}
        for key in ("cpu_model", "gpu_name", "torch", "hnnbench_commit"):
            row[f"env_{key}"] = env.get(key)
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in table.columns:  # 'nan'/'inf' strings written by _json_safe become floats
        if table[column].dtype == object:
            converted = pd.to_numeric(table[column], errors="coerce")
            if converted.notna().sum() == table[column].notna().sum():
                table[column] = converted
    return table


def collect(folder: str | Path) -> pd.DataFrame:
    """Every record under ``folder`` as one tidy table."""
    return to_table(load_records(folder))


def collect_main(argv: list[str] | None = None) -> int:
    """``hnnbench-collect RESULTS_DIR [-o table.csv]``."""
    parser = argparse.ArgumentParser(description="Gather run records into one CSV table.")
    parser.add_argument("results_dir", nargs="?", default="results")
    parser.add_argument("-o", "--output", help="CSV path (default RESULTS_DIR/runs.csv)")
    args = parser.parse_args(argv)
    if not Path(args.results_dir).is_dir():
        print(f"error: results folder {args.results_dir!r} does not exist", file=sys.stderr)
        return 2
    table = collect(args.results_dir)
    output = Path(args.output or Path(args.results_dir) / "runs.csv")
    table.to_csv(output, index=False)
    print(f"{len(table)} records → {output}")
    return 0

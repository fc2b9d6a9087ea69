"""Run records: schema, run_id, atomic writes, and collection into one tidy table.

One JSON file per run, ``<results_dir>/<name>/<run_id>/record.json``. ``run_id`` is a hash of
the resolved config without output paths, so the same run always lands in the same place and a
re-run sweep can skip what is already done. Records are written to a temporary file and renamed,
so a killed run never leaves a half-written record.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from hnnbench.metrics import METRICS

#: 2: ``trainer`` is the trainer kind, 'sampled' or 'backprop' (version 1 wrote 'adam'), and
#: metrics that do not apply to a model are null; 3: the timed region's clocks (``cpu_time_s``,
#: ``cpu_utilisation``, ``contended``, ``timing``; a short fit's times are medians of repeats,
#: hnnbench/timing.py) — older records read with those fields null; 4: the rollout metrics are
#: summaries over rollouts (``evaluate.py``): valid time the median of each rollout's, the
#: rollout errors and the energy drift medians over the rollouts that did not diverge (null when
#: all did), counted in ``rollout_diverged``; earlier versions computed one error over all
#: rollouts together, and their records read with ``rollout_diverged`` null
SCHEMA_VERSION = 4
#: statuses of a finished run; ``ok`` and ``diverged`` are complete results, ``failed`` is retried
STATUSES = ("ok", "diverged", "failed")
COMPLETE = ("ok", "diverged")
RECORD_NAME = "record.json"
#: config keys that do not change a run's identity: where output goes, whether progress shows,
#: and the timing protocol (how often a short fit is repeated to time it: not what it computes)
OUTPUT_KEYS = ("results_dir", "name", "hydra", "progress", "timing")

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
    "hamiltonian",
    "solver",
    "rcond",
    "rcond_mode",
    "hidden_width",
    "depth",
    "train_points",
    "test_points",
    "validation_points",
    "noise_std",
    "noise_relative",
    "data_source",
    "task",
    "dt_obs",
    "observations",
    "trajectories",
    "state_noise_std",
    "correction",
    "seed",
    "data_seed",
    "model_seed",
    "eval_seed",
    "effective_rank",
    "stopped_by",
    "converged",
    "device",
    "dtype",
    "threads",
    "contended",
    "cpu_utilisation",
    "data_time_s",
    "energy_method",
    "energy_error",
    "near_singularity",
)
#: nested fields left out of the tidy table (curves and whole configs)
NESTED = (
    "rollout",
    "standard_task",
    "trajectory",
    "learning_curve",
    "fit_info",
    "timing",
    "environment",
    "config",
)
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
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        # one line naming the record instead of the bare, path-less errors of write/flush/close
        # (which chain two or three times when the disk is full); errno and text are kept
        raise OSError(err.errno, f"could not write {path}: {_why(err)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: what a failed write means for the errors a full disk or a limit gives
_WRITE_ERRORS = {
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk quota is exceeded",  # no EDQUOT on Windows
    errno.EFBIG: "the file-size limit (ulimit -f, RLIMIT_FSIZE) was hit",
}


def _why(err: OSError) -> str:
    text = err.strerror or str(err)
    hint = _WRITE_ERRORS.get(err.errno) if err.errno is not None else None
    return f"{text}: {hint}" if hint else text


class BadRecord(NamedTuple):
    """A ``record.json`` that could not be read, and why (shown by the report, never dropped)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class RecordScan(NamedTuple):
    records: list[dict[str, Any]]
    bad: list[BadRecord]


def parse_record(path: Path) -> dict[str, Any] | BadRecord:
    """The record in ``path``, or a BadRecord saying why it is unusable (never raises)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        return BadRecord(path, f"unreadable: {err.strerror or err}")
    except UnicodeDecodeError as err:
        return BadRecord(path, f"not UTF-8 text (byte {err.start})")
    if not text.strip():
        return BadRecord(path, "empty file")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        # our records end with '}': one that does not was cut short (full disk, partial copy)
        cut = "" if text.rstrip().endswith("}") else " (the file looks truncated)"
        where = f"line {err.lineno} column {err.colno}"
        return BadRecord(path, f"invalid JSON: {err.msg} at {where}{cut}")
    if not isinstance(record, dict):
        return BadRecord(path, f"not a JSON object but a {type(record).__name__}")
    return record


def read_record(path: Path) -> dict[str, Any] | None:
    """A record, or None when the file is unreadable (never raises on a bad file)."""
    record = parse_record(path)
    return None if isinstance(record, BadRecord) else record


def is_complete(path: Path) -> bool:
    record = read_record(path) if path.exists() else None
    return bool(record and record.get("status") in COMPLETE)


def find_records(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).rglob(RECORD_NAME))


def scan_records(folder: str | Path) -> RecordScan:
    """Every readable record under ``folder`` and every unreadable one with its reason."""
    scan = RecordScan([], [])
    for path in find_records(folder):
        record = parse_record(path)
        if isinstance(record, BadRecord):
            scan.bad.append(record)
        else:
            scan.records.append(record)
    return scan


def load_records(folder: str | Path) -> list[dict[str, Any]]:
    """The readable records under ``folder`` (``scan_records`` also says which were not)."""
    return scan_records(folder).records


def warn_bad(bad: Iterable[BadRecord]) -> None:
    """One line on stderr per unreadable record, so skipping it is never silent."""
    for item in bad:
        print(f"warning: skipped unreadable run record {item}", file=sys.stderr)


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
    """Every readable record under ``folder`` as one tidy table."""
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
    scan = scan_records(args.results_dir)
    warn_bad(scan.bad)
    table = to_table(scan.records)
    output = Path(args.output or Path(args.results_dir) / "runs.csv")
    table.to_csv(output, index=False)
    print(f"{len(table)} records → {output}")
    return 0

"""Summary, time-to-accuracy and failed-run tables from the report frame.

Spread is always min–max over seeds (complete runs only); medians ignore NaN and keep ±inf.
Speed-up and energy ratio of a sampled method are Adam's median over the method's median for the
same system, case (parameters and domain), width and training points; the Adam reference prefers
the same group (experiment or paper table) and is named in the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hnnbench.metrics import summarised
from hnnbench.report.document import fmt
from hnnbench.report.frame import as_float

KEYS = ["group", "system", "case", "method", "hidden_width", "train_points"]
MATCH = ["system", "case", "hidden_width", "train_points"]
SUMMARY_METRICS = {name: metric.heading for name, metric in summarised().items()}
LABELS = {
    "group": "experiment",
    "system": "system",
    "case": "parameters; domain",
    "method": "method",
    "hidden_width": "width",
    "train_points": "points",
}


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max) of the non-NaN values; NaNs when there are none."""
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if array.size == 0:
        return math.nan, math.nan, math.nan
    return float(np.median(array)), float(array.min()), float(array.max())


def cell(median: float, low: float, high: float) -> str:
    """'median [min–max]', or just the median when the spread is empty."""
    if math.isnan(median) or low == high:
        return fmt(median)
    return f"{fmt(median)} [{fmt(low)}–{fmt(high)}]"


def _key(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(None if v is pd.NA else v for v in values)


def group_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per (group, system, case, method, width, points) with counts and spreads."""
    rows = []
    for key, runs in frame.groupby(KEYS, dropna=False, sort=False):
        complete = runs[runs["status"] == "ok"]
        row: dict[str, Any] = dict(zip(KEYS, _key(key), strict=True))
        row["trainer"] = runs["trainer"].iloc[0]
        row["runs"] = len(runs)
        row["seeds_ok"] = int(complete["seed"].nunique())
        row["not_ok"] = int((runs["status"] != "ok").sum())
        for metric in SUMMARY_METRICS:
            median, low, high = spread(complete[metric].tolist())
            row.update({f"{metric}_median": median, f"{metric}_min": low, f"{metric}_max": high})
        rows.append(row)
    return rows


def adam_reference(row: Mapping[str, Any], adams: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Adam row to compare a sampled row with: same match keys, same group preferred."""
    same = [a for a in adams if all(a[k] == row[k] for k in MATCH)]
    if not same:
        return None
    in_group = [a for a in same if a["group"] == row["group"]]
    return (in_group or sorted(same, key=lambda a: -a["seeds_ok"]))[0]


def ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator


def summary_data(frame: pd.DataFrame) -> pd.DataFrame:
    """The numeric summary: counts, median/min/max per metric, ratios vs Adam."""
    rows = group_rows(frame)
    adams = [r for r in rows if r["trainer"] == "backprop"]
    for row in rows:
        reference = adam_reference(row, adams) if row["trainer"] != "backprop" else None
        row["adam_reference"] = reference["group"] if reference else None
        for metric, label in (("train_time_s", "speedup_vs_adam"), ("energy_kwh", "energy_ratio")):
            adam_value = reference[f"{metric}_median"] if reference else math.nan
            row[label] = ratio(adam_value, row[f"{metric}_median"])
    return pd.DataFrame(rows)


def varying(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns that take more than one value (always keep system and method)."""
    return [
        c
        for c in columns
        if c in ("system", "method") or frame[c].astype(str).nunique(dropna=False) > 1
    ]


def summary_display(data: pd.DataFrame) -> pd.DataFrame:
    shown = varying(data, KEYS)
    table = pd.DataFrame({LABELS[k]: data[k].map(fmt) for k in shown})
    table["seeds (ok/runs)"] = [
        f"{s}/{n}" for s, n in zip(data["seeds_ok"], data["runs"], strict=True)
    ]
    for metric, label in SUMMARY_METRICS.items():
        table[label] = [
            cell(*values)
            for values in zip(
                data[f"{metric}_median"], data[f"{metric}_min"], data[f"{metric}_max"], strict=True
            )
        ]
    table["speed-up vs Adam"] = data["speedup_vs_adam"].map(
        lambda v: fmt(v) + "×" if v == v else "—"
    )
    table["energy ratio Adam/method"] = data["energy_ratio"].map(
        lambda v: fmt(v) + "×" if v == v else "—"
    )
    reference = data["adam_reference"]
    if (reference.notna() & reference.ne(data["group"])).any():
        table["Adam reference"] = reference.map(fmt)
    return table


# ---------------------------------------------------------------- time to accuracy


def curve_of(record: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, test rel-L2(H)) of an Adam learning curve, non-finite errors as inf."""
    points = record.get("learning_curve") or []
    seconds = np.array([as_float(p.get("seconds")) for p in points], dtype=float)
    errors = np.array([as_float(p.get("test_H_rel_l2")) for p in points], dtype=float)
    return seconds, np.where(np.isfinite(errors), errors, np.inf)


def time_to_reach(seconds: np.ndarray, errors: np.ndarray, target: float) -> float:
    """First time the curve is at or below ``target``; inf when never."""
    hits = np.nonzero(errors <= target)[0]
    return float(seconds[hits[0]]) if hits.size else math.inf


def adam_curves(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], row: Mapping[str, Any]):
    """Learning curves of the complete Adam runs matching ``row`` (same group preferred)."""
    adams = frame[(frame["trainer"] == "backprop") & (frame["status"] == "ok")]
    for key in MATCH:
        adams = adams[adams[key].astype(str) == str(row[key])]
    if (adams["group"] == row["group"]).any():
        adams = adams[adams["group"] == row["group"]]
    curves = [curve_of(records[i]) for i in adams["idx"]]
    return [c for c in curves if c[0].size]


def median_time(curves, target: float) -> float:
    """Median over Adam runs of the time to reach ``target`` (inf counts as not reached)."""
    if not curves or not math.isfinite(target):
        return math.nan
    return float(np.median([time_to_reach(s, e, target) for s, e in curves]))


def tta_row(row: Mapping[str, Any], curves) -> dict[str, Any]:
    error, seconds = row["test_H_rel_l2_median"], row["train_time_s_median"]
    best = float(np.median([e.min() for _, e in curves]))
    adam_to_best = float(np.median([time_to_reach(s, e, e.min()) for s, e in curves]))
    reached = not math.isnan(error) and error <= best
    return {
        **{k: row[k] for k in KEYS},
        "error": error,
        "time_s": seconds,
        "adam_time_to_this_error_s": median_time(curves, error),
        "adam_best_error": best,
        "adam_time_to_best_s": adam_to_best,
        "time_to_adam_best_s": seconds if reached else math.inf,
        "speedup_at_equal_error": ratio(adam_to_best, seconds) if reached else math.nan,
    }


def tta_data(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Time-to-accuracy for every sampled group that has Adam learning curves to compare with."""
    rows = []
    for row in summary_data(frame).to_dict("records"):
        if row["trainer"] == "backprop":
            continue
        curves = adam_curves(frame, records, row)
        if curves and row["seeds_ok"] > 0:
            rows.append(tta_row(row, curves))
    return pd.DataFrame(rows)


def _reach(value: float) -> str:
    return "not reached" if value == math.inf else fmt(value)


def tta_display(data: pd.DataFrame) -> pd.DataFrame:
    shown = varying(data, KEYS)
    table = pd.DataFrame({LABELS[k]: data[k].map(fmt) for k in shown})
    table["method error"] = data["error"].map(fmt)
    table["method time [s]"] = data["time_s"].map(fmt)
    table["Adam time to that error [s]"] = data["adam_time_to_this_error_s"].map(_reach)
    table["Adam best error"] = data["adam_best_error"].map(fmt)
    table["Adam time to best [s]"] = data["adam_time_to_best_s"].map(fmt)
    table["method time to Adam's best [s]"] = data["time_to_adam_best_s"].map(_reach)
    table["speed-up at equal error"] = data["speedup_at_equal_error"].map(
        lambda v: fmt(v) + "×" if v == v else "—"
    )
    return table


# ---------------------------------------------------------------- failed runs


def failed_data(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["run_id", "group", "system", "method", "hidden_width", "train_points", "seed"]
    bad = frame[frame["status"] != "ok"]
    data = bad[[*columns, "status", "error"]].copy()
    data["error"] = data["error"].fillna("(no message)")
    return data.reset_index(drop=True)


def failed_display(data: pd.DataFrame, width: int = 160) -> pd.DataFrame:
    table = data.copy()
    table["error"] = [e if len(e) <= width else e[: width - 1] + "…" for e in table["error"]]
    return table.rename(columns={**LABELS, "run_id": "run"}).map(fmt)

"""Summary and failed-run tables from the report frame (matched accuracy: ``matched.py``).

Spread is always min–max over seeds (complete runs only); medians ignore NaN and keep ±inf.
The summary's fixed-budget ratios of a sampled method are Adam's median time (energy) over the
method's, each side at its own budget, for the same system, case (parameters and domain), width
and training points: NOT a comparison at equal accuracy. The Adam reference prefers the same
group (experiment or paper table) and is named in the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hnnbench.metrics import summarised
from hnnbench.report.document import fmt

# lr: backprop runs at several learning rates are separate rows (a search), never pooled
KEYS = ["group", "system", "case", "method", "hidden_width", "train_points", "lr"]
MATCH = ["system", "case", "hidden_width", "train_points"]
SUMMARY_METRICS = {name: metric.heading for name, metric in summarised().items()}
LABELS = {
    "group": "experiment",
    "system": "system",
    "case": "parameters; domain",
    "method": "method",
    "hidden_width": "width",
    "train_points": "points",
    "lr": "lr",
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
    """The Adam row to compare a sampled row with: same match keys, the same group preferred,
    then the best median error (as the learning-rate search chooses)."""
    same = [a for a in adams if all(a[k] == row[k] for k in MATCH)]
    if not same:
        return None

    def preference(a: dict[str, Any]) -> tuple[Any, ...]:
        error = a["test_H_rel_l2_median"]
        return (
            a["group"] != row["group"],
            math.inf if math.isnan(error) else error,
            -a["seeds_ok"],
        )

    return min(same, key=preference)


def ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator


def summary_data(frame: pd.DataFrame) -> pd.DataFrame:
    """The numeric summary: counts, median/min/max per metric, ratios vs Adam."""
    rows = group_rows(frame)
    adams = [r for r in rows if r["trainer"] == "backprop" and r["method"] == "adam"]
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
    for column, label in (
        ("speedup_vs_adam", "fixed-budget time ratio Adam/method"),
        ("energy_ratio", "fixed-budget energy ratio Adam/method"),
    ):
        table[label] = data[column].map(lambda v: fmt(v, suffix="×"))
    reference = data["adam_reference"]
    if (reference.notna() & reference.ne(data["group"])).any():
        table["Adam reference"] = reference.map(fmt)
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

"""What ran: the overview, the summary table and the failed runs.

Summary: per (group, system, case, method, width, points, lr), the counts and the median [min–max]
over seeds (complete runs) of every summarised metric. Its fixed-budget ratios of a sampled method
are Adam's median time (energy) over the method's, each side at its own budget, for the same
system, case (parameters and domain), width and training points: NOT a comparison at equal
accuracy. The Adam reference prefers the same group (experiment or paper table) and is named.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from hnnbench.metrics import summarised
from hnnbench.record import BadRecord
from hnnbench.report.analysis import Analysis, Context
from hnnbench.report.document import Block, Note, Para, Table, fmt
from hnnbench.report.labels import COLUMNS
from hnnbench.report.numbers import ratio, spread_cells, spread_columns

# lr: backprop runs at several learning rates are separate rows (a search), never pooled
KEYS = ["group", "system", "case", "method", "hidden_width", "train_points", "lr"]
MATCH = ["system", "case", "hidden_width", "train_points"]
SUMMARY_METRICS = {name: metric.heading for name, metric in summarised().items()}


def keys_of(key: Sequence[Any], names: Sequence[str]) -> dict[str, Any]:
    """A groupby key as {name: value}, pandas' NA as None."""
    return {k: None if v is pd.NA else v for k, v in zip(names, key, strict=True)}


SUMMARY_INTRO = (
    "Per system × method (× width / points / parameters where they vary). Fixed-budget "
    "ratios: Adam's median time (energy) over the method's, each at its own budget, at "
    "the same system, parameters, domain, width and training points ('—' when there is "
    "no such Adam run). They are not at equal accuracy: see Matched accuracy."
)


def counts(runs: pd.DataFrame, complete: pd.DataFrame) -> dict[str, Any]:
    return {"runs": len(runs), "seeds_ok": int(complete["seed"].nunique())}


def seed_rows(
    frame: pd.DataFrame,
    keys: Sequence[str],
    metrics: Sequence[str],
    head: Callable[[pd.DataFrame, pd.DataFrame], dict[str, Any]] = counts,
) -> list[dict[str, Any]]:
    """One row per ``keys``: ``head(runs, complete runs)`` (the counts), then the median, min
    and max over complete seeds of each metric."""
    rows = []
    for key, runs in frame.groupby(list(keys), dropna=False, sort=False):
        complete = runs[runs["status"] == "ok"]
        row = {**keys_of(key, keys), **head(runs, complete)}
        for metric in metrics:
            row.update(spread_columns(metric, complete[metric]))
        rows.append(row)
    return rows


def summary_head(runs: pd.DataFrame, complete: pd.DataFrame) -> dict[str, Any]:
    not_ok = int((runs["status"] != "ok").sum())
    return {"trainer": runs["trainer"].iloc[0], **counts(runs, complete), "not_ok": not_ok}


def adam_reference(row: Mapping[str, Any], adams: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Adam row to compare a sampled row with: same match keys, the same group preferred,
    then the best median error (as the learning-rate search chooses)."""
    same = [a for a in adams if all(a[k] == row[k] for k in MATCH)]
    if not same:
        return None

    def preference(a: dict[str, Any]) -> tuple[Any, ...]:
        error = a["test_H_rel_l2_median"]
        return a["group"] != row["group"], math.inf if math.isnan(error) else error, -a["seeds_ok"]

    return min(same, key=preference)


def summary_data(frame: pd.DataFrame) -> pd.DataFrame:
    """The numeric summary: counts, median/min/max per metric, ratios vs Adam."""
    rows = seed_rows(frame, KEYS, list(SUMMARY_METRICS), summary_head)
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


def seeds_text(data: pd.DataFrame) -> list[str]:
    return [f"{s}/{n}" for s, n in zip(data["seeds_ok"], data["runs"], strict=True)]


def summary_display(data: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame({COLUMNS[k]: data[k].map(fmt) for k in varying(data, KEYS)})
    table["seeds (ok/runs)"] = seeds_text(data)
    for metric, label in SUMMARY_METRICS.items():
        table[label] = spread_cells(data, metric)
    for column, label in (
        ("speedup_vs_adam", "fixed-budget time ratio Adam/method"),
        ("energy_ratio", "fixed-budget energy ratio Adam/method"),
    ):
        table[label] = data[column].map(lambda v: fmt(v, suffix="×"))
    reference = data["adam_reference"]
    if (reference.notna() & reference.ne(data["group"])).any():
        table["Adam reference"] = reference.map(fmt)
    return table


def summary_blocks(ctx: Context, data: pd.DataFrame) -> list[Block]:
    title = "Summary (median [min–max] over seeds)"
    return [Para(SUMMARY_INTRO), Table("summary", title, summary_display(data), data)]


SUMMARY = Analysis("Summary", lambda ctx: summary_data(ctx.frame), summary_blocks)


# ---------------------------------------------------------------- overview


def overview_blocks(ctx: Context, frame: pd.DataFrame) -> list[Block]:
    counts = frame["status"].value_counts().to_dict()
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    groups = ", ".join(f"`{g}`" for g in dict.fromkeys(frame["group"]))
    text = (
        f"{len(frame)} run records under `{ctx.results_dir}` ({status}); groups: {groups}. "
        "Cells show the median over seeds and, in brackets, the min–max spread over seeds "
        "(complete runs only). Training time is the fit alone (data generation and evaluation "
        "excluded)."
    )
    return [Para(text), *([Note(unreadable_note(ctx.bad))] if ctx.bad else [])]


OVERVIEW = Analysis("Overview", lambda ctx: ctx.frame, overview_blocks)


def unreadable_note(bad: Sequence[BadRecord]) -> str:
    """Names every record left out because it could not be read, so none is lost silently."""
    listed = "; ".join(f"`{item.path}` ({item.reason})" for item in bad)
    return (
        f"{len(bad)} record file(s) could not be read and are in no table or figure: {listed}. "
        "A re-run of the same sweep redoes those runs (an unreadable record counts as missing)."
    )


# ---------------------------------------------------------------- failed runs


def failed_data(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["run_id", "group", "system", "method", "hidden_width", "train_points", "seed"]
    data = frame[frame["status"] != "ok"][[*columns, "status", "error"]].copy()
    data["error"] = data["error"].fillna("(no message)")
    return data.reset_index(drop=True)


def failed_blocks(ctx: Context, data: pd.DataFrame, width: int = 160) -> list[Block]:
    text = (
        f"{len(data)} run(s) did not complete ({', '.join(sorted(set(data['status'])))}); they "
        "are counted in the summary's `runs` column and left out of its medians."
    )
    table = data.copy()
    table["error"] = [e if len(e) <= width else e[: width - 1] + "…" for e in table["error"]]
    display = table.rename(columns={**COLUMNS, "run_id": "run"}).map(fmt)
    return [Para(text), Table("failed_runs", "Failed and diverged runs", display, data)]


FAILED = Analysis(
    "Failed and diverged runs",
    lambda ctx: failed_data(ctx.frame),
    failed_blocks,
    when_empty="None: every run completed.",
)

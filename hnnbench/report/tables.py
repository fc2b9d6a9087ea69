"""Summary, dimension-sweep and failed-run tables from the report frame (matched accuracy:
``matched.py``).

Spread is always min–max over seeds (complete runs only); medians ignore NaN and keep ±inf.
The summary's fixed-budget ratios of a sampled method are Adam's median time (energy) over the
method's, each side at its own budget, for the same system, case (parameters and domain), width
and training points: NOT a comparison at equal accuracy. The Adam reference prefers the same
group (experiment or paper table) and is named in the table.

Dimension sweep: where a group runs one system at several n (``dof``), the medians per n and the
growth exponents, the least-squares slope of log(median) against log(n) per method.

Regularisation (rcond) sweep: where a group runs one sampled method on one system at several fixed
rcond, the median error per rcond, the best fixed rcond, and where ``rcond=auto`` lands (its chosen
rcond and error, and auto / best, flagged above ``AUTO_TOLERANCE``). Noise sweep: where a group
runs one system at several target-noise levels, the median error per level and method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hnnbench.metrics import heading, summarised
from hnnbench.report.document import fmt
from hnnbench.report.frame import as_float

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


# ---------------------------------------------------------------- dimension sweep

#: what the dimension analysis follows against n (median over seeds per n)
DIMENSION_METRICS = ("train_time_s", "test_H_rel_l2", "test_outside_H_rel_l2")
DIMENSION_KEYS = ["group", "system", "method"]


def growth_exponent(dofs: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of log(value) against log(n) over the finite, positive values
    (NaN with fewer than two distinct n): value ∝ n^slope."""
    pairs = [(n, v) for n, v in zip(dofs, values, strict=True) if n > 0 and 0 < v < math.inf]
    if len({n for n, _ in pairs}) < 2:
        return math.nan
    x, y = np.log([n for n, _ in pairs]), np.log([v for _, v in pairs])
    return float(np.polyfit(x, y, 1)[0])


def dimension_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Median over complete seeds per (group, system, method, n) where n takes ≥ 2 values for
    that (group, system): the points of the dimension figure and table."""
    complete = frame[frame["status"] == "ok"].dropna(subset=["dof"])
    keep = complete.groupby(["group", "system"])["dof"].transform("nunique") >= 2
    swept = complete[keep]
    if swept.empty:
        return pd.DataFrame(columns=[*DIMENSION_KEYS, "dof", "runs", *DIMENSION_METRICS])
    grouped = swept.groupby([*DIMENSION_KEYS, "dof"], sort=True)
    medians = grouped[list(DIMENSION_METRICS)].median().reset_index()
    medians.insert(len(DIMENSION_KEYS) + 1, "runs", grouped.size().to_numpy())
    medians["dof"] = medians["dof"].astype(int)
    return medians


def dimension_data(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (group, system, method): the n range and the growth exponents of training time and
    of the test (inside and outside) errors against n, fitted to the medians."""
    medians = dimension_medians(frame)
    rows = []
    for key, points in medians.groupby(DIMENSION_KEYS, sort=False):
        dofs = points["dof"].to_numpy(float)
        row: dict[str, Any] = dict(zip(DIMENSION_KEYS, key, strict=True))
        row["dofs"] = ", ".join(str(int(n)) for n in dofs)
        for metric in DIMENSION_METRICS:
            row[f"{metric}_exponent"] = growth_exponent(dofs, points[metric].tolist())
        rows.append(row)
    return pd.DataFrame(rows)


def exponent_text(value: float) -> str:
    """An exponent to two decimals ('—' when unknown; no '-0.00')."""
    return "—" if math.isnan(value) else f"{round(value, 2) + 0.0:.2f}"


def dimension_display(data: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment": data["group"].map(fmt),
            "system": data["system"].map(fmt),
            "method": data["method"].map(fmt),
            "n": data["dofs"],
            "time exponent": data["train_time_s_exponent"].map(exponent_text),
            "error exponent (H)": data["test_H_rel_l2_exponent"].map(exponent_text),
            "outside error exponent (H)": data["test_outside_H_rel_l2_exponent"].map(exponent_text),
        }
    )


def dimension_medians_display(medians: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame({LABELS[k]: medians[k].map(fmt) for k in DIMENSION_KEYS})
    table["n"] = medians["dof"].map(fmt)
    table["runs"] = medians["runs"].map(fmt)
    for metric in DIMENSION_METRICS:
        table[heading(metric)] = medians[metric].map(fmt)
    return table


# ---------------------------------------------------------------- rcond and noise sweeps

#: the error the rcond and noise sweeps follow
SWEEP_METRIC = "test_H_rel_l2"
#: auto is flagged when its error exceeds this multiple of the best fixed rcond's
AUTO_TOLERANCE = 3.0
RCOND_KEYS = ["group", "system", "base_method"]


def rcond_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Median error (and median chosen rcond) per (group, system, sampler, rcond mode, rcond)
    where that (group, system, sampler) runs ≥ 2 fixed rcond; auto runs pooled into one row."""
    columns = [*RCOND_KEYS, "rcond_mode", "rcond", "runs", SWEEP_METRIC, "rcond_low", "rcond_high"]
    complete = frame[(frame["status"] == "ok") & frame["rcond_mode"].notna()]
    fixed = complete[complete["rcond_mode"] == "fixed"]
    counts = fixed.groupby(RCOND_KEYS)["rcond"].nunique()
    swept = counts[counts >= 2].index
    complete = complete.set_index(RCOND_KEYS)
    complete = complete[complete.index.isin(swept)].reset_index()
    if complete.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, runs in complete.groupby([*RCOND_KEYS, "rcond_mode"], sort=True):
        by = runs.groupby("rcond") if key[-1] == "fixed" else [(math.nan, runs)]
        for rcond, points in by:
            chosen = points["rcond"].to_numpy(float)
            rows.append({
                **dict(zip([*RCOND_KEYS, "rcond_mode"], key, strict=True)),
                "rcond": float(np.median(chosen)) if key[-1] == "auto" else rcond,
                "runs": len(points),
                SWEEP_METRIC: float(points[SWEEP_METRIC].median()),
                "rcond_low": float(chosen.min()),
                "rcond_high": float(chosen.max()),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def rcond_data(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (group, system, sampler): best fixed rcond and its error, the paper's 1e-13 error,
    auto's chosen rcond (median, min–max over seeds) and error, and auto / best."""
    medians = rcond_medians(frame)
    rows = []
    for key, points in medians.groupby(RCOND_KEYS, sort=False):
        fixed = points[points["rcond_mode"] == "fixed"].dropna(subset=[SWEEP_METRIC])
        auto = points[points["rcond_mode"] == "auto"]
        if fixed.empty:
            continue
        best = fixed.loc[fixed[SWEEP_METRIC].idxmin()]
        paper = fixed[np.isclose(fixed["rcond"], 1e-13, rtol=1e-6, atol=0)]
        row: dict[str, Any] = dict(zip(RCOND_KEYS, key, strict=True))
        row.update(
            best_rcond=best["rcond"],
            best_error=best[SWEEP_METRIC],
            paper_error=paper[SWEEP_METRIC].iloc[0] if len(paper) else math.nan,
            auto_rcond=auto["rcond"].iloc[0] if len(auto) else math.nan,
            auto_rcond_low=auto["rcond_low"].iloc[0] if len(auto) else math.nan,
            auto_rcond_high=auto["rcond_high"].iloc[0] if len(auto) else math.nan,
            auto_error=auto[SWEEP_METRIC].iloc[0] if len(auto) else math.nan,
        )
        row["auto_over_best"] = row["auto_error"] / row["best_error"]
        row["flag"] = "> 3×" if row["auto_over_best"] > AUTO_TOLERANCE else ""
        rows.append(row)
    return pd.DataFrame(rows)


def rcond_display(data: pd.DataFrame) -> pd.DataFrame:
    def chosen(row: pd.Series) -> str:
        return cell(row["auto_rcond"], row["auto_rcond_low"], row["auto_rcond_high"])

    return pd.DataFrame(
        {
            "experiment": data["group"].map(fmt),
            "system": data["system"].map(fmt),
            "method": data["base_method"].map(fmt),
            "best fixed rcond": data["best_rcond"].map(fmt),
            "its error (H)": data["best_error"].map(fmt),
            "error at 1e-13 (H)": data["paper_error"].map(fmt),
            "auto: rcond chosen": data.apply(chosen, axis=1) if len(data) else [],
            "auto: error (H)": data["auto_error"].map(fmt),
            "auto / best": data["auto_over_best"].map(fmt),
            "flag": data["flag"],
        }
    )


def rcond_grid_display(medians: pd.DataFrame) -> pd.DataFrame:
    """Median error per rcond (columns, fixed values then auto), a row per system and sampler."""
    label = medians.apply(
        lambda r: "auto" if r["rcond_mode"] == "auto" else f"{r['rcond']:g}", axis=1
    )
    wide = medians.assign(column=label).pivot_table(
        index=["group", "system", "base_method"], columns="column", values=SWEEP_METRIC,
        aggfunc="first", sort=False,
    )  # fmt: skip
    order = sorted((c for c in wide.columns if c != "auto"), key=float)
    order += ["auto"] if "auto" in wide.columns else []
    wide = wide[order].reset_index()
    table = wide.rename(columns={"group": "experiment", "base_method": "method"})
    return table.map(fmt)


NOISE_KEYS = ["group", "system", "method"]


def noise_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Median error per (group, system, method, noise level) where that (group, system) runs
    ≥ 2 noise levels: the points of the noise figure and table."""
    columns = [*NOISE_KEYS, "noise_std", "noise_relative", "runs", SWEEP_METRIC]
    complete = frame[frame["status"] == "ok"].dropna(subset=["noise_std"])
    keep = complete.groupby(["group", "system"])["noise_std"].transform("nunique") >= 2
    swept = complete[keep]
    if swept.empty:
        return pd.DataFrame(columns=columns)
    grouped = swept.groupby([*NOISE_KEYS, "noise_std"], sort=True)
    medians = grouped[[SWEEP_METRIC]].median().reset_index()
    medians.insert(len(NOISE_KEYS) + 1, "noise_relative", grouped["noise_relative"].any().values)
    medians.insert(len(NOISE_KEYS) + 2, "runs", grouped.size().to_numpy())
    return medians[columns]


def noise_display(medians: pd.DataFrame) -> pd.DataFrame:
    """Median error per noise level (columns), a row per system and method."""
    label = medians.apply(
        lambda r: f"{r['noise_std']:g}{' rel.' if r['noise_relative'] else ''}", axis=1
    )
    wide = medians.assign(column=label).pivot_table(
        index=NOISE_KEYS, columns="column", values=SWEEP_METRIC, aggfunc="first", sort=False
    )
    order = sorted(wide.columns, key=lambda c: float(c.split()[0]))
    wide = wide[order].reset_index().rename(columns={"group": "experiment"})
    return wide.map(fmt)


# ---------------------------------------------------------------- the Hamiltonian prior (2 × 2)

#: a problem on which HNN and MLP runs are compared
PRIOR_KEYS = ["group", "system", "case", "train_points"]
#: a cell row: how it was trained, whether the model has a Hamiltonian, the configuration
PRIOR_CELL = ["trainer", "hamiltonian", "method", "hidden_width", "lr"]
#: what the 2 × 2 table compares (every one defined for both kinds of model)
PRIOR_METRICS = (
    "test_xdot_rel_l2",
    "valid_prediction_time",
    "rollout_rel_error_final",
    "energy_drift",
    "train_time_s",
)


def prior_data(frame: pd.DataFrame) -> pd.DataFrame:
    """{sampled, backprop} × {Hamiltonian, not}: one row per configuration of each cell (median,
    min, max over complete seeds of ``PRIOR_METRICS``), on every problem (group, system, case,
    points) that has runs of both a Hamiltonian model and one without (an MLP)."""
    known = frame[frame["hamiltonian"].notna()]
    both = known.groupby(PRIOR_KEYS, dropna=False)["hamiltonian"].transform("nunique") == 2
    compared = known[both]
    rows = []
    for key, runs in compared.groupby([*PRIOR_KEYS, *PRIOR_CELL], dropna=False, sort=False):
        complete = runs[runs["status"] == "ok"]
        row: dict[str, Any] = dict(zip([*PRIOR_KEYS, *PRIOR_CELL], _key(key), strict=True))
        row["runs"], row["seeds_ok"] = len(runs), int(complete["seed"].nunique())
        for metric in PRIOR_METRICS:
            median, low, high = spread(complete[metric].tolist())
            row.update({f"{metric}_median": median, f"{metric}_min": low, f"{metric}_max": high})
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=[*PRIOR_KEYS, *PRIOR_CELL, "runs", "seeds_ok"])
    data = pd.DataFrame(rows)
    # sampled before backprop, the Hamiltonian model before the MLP, within each problem
    order = {"sampled": 0, "backprop": 1}
    data["_order"] = [
        (order.get(t, 2), not h) for t, h in zip(data["trainer"], data["hamiltonian"], strict=True)
    ]
    data["_problem"] = data.groupby(PRIOR_KEYS, dropna=False, sort=False).ngroup()
    data = data.sort_values(["_problem", "_order"], kind="stable")
    return data.drop(columns=["_order", "_problem"]).reset_index(drop=True)


def prior_display(data: pd.DataFrame) -> pd.DataFrame:
    shown = [k for k in varying(data, PRIOR_KEYS) if k != "train_points"]
    table = pd.DataFrame({LABELS[k]: data[k].map(fmt) for k in shown})
    table["training"] = data["trainer"].map(fmt)
    table["model"] = data["hamiltonian"].map(lambda h: "HNN (Ĥ)" if h else "MLP (no H)")
    table["method"] = data["method"].map(fmt)
    table["width"] = data["hidden_width"].map(fmt)
    table["seeds (ok/runs)"] = [
        f"{s}/{n}" for s, n in zip(data["seeds_ok"], data["runs"], strict=True)
    ]
    for metric in PRIOR_METRICS:
        table[heading(metric)] = [
            cell(*values)
            for values in zip(
                data[f"{metric}_median"], data[f"{metric}_min"], data[f"{metric}_max"], strict=True
            )
        ]
    return table


# ---------------------------------------------------------------- energy-trajectory study

#: what the paper's energy-conservation figure shows, READ OFF THE PLOT (not published numbers):
#: per model kind, (H at t = 100, the band H stays in)
PAPER_ENERGY = {
    False: {"H_final": 1.0015, "text": "drifts upward to ≈ 1.0015 by t = 100"},
    True: {
        "H_min": 0.99975,
        "H_max": 1.00025,
        "text": "oscillates within ≈ [0.99975, 1.00025], no drift",
    },
}


def energy_study_data(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per complete run that recorded an energy trajectory (``record['trajectory']``):
    H min / max / final along it, the steps and the rollout seconds."""
    rows = []
    for _, run in frame[frame["status"] == "ok"].iterrows():
        study = records[run["idx"]].get("trajectory")
        if not study:
            continue
        rows.append(
            {
                "group": run["group"],
                "system": run["system"],
                "case": run["case"],
                "method": run["method"],
                "trainer": run["trainer"],
                "hamiltonian": run["hamiltonian"],
                "seed": run["seed"],
                "idx": run["idx"],
                "run_id": run["run_id"],
                "test_xdot_rel_l2": run["test_xdot_rel_l2"],
                **{
                    k: as_float(study.get(k))
                    for k in ("H_initial", "H_min", "H_max", "H_final", "horizon", "dt")
                },
                "integrator": study.get("integrator"),
                "steps": study.get("steps"),
                "rollout_seconds": as_float(study.get("rollout_seconds")),
                "initial_state": study.get("initial_state"),
            }
        )
    return pd.DataFrame(rows)


def energy_study_display(data: pd.DataFrame) -> pd.DataFrame:
    def paper(hamiltonian: Any) -> str:
        known = PAPER_ENERGY.get(bool(hamiltonian))
        return f"{known['text']} (read off the paper's plot)" if known else "—"

    return pd.DataFrame(
        {
            "system": data["system"].map(fmt),
            "method": data["method"].map(fmt),
            "model": data["hamiltonian"].map(lambda h: "HNN (Ĥ)" if h else "MLP (no H)"),
            "seed": data["seed"].map(fmt),
            "integrator, h, T": [
                f"{i}, {fmt(h)}, {fmt(t)}"
                for i, h, t in zip(data["integrator"], data["dt"], data["horizon"], strict=True)
            ],
            "H(0)": data["H_initial"].map(lambda v: fmt(v, digits=7)),
            "min H": data["H_min"].map(lambda v: fmt(v, digits=7)),
            "max H": data["H_max"].map(lambda v: fmt(v, digits=7)),
            "H(T)": data["H_final"].map(lambda v: fmt(v, digits=7)),
            "paper": data["hamiltonian"].map(paper),
            "rollout [s]": data["rollout_seconds"].map(fmt),
            "test rel-L2(ẋ)": data["test_xdot_rel_l2"].map(fmt),
        }
    )

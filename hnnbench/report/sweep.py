"""The "one knob varies" analyses: hidden width, degrees of freedom n, the solver's rcond, noise
on the training targets, and the observation step h of snapshot data.

A sweep is where a group runs one line (a system and method, …) at two or more values of one knob.
Every sweep reduces its complete runs the same way, ``Sweep.points``: the median and min–max over
seeds of its metrics per line and knob value. Each draws a figure per group (the report's Figures
section); dimension, rcond and noise also have a section with tables:

* dimension: the growth exponent of each median against n, the least-squares slope of
  log(median) against log(n) (value ∝ n^exponent), and the medians per n;
* rcond: the median error per rcond, the best fixed rcond, the paper's 1e-13 and where
  ``rcond=auto`` lands (its chosen rcond, its error, auto / best: flagged above
  ``AUTO_TOLERANCE``); auto runs are pooled into one point per sampler;
* noise: the median error per noise level and method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hnnbench.report.analysis import Analysis, Context
from hnnbench.report.document import Block, Figure, Para, Table, fmt
from hnnbench.report.figures import (
    MAX_PANELS,
    bars,
    canvas,
    grid,
    keyed_panels,
    label_short_log_axis,
    ok_rows,
    positive,
    save,
    tidy,
)
from hnnbench.report.labels import COLUMNS, colour, heading
from hnnbench.report.numbers import seed_spread, spread_text

#: the error the rcond and noise sweeps follow
SWEEP_METRIC = "test_H_rel_l2"
#: what the dimension analysis follows against n
DIMENSION_METRICS = ("train_time_s", "test_H_rel_l2", "test_outside_H_rel_l2")
#: auto is flagged when its error exceeds this multiple of the best fixed rcond's
AUTO_TOLERANCE = 3.0
PAPER_RCOND = 1e-13
ERROR, TIME = heading("test_H_rel_l2"), heading("train_time_s")


@dataclass(frozen=True)
class Sweep:
    """A knob (a frame column) that varies along lines (``lines``), swept where it takes two or
    more values within ``within``; ``prepare`` selects the runs and derives the columns it needs."""

    name: str  # the figure's stem suffix
    knob: str
    lines: tuple[str, ...]
    within: tuple[str, ...]
    metrics: tuple[str, ...]
    draw: Callable[[pd.DataFrame, Context, str], Figure | None]
    prepare: Callable[[pd.DataFrame], pd.DataFrame] = field(default=lambda runs: runs)
    swept_by: str = ""  # the column whose distinct values make a sweep (default: the knob)
    details: tuple[str, ...] = ()  # columns that further split a point (after the knob)

    def points(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One row per line and knob value: ``runs``, each metric's median (its own name),
        ``_min`` and ``_max`` over the complete seeds."""
        runs = self.prepare(ok_rows(frame))
        keys = [*self.lines, self.knob, *self.details]
        columns = [*keys, "runs", *self.metrics]
        if not runs.empty:
            values = runs.groupby(list(self.within))[self.swept_by or self.knob]
            runs = runs[values.transform("nunique") >= 2]
        if runs.empty:
            return pd.DataFrame(columns=columns)
        rows = []
        for key, group in runs.groupby(keys, sort=True):
            row: dict[str, Any] = {**dict(zip(keys, key, strict=True)), "runs": len(group)}
            for metric in self.metrics:
                median, low, high = seed_spread(group[metric])
                row.update({metric: median, f"{metric}_min": low, f"{metric}_max": high})
            rows.append(row)
        return pd.DataFrame(rows)

    def figure(self, frame: pd.DataFrame, ctx: Context, stem: str) -> Figure | None:
        """The sweep's figure of one group's rows, None where nothing is swept."""
        points = self.points(frame)
        return None if points.empty else self.draw(points, ctx, stem)


def pivot(points: pd.DataFrame, index: list[str], labels: pd.Series) -> pd.DataFrame:
    """The median error per knob value (columns, by value, 'auto' last), a row per line."""
    wide = points.assign(column=labels).pivot_table(
        index=index, columns="column", values=SWEEP_METRIC, aggfunc="first", sort=False
    )
    order = sorted(
        wide.columns, key=lambda c: (c == "auto", 0 if c == "auto" else float(c.split()[0]))
    )
    table = wide[order].reset_index()
    return table.rename(columns={"group": "experiment", "base_method": "method"}).map(fmt)


# ---------------------------------------------------------------- width and n: error and time


def error_and_time(
    points: pd.DataFrame, ctx: Context, stem: str, sweep: Sweep, caption: str
) -> Figure:
    """Test error (left) and training time (right) against the knob, a line per method and
    system: width with min–max bars; n log–log, its fitted exponent in the legend."""
    slopes = sweep is DIMENSION
    fig, (left, right) = canvas(1, 2, 5, 3.8)
    styles = dict(zip(points["system"].unique(), "-:-.", strict=False)) if slopes else {}
    for (_, system, method), line in points.groupby(list(sweep.lines), sort=False):
        x = line[sweep.knob].to_numpy(float)
        for ax, metric in ((left, "test_H_rel_l2"), (right, "train_time_s")):
            y, label, yerr = positive(line[metric]), f"{method} ({system})", None
            if slopes:
                label += f": slope {exponent_text(growth_exponent(x, line[metric].tolist()))}"
            else:
                yerr = bars(y, positive(line[f"{metric}_min"]), positive(line[f"{metric}_max"]))
            ax.errorbar(x, y, yerr=yerr, fmt=styles.get(system, "-"), marker="o", ms=3,
                        capsize=2, color=colour(method), label=label)  # fmt: skip
    for ax, ylabel in ((left, ERROR), (right, TIME)):
        xlabel = "degrees of freedom n" if slopes else "hidden width"
        ax.set(xscale="log" if slopes else "linear", yscale="log", xlabel=xlabel, ylabel=ylabel)
        tidy(ax, "")
        if slopes:
            ticks = sorted(points[sweep.knob].unique())
            ax.set_xticks(ticks, [str(n) for n in ticks])  # n itself, not powers of ten
    return save(fig, ctx.figures, stem, caption)


def width_figure(points: pd.DataFrame, ctx: Context, stem: str) -> Figure:
    caption = "Test error and training time vs width (median, min–max)"
    return error_and_time(points, ctx, stem, WIDTH, caption)


def dimension_figure(points: pd.DataFrame, ctx: Context, stem: str) -> Figure:
    caption = (
        "Test error and training time vs degrees of freedom n (phase space 2n), medians over "
        "seeds, log–log; slope: fitted growth exponent (value ∝ n^slope)"
    )
    return error_and_time(points, ctx, stem, DIMENSION, caption)


WIDTH = Sweep("width", "hidden_width", ("group", "system", "method"), ("group",),
              ("test_H_rel_l2", "train_time_s"), width_figure)  # fmt: skip
DIMENSION = Sweep("dimension", "dof", ("group", "system", "method"), ("group", "system"),
                  DIMENSION_METRICS, dimension_figure)  # fmt: skip


def growth_exponent(dofs: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of log(value) against log(n) over the finite, positive values
    (NaN with fewer than two distinct n): value ∝ n^slope."""
    pairs = [(n, v) for n, v in zip(dofs, values, strict=True) if n > 0 and 0 < v < math.inf]
    if len({n for n, _ in pairs}) < 2:
        return math.nan
    x, y = np.log([n for n, _ in pairs]), np.log([v for _, v in pairs])
    return float(np.polyfit(x, y, 1)[0])


def exponent_text(value: float) -> str:
    """An exponent to two decimals ('—' when unknown; no '-0.00')."""
    return "—" if math.isnan(value) else f"{round(value, 2) + 0.0:.2f}"


def dimension_data(medians: pd.DataFrame) -> pd.DataFrame:
    """Per (group, system, method): the n swept and the growth exponents of training time and
    of the test (inside and outside) errors against n, fitted to the medians (``points``)."""
    rows = []
    for key, points in medians.groupby(list(DIMENSION.lines), sort=False):
        dofs = points["dof"].to_numpy(float)
        row: dict[str, Any] = dict(zip(DIMENSION.lines, key, strict=True))
        row["dofs"] = ", ".join(str(int(n)) for n in dofs)
        for metric in DIMENSION_METRICS:
            row[f"{metric}_exponent"] = growth_exponent(dofs, points[metric].tolist())
        rows.append(row)
    return pd.DataFrame(rows)


def dimension_blocks(ctx: Context, medians: pd.DataFrame) -> list[Block]:
    data = dimension_data(medians)
    medians = medians[[*DIMENSION.lines, "dof", "runs", *DIMENSION_METRICS]].astype({"dof": int})
    exponents = pd.DataFrame({
        "experiment": data["group"].map(fmt),
        "system": data["system"].map(fmt),
        "method": data["method"].map(fmt),
        "n": data["dofs"],
        "time exponent": data["train_time_s_exponent"].map(exponent_text),
        "error exponent (H)": data["test_H_rel_l2_exponent"].map(exponent_text),
        "outside error exponent (H)": data["test_outside_H_rel_l2_exponent"].map(exponent_text),
    })  # fmt: skip
    shown = pd.DataFrame({COLUMNS[k]: medians[k].map(fmt) for k in DIMENSION.lines})
    shown["n"], shown["runs"] = medians["dof"].map(fmt), medians["runs"].map(fmt)
    for metric in DIMENSION_METRICS:
        shown[heading(metric)] = medians[metric].map(fmt)
    text = (
        "Where one system runs at several degrees of freedom n (phase space 2n): the growth "
        "exponent of each median over seeds against n, the least-squares slope of log(median) "
        "vs log(n) (value ∝ n^exponent), and the medians per n. Figure: `Figures` → dimension. "
        "An exponent only summarises a power law: where a curve is none (an error that "
        "saturates near 1, a time at a fixed budget) read the medians."
    )
    return [
        Para(text),
        Table("dimension_exponents", "Growth exponents vs n", exponents, data),
        Table("dimension_medians", "Medians per n", shown, medians),
    ]


# ---------------------------------------------------------------- rcond


def rcond_prepare(runs: pd.DataFrame) -> pd.DataFrame:
    """``fixed_rcond``: the rcond of a fixed run (the knob), NaN for an auto one; ``rcond_point``:
    the point a run belongs to (its fixed rcond, or one point for all auto runs)."""
    runs = runs[runs["rcond_mode"].notna()]
    fixed = runs["rcond_mode"] == "fixed"
    return runs.assign(fixed_rcond=runs["rcond"].where(fixed),
                       rcond_point=runs["rcond"].where(fixed, -math.inf))  # fmt: skip


def rcond_figure(points: pd.DataFrame, ctx: Context, stem: str) -> Figure:
    """Median test error vs fixed rcond per system (log–log), one line per sampler; rcond=auto
    a star at the median rcond it chose (its error), with the min–max of its choices."""
    fig, axes = keyed_panels(list(points["system"].unique()))
    for (_, system, method), line in points.groupby(["group", "system", "base_method"], sort=False):
        ax, fixed = axes[system], line[line["rcond_mode"] == "fixed"]
        ax.plot(fixed["rcond"], positive(fixed[SWEEP_METRIC]), "-o", ms=3, color=colour(method),
                label=f"{method}, fixed rcond")  # fmt: skip
        for _, auto in line[line["rcond_mode"] == "auto"].iterrows():
            span = [[auto["rcond"] - auto["rcond_min"]], [auto["rcond_max"] - auto["rcond"]]]
            ax.errorbar([auto["rcond"]], positive([auto[SWEEP_METRIC]]), xerr=span, marker="*",
                        ms=10, capsize=2, ls="none", color=colour(method), mec="black", mew=0.5,
                        label=f"{method}, auto (GCV)")  # fmt: skip
    for system, ax in axes.items():
        ax.set(xscale="log", yscale="log", xlabel="rcond (λ = rcond·σ_max)", ylabel=ERROR)
        tidy(ax, system)
        label_short_log_axis(ax)
    caption = (
        "Test error vs the sampled solver's rcond (qr_ridge, λ = rcond·σ_max), medians over "
        "seeds; stars: rcond=auto at the median rcond GCV chose (bars: min–max of its choices)"
    )
    return save(fig, ctx.figures, stem, caption)


RCOND = Sweep("rcond", "rcond_point", ("group", "system", "base_method", "rcond_mode"),
              ("group", "system", "base_method"), (SWEEP_METRIC, "rcond"), rcond_figure,
              rcond_prepare, swept_by="fixed_rcond")  # fmt: skip


def rcond_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Median error and median chosen rcond (min–max) per sampler, rcond mode and rcond where
    that (group, system, sampler) runs ≥ 2 fixed rcond; auto runs pooled into one row."""
    points = RCOND.points(frame).rename(
        columns={"rcond_min": "rcond_low", "rcond_max": "rcond_high"}
    )
    return points.reindex(
        columns=[*RCOND.lines, "rcond", "runs", SWEEP_METRIC, "rcond_low", "rcond_high"]
    )


def first(rows: pd.DataFrame, column: str) -> float:
    return rows[column].iloc[0] if len(rows) else math.nan


def rcond_data(medians: pd.DataFrame) -> pd.DataFrame:
    """Per (group, system, sampler): best fixed rcond and its error, the paper's 1e-13 error,
    auto's chosen rcond (median, min–max over seeds) and error, and auto / best."""
    rows = []
    for key, points in medians.groupby(list(RCOND.within), sort=False):
        fixed = points[points["rcond_mode"] == "fixed"].dropna(subset=[SWEEP_METRIC])
        if fixed.empty:
            continue
        auto = points[points["rcond_mode"] == "auto"]
        best = fixed.loc[fixed[SWEEP_METRIC].idxmin()]
        paper = fixed[np.isclose(fixed["rcond"], PAPER_RCOND, rtol=1e-6, atol=0)]

        row: dict[str, Any] = dict(zip(RCOND.within, key, strict=True))
        row.update(
            best_rcond=best["rcond"],
            best_error=best[SWEEP_METRIC],
            paper_error=first(paper, SWEEP_METRIC),
            auto_rcond=first(auto, "rcond"),
            auto_rcond_low=first(auto, "rcond_low"),
            auto_rcond_high=first(auto, "rcond_high"),
            auto_error=first(auto, SWEEP_METRIC),
        )
        row["auto_over_best"] = row["auto_error"] / row["best_error"]
        row["flag"] = f"> {AUTO_TOLERANCE:g}×" if row["auto_over_best"] > AUTO_TOLERANCE else ""
        rows.append(row)
    return pd.DataFrame(rows)


def rcond_blocks(ctx: Context, medians: pd.DataFrame) -> list[Block]:
    data = rcond_data(medians)
    flagged = int((data["flag"] != "").sum()) if len(data) else 0
    choices = data.reindex(columns=["auto_rcond", "auto_rcond_low", "auto_rcond_high"])
    chosen = [spread_text(*values) for values in choices.itertuples(index=False)]
    auto = pd.DataFrame({
        "experiment": data["group"].map(fmt),
        "system": data["system"].map(fmt),
        "method": data["base_method"].map(fmt),
        "best fixed rcond": data["best_rcond"].map(fmt),
        "its error (H)": data["best_error"].map(fmt),
        "error at 1e-13 (H)": data["paper_error"].map(fmt),
        "auto: rcond chosen": chosen,
        "auto: error (H)": data["auto_error"].map(fmt),
        "auto / best": data["auto_over_best"].map(fmt),
        "flag": data["flag"],
    })  # fmt: skip
    labels = medians.apply(
        lambda r: "auto" if r["rcond_mode"] == "auto" else f"{r['rcond']:g}", axis=1
    )
    text = (
        "Where one sampler runs on a system at several fixed rcond (qr_ridge: λ = rcond·σ_max): "
        f"the median {heading(SWEEP_METRIC)} over seeds per rcond, the best fixed rcond, "
        "the paper's 1e-13, and rcond=auto (GCV on the reduced system) with the rcond it chose "
        f"(median [min–max] over seeds). auto / best above {AUTO_TOLERANCE:g}× is "
        f"flagged: {flagged} of {len(data)}. Figure: `Figures` → rcond."
    )
    return [
        Para(text),
        Table("rcond_auto", "Best fixed rcond and rcond=auto", auto, data),
        Table("rcond_errors", "Median error per rcond",
              pivot(medians, ["group", "system", "base_method"], labels), medians),
    ]  # fmt: skip


# ---------------------------------------------------------------- noise


def noise_label(std: float, relative: Any) -> str:
    return f"{std:g}{' rel.' if relative else ''}"


def noise_figure(points: pd.DataFrame, ctx: Context, stem: str) -> Figure:
    """Median test error vs target-noise level per system, one line per method (auto dashed);
    the levels equally spaced (0 has no place on a log axis)."""
    levels = sorted(points["noise_std"].unique())
    relative = bool(points["noise_relative"].any())
    fig, axes = keyed_panels(list(points["system"].unique()))
    for (_, system, method), line in points.groupby(list(NOISE.lines), sort=False):
        base = method.removesuffix("-auto")
        x = [levels.index(v) for v in line["noise_std"]]
        axes[system].plot(x, positive(line[SWEEP_METRIC]), "--" if base != method else "-",
                          marker="o", ms=3, color=colour(base), label=method)  # fmt: skip
    for system, ax in axes.items():
        ax.set_xticks(range(len(levels)), [f"{v:g}" for v in levels])
        ax.set(yscale="log", xlabel=f"noise std{' / RMS(ẋ)' if relative else ''}", ylabel=ERROR)
        tidy(ax, system)
        label_short_log_axis(ax)
    caption = (
        "Test error vs noise on the training targets (std"
        f"{' relative to the RMS of the exact ẋ' if relative else ''}), medians over seeds; "
        "dashed: rcond=auto"
    )
    return save(fig, ctx.figures, stem, caption)


NOISE = Sweep("noise", "noise_std", ("group", "system", "method"), ("group", "system"),
              (SWEEP_METRIC,), noise_figure, details=("noise_relative",))  # fmt: skip


def noise_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Median error per (group, system, method, noise level) where that (group, system) runs
    ≥ 2 noise levels: the points of the noise figure and table."""
    return NOISE.points(frame).reindex(columns=[*NOISE.lines, "noise_std", "noise_relative",
                                                "runs", SWEEP_METRIC])  # fmt: skip


def noise_blocks(ctx: Context, medians: pd.DataFrame) -> list[Block]:
    text = (
        "Where one system runs at several noise levels on the training targets (`noise_std`; "
        "'rel.': × the RMS of the exact ẋ): the median "
        f"{heading(SWEEP_METRIC)} over seeds per level and method (`-auto`: rcond=auto). "
        "Figure: `Figures` → noise."
    )
    table = Table("noise_errors", "Median error per noise level", noise_table(medians), medians)
    return [Para(text), table]


def noise_table(medians: pd.DataFrame) -> pd.DataFrame:
    """The median error per noise level (columns), a row per system and method."""
    labels = medians.apply(lambda r: noise_label(r["noise_std"], r["noise_relative"]), axis=1)
    return pivot(medians, list(NOISE.lines), labels)


# ---------------------------------------------------------------- the observation step h

#: correction → (colour, the order of its error in h: the slope of its guide line)
CORRECTION_ORDER = {"none": ("tab:blue", 1), "first": ("tab:orange", 2), "second": ("tab:green", 3)}
STEP_PANEL = ("system", "case_base", "method", "data_source", "state_noise_std")


def step_prepare(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs learned from snapshots or trajectories; ``case_base``: their case without the data
    source (the panel), state noise 0 where none was recorded."""
    runs = runs[runs["data_source"] != "derivatives"]
    return runs.assign(
        case_base=runs["params"] + "; " + runs["case"].str.split("; ").str[1],
        state_noise_std=runs["state_noise_std"].fillna(0.0),
    )


def step_figure(points: pd.DataFrame, ctx: Context, stem: str) -> Figure:
    """Test rel-L2(H) vs the observation step h (log–log), one line per correction, with a
    dotted guide of slope 1 / 2 / 3 (the order each correction should reach) below it."""
    shown = list(points.groupby(list(STEP_PANEL), sort=False))[:MAX_PANELS]
    fig, axes = grid(len(shown))
    for ax, ((system, case, method, source, noise), panel) in zip(axes, shown, strict=False):
        for correction in sorted(panel["correction"].unique(), key=list(CORRECTION_ORDER).index):
            line = panel[panel["correction"] == correction]
            tone, order = CORRECTION_ORDER[correction]
            h, error = line["dt_obs"].to_numpy(), positive(line["test_H_rel_l2"])
            ax.plot(h, error, "-o", ms=4, color=tone, label=f"correction {correction}")
            top = int(np.nanargmax(h))
            ax.plot(h, 0.5 * error[top] * (h / h[top]) ** order, ":", color=tone, lw=1,
                    label=f"slope {order}")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="observation step h", ylabel=ERROR)
        steps = sorted(panel["dt_obs"].unique())
        ax.set_xticks(steps, [f"{h:g}" for h in steps])
        noisy = f", state noise {noise:g}" if noise > 0 else ""
        tidy(ax, f"{system}, {method}, {source}{noisy}\n{case}")
    caption = (
        "Test rel-L2(H) vs the observation step h of the snapshot data, medians over seeds, per "
        "backward-error correction of Ĥ; dotted: slopes 1, 2, 3 (the orders of none, first, "
        "second), drawn at half the error of the largest h"
    )
    return save(fig, ctx.figures, stem, caption)


STEP = Sweep("error_vs_h", "dt_obs", (*STEP_PANEL, "correction"), (*STEP_PANEL, "correction"),
             ("test_H_rel_l2",), step_figure, step_prepare)  # fmt: skip

#: the sweeps with a section of their own, in report order
SECTIONS = (
    Analysis("Dimension sweep", lambda ctx: DIMENSION.points(ctx.frame), dimension_blocks),
    Analysis("Regularisation (rcond) sweep", lambda ctx: rcond_medians(ctx.frame), rcond_blocks),
    Analysis("Noise sweep", lambda ctx: noise_medians(ctx.frame), noise_blocks),
)

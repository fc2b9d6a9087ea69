"""Report figures (matplotlib, Agg backend), each saved as PNG and PDF.

One set of figures per group (an experiment, or a paper table); a figure has one panel per
(system, case). A figure function returns None when its group has nothing to plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation, NullFormatter  # noqa: E402

from hnnbench.report import matched, tables  # noqa: E402
from hnnbench.report.document import Figure  # noqa: E402
from hnnbench.report.frame import as_float  # noqa: E402
from hnnbench.report.matched import Problem, curve_of  # noqa: E402

MAX_PANELS = 12
TINY = 1e-17  # floor for log axes
METHOD_ORDER = (
    "elm", "uswim", "aswim", "swim", "adam", "adam_tuned", "lbfgs", "smlp_elm", "smlp_uswim",
    "adam_mlp",
)  # fmt: skip


def colour(method: str) -> str:
    palette = plt.get_cmap("tab10")
    index = METHOD_ORDER.index(method) if method in METHOD_ORDER else 5 + hash(method) % 5
    return palette(index % 10)


def panels(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per (system, case), at most MAX_PANELS."""
    out = []
    for (system, case), rows in frame.groupby(["system", "case"], sort=False, dropna=False):
        out.append((f"{system}\n{case}", rows))
    return out[:MAX_PANELS]


def grid(count: int, width: float = 4.2, height: float = 3.4):
    columns = min(3, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def save(fig, folder: Path, stem: str, caption: str) -> Figure:
    folder.mkdir(parents=True, exist_ok=True)
    png, pdf = folder / f"{stem}.png", folder / f"{stem}.pdf"
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    fig.savefig(pdf)
    plt.close(fig)
    return Figure(caption, png, pdf)


def positive(values: Sequence[float]) -> np.ndarray:
    """Finite values clipped to TINY for log axes; non-finite become NaN (not drawn)."""
    array = np.asarray(values, dtype=float)
    return np.where(np.isfinite(array), np.maximum(array, TINY), np.nan)


def tidy(ax, title: str) -> None:
    """Small panel title, no minor-tick labels (they collide on short log ranges), legend."""
    ax.set_title(title, fontsize=8)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    legend(ax)


def legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7)


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"]


def panel_figure(
    frame: pd.DataFrame,
    draw: Callable[[Any, str, pd.DataFrame], bool],
    folder: Path, stem: str, caption: str,
) -> Figure | None:  # fmt: skip
    """One panel per system/case of ``frame``; ``draw(ax, title, rows)`` fills a panel and says
    whether it drew anything. No figure when ``frame`` is empty or nothing was drawn."""
    if frame.empty:
        return None
    groups = panels(frame)
    fig, axes = grid(len(groups))
    drawn = [draw(ax, title, rows) for ax, (title, rows) in zip(axes, groups, strict=False)]
    if not any(drawn):
        plt.close(fig)
        return None
    return save(fig, folder, stem, caption)


# ---------------------------------------------------------------- error vs time


def error_vs_time(frame: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Test rel-L2(H) against training time for every complete run, log–log."""
    complete = ok_rows(frame)
    complete = complete[np.isfinite(complete["train_time_s"]) & (complete["train_time_s"] > 0)]
    complete = complete[complete["hamiltonian"].ne(False)]  # an MLP has no H error
    if complete.empty:
        return None
    groups = panels(complete)
    fig, axes = grid(len(groups))
    for ax, (title, rows) in zip(axes, groups, strict=False):
        for method, runs in rows.groupby("method", sort=False):
            ax.scatter(
                runs["train_time_s"], positive(runs["test_H_rel_l2"]), label=method,
                color=colour(method), s=18, alpha=0.8,
            )  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="training time [s]", ylabel="test rel-L2(H)")
        tidy(ax, title)
    return save(fig, folder, stem, "Test rel-L2 error of H vs training time, every complete run")


def adam_curves_with_points(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], folder: Path, stem: str
) -> Figure | None:
    """Adam's test error vs training wall-clock, sampled runs as points on the same axes."""
    adams = frame[(frame["trainer"] == "backprop") & frame["status"].isin(["ok", "diverged"])]
    if adams.empty:
        return None
    groups = panels(frame)
    fig, axes = grid(len(groups))
    for ax, (title, rows) in zip(axes, groups, strict=False):
        # their curves follow test rel-L2(H): models without one (Adam-MLP) have no curve here
        hamiltonian = rows[(rows["trainer"] == "backprop") & rows["hamiltonian"].ne(False)]
        for _, run in hamiltonian.iterrows():
            seconds, errors = curve_of(records[run["idx"]])
            keep = seconds > 0
            diverged = run["status"] == "diverged"
            method = run["method"]
            label = f"{method} (width {run['hidden_width']}{', diverged' if diverged else ''})"
            style = "--" if diverged else "-"
            ax.plot(seconds[keep], positive(errors[keep]), style, color=colour(method), alpha=0.7,
                    label=label)  # fmt: skip
        sampled = ok_rows(rows[(rows["trainer"] != "backprop") & rows["hamiltonian"].ne(False)])
        for method, runs in sampled.groupby("method", sort=False):
            ax.scatter(runs["train_time_s"], positive(runs["test_H_rel_l2"]), label=method,
                       color=colour(method), s=18, zorder=3)  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="training wall-clock [s]")
        ax.set_ylabel("test rel-L2(H)")
        tidy(ax, title)
    return save(fig, folder, stem, "Adam learning curves (lines) and sampled runs (points)")


# ---------------------------------------------------------------- rollouts


def median_curve(records: Sequence[Mapping[str, Any]], indices, key: str):
    """(times, median over runs of rollout[key]) on the first run's time grid."""
    curves = []
    times = None
    for i in indices:
        rollout = records[i].get("rollout") or {}
        t, y = rollout.get("rollout_times"), rollout.get(key)
        if not t or not y or len(t) != len(y):
            continue
        t_arr = np.asarray(t, dtype=float)
        y_arr = np.asarray([as_float(v) for v in y])
        times = t_arr if times is None else times
        curves.append(np.interp(times, t_arr, np.where(np.isfinite(y_arr), y_arr, 1e300)))
    if times is None:
        return None
    return times, np.median(np.vstack(curves), axis=0)


def rollout_curves(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], folder: Path, stem: str,
    key: str, ylabel: str, caption: str,
) -> Figure | None:  # fmt: skip
    """Median over runs of a rollout curve against time, one line per method."""

    def draw(ax, title: str, rows: pd.DataFrame) -> bool:
        drawn = False
        for method, runs in rows.groupby("method", sort=False):
            curve = median_curve(records, runs["idx"], key)
            if curve is not None:
                ax.plot(curve[0], positive(curve[1]), label=method, color=colour(method))
                drawn = True
        ax.set(yscale="log", xlabel="time t", ylabel=ylabel)
        tidy(ax, title)
        return drawn

    return panel_figure(ok_rows(frame), draw, folder, stem, caption)


def focus(ax, x: np.ndarray, y: np.ndarray, margin: float = 0.5) -> None:
    """Axis limits around the true trajectory, so a learned one that escapes does not hide it."""
    for values, setter in ((x, ax.set_xlim), (y, ax.set_ylim)):
        low, high = float(np.min(values)), float(np.max(values))
        pad = margin * max(high - low, 1e-3)
        setter(low - pad, high + pad)
    ax.set_autoscale_on(False)


def phase_portraits(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], folder: Path, stem: str
) -> Figure | None:
    """q1 vs p1 of the true and learned trajectory from one initial state, per method."""

    def draw(ax, title: str, rows: pd.DataFrame) -> bool:
        drawn = truth_drawn = False
        for method, runs in rows.groupby("method", sort=False):
            rollout = records[runs.sort_values("seed")["idx"].iloc[0]].get("rollout") or {}
            true, learned = (
                rollout.get("rollout_example_true"),
                rollout.get("rollout_example_learned"),
            )
            if not true or not learned:
                continue
            true_arr = np.asarray(true, dtype=float)
            learned_arr = np.asarray([[as_float(v) for v in s] for s in learned])
            n = true_arr.shape[1] // 2
            if not truth_drawn:
                ax.plot(true_arr[:, 0], true_arr[:, n], color="black", lw=2.5, alpha=0.4,
                        label="true")  # fmt: skip
                truth_drawn = True
                focus(ax, true_arr[:, 0], true_arr[:, n])
            ax.plot(learned_arr[:, 0], learned_arr[:, n], color=colour(method), lw=1, label=method)
            drawn = True
        ax.set(xlabel="q1", ylabel="p1")
        tidy(ax, title)
        return drawn

    caption = (
        "Phase portrait (q1, p1): true vs learned, one initial state (axes fit the true orbit)"
    )
    return panel_figure(ok_rows(frame), draw, folder, stem, caption)


# ---------------------------------------------------------------- width sweep


def width_sweep(frame: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Error and training time vs hidden width (median, min–max bars), when the width varies."""
    complete = ok_rows(frame)
    if complete.empty or complete["hidden_width"].nunique() < 2:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for (method, system), runs in complete.groupby(["method", "system"], sort=False):
        stats = runs.groupby("hidden_width")[["test_H_rel_l2", "train_time_s"]]
        median, low, high = stats.median(), stats.min(), stats.max()
        widths = median.index.to_numpy(dtype=float)
        for ax, column in ((left, "test_H_rel_l2"), (right, "train_time_s")):
            y = positive(median[column])
            bars = [y - positive(low[column]), positive(high[column]) - y]
            ax.errorbar(widths, y, yerr=np.nan_to_num(bars), marker="o", ms=3, capsize=2,
                        color=colour(method), label=f"{method} ({system})")  # fmt: skip
    left.set(yscale="log", xlabel="hidden width", ylabel="test rel-L2(H)")
    right.set(yscale="log", xlabel="hidden width", ylabel="training time [s]")
    tidy(left, "")
    tidy(right, "")
    return save(fig, folder, stem, "Test error and training time vs width (median, min–max)")


# ---------------------------------------------------------------- dimension sweep


def dimension_sweep(frame: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Test error and training time vs n (log–log, medians over seeds), one line per method and
    system, its fitted growth exponent in the legend; when a system runs at several n."""
    medians = tables.dimension_medians(frame)
    if medians.empty:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {
        system: style for system, style in zip(medians["system"].unique(), "-:-.", strict=False)
    }
    for (_, system, method), points in medians.groupby(tables.DIMENSION_KEYS, sort=False):
        dofs = points["dof"].to_numpy(float)
        for ax, column in ((left, "test_H_rel_l2"), (right, "train_time_s")):
            slope = tables.growth_exponent(dofs, points[column].tolist())
            label = f"{method} ({system}): slope {tables.exponent_text(slope)}"
            ax.plot(dofs, positive(points[column]), styles.get(system, "-"), marker="o", ms=3,
                    color=colour(method), label=label)  # fmt: skip
    left.set(xscale="log", yscale="log", xlabel="degrees of freedom n", ylabel="test rel-L2(H)")
    right.set(xscale="log", yscale="log", xlabel="degrees of freedom n",
              ylabel="training time [s]")  # fmt: skip
    ticks = sorted(medians["dof"].unique())
    for ax in (left, right):
        tidy(ax, "")
        ax.set_xticks(ticks, [str(n) for n in ticks])  # n itself, not powers of ten
    caption = (
        "Test error and training time vs degrees of freedom n (phase space 2n), medians over "
        "seeds, log–log; slope: fitted growth exponent (value ∝ n^slope)"
    )
    return save(fig, folder, stem, caption)


# ---------------------------------------------------------------- rcond and noise sweeps


def system_axes(systems: Sequence[str]):
    """One log-scaled panel per system in a row (at most four a row)."""
    cols = min(len(systems), 4)
    rows = -(-len(systems) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(systems) :]:
        ax.set_visible(False)
    return fig, dict(zip(systems, axes.flat, strict=False))


def label_short_log_axis(ax) -> None:
    """Label minor ticks of a log y axis spanning less than a decade (an error flat in the
    swept knob would otherwise show no value at all)."""
    low, high = ax.get_ylim()
    if 0 < low and high < 10 * low:
        ax.yaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False))
        ax.tick_params(axis="y", which="minor", labelsize=6)


def rcond_sweep(frame: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Median test error vs fixed rcond per system (log–log), one line per sampler; rcond=auto
    a star at the median rcond it chose (its error), with the min–max of its choices."""
    medians = tables.rcond_medians(frame)
    if medians.empty:
        return None
    fig, axes = system_axes(list(medians["system"].unique()))
    for (_, system, method), points in medians.groupby(tables.RCOND_KEYS, sort=False):
        ax, fixed = axes[system], points[points["rcond_mode"] == "fixed"]
        ax.plot(fixed["rcond"], positive(fixed[tables.SWEEP_METRIC]), "-o", ms=3,
                color=colour(method), label=f"{method}, fixed rcond")  # fmt: skip
        for _, auto in points[points["rcond_mode"] == "auto"].iterrows():
            span = [[auto["rcond"] - auto["rcond_low"]], [auto["rcond_high"] - auto["rcond"]]]
            ax.errorbar([auto["rcond"]], positive([auto[tables.SWEEP_METRIC]]), xerr=span,
                        marker="*", ms=10, capsize=2, ls="none", color=colour(method),
                        mec="black", mew=0.5, label=f"{method}, auto (GCV)")  # fmt: skip
    for system, ax in axes.items():
        ax.set(xscale="log", yscale="log", xlabel="rcond (λ = rcond·σ_max)",
               ylabel="test rel-L2(H)")  # fmt: skip
        tidy(ax, system)
        label_short_log_axis(ax)
    caption = (
        "Test error vs the sampled solver's rcond (qr_ridge, λ = rcond·σ_max), medians over "
        "seeds; stars: rcond=auto at the median rcond GCV chose (bars: min–max of its choices)"
    )
    return save(fig, folder, stem, caption)


def noise_sweep(frame: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Median test error vs target-noise level per system, one line per method (auto dashed);
    the levels equally spaced (0 has no place on a log axis)."""
    medians = tables.noise_medians(frame)
    if medians.empty:
        return None
    levels = sorted(medians["noise_std"].unique())
    relative = bool(medians["noise_relative"].any())
    fig, axes = system_axes(list(medians["system"].unique()))
    for (_, system, method), points in medians.groupby(tables.NOISE_KEYS, sort=False):
        x = [levels.index(v) for v in points["noise_std"]]
        base = method.removesuffix("-auto")
        axes[system].plot(x, positive(points[tables.SWEEP_METRIC]), "--" if base != method else "-",
                          marker="o", ms=3, color=colour(base), label=method)  # fmt: skip
    for system, ax in axes.items():
        ax.set_xticks(range(len(levels)), [f"{v:g}" for v in levels])
        ax.set(yscale="log", xlabel=f"noise std{' / RMS(ẋ)' if relative else ''}",
               ylabel="test rel-L2(H)")  # fmt: skip
        tidy(ax, system)
        label_short_log_axis(ax)
    caption = (
        "Test error vs noise on the training targets (std"
        f"{' relative to the RMS of the exact ẋ' if relative else ''}), medians over seeds; "
        "dashed: rcond=auto"
    )
    return save(fig, folder, stem, caption)


# ---------------------------------------------------------------- learning from snapshots

#: correction → (colour, the order of its error in h: the slope of its guide line)
CORRECTION_ORDER = {"none": ("tab:blue", 1), "first": ("tab:orange", 2), "second": ("tab:green", 3)}
STEP_KEYS = ["system", "case_base", "method", "data_source", "state_noise_std", "correction"]


def step_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Median test rel-L2(H) over seeds per (system, parameters and domain, method, source,
    state noise, correction, h), for runs learned from snapshots or trajectories, where that
    combination ran at ≥ 2 observation steps h."""
    runs = ok_rows(frame)
    if runs.empty or "data_source" not in runs:
        return pd.DataFrame()
    runs = runs[runs["data_source"] != "derivatives"].copy()
    if runs.empty:
        return pd.DataFrame()
    runs["case_base"] = runs["params"] + "; " + runs["case"].str.split("; ").str[1]
    runs["state_noise_std"] = runs["state_noise_std"].fillna(0.0)
    grouped = runs.groupby([*STEP_KEYS, "dt_obs"], sort=True)
    medians = grouped["test_H_rel_l2"].median().reset_index()
    steps = medians.groupby(STEP_KEYS)["dt_obs"].transform("nunique")
    return medians[steps >= 2].reset_index(drop=True)


def error_vs_step(frame: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Test rel-L2(H) vs the observation step h (log–log), one line per correction, with a
    dotted guide of slope 1 / 2 / 3 (the order each correction should reach) below it."""
    medians = step_medians(frame)
    if medians.empty:
        return None
    panel_keys = [k for k in STEP_KEYS if k != "correction"]
    shown = list(medians.groupby(panel_keys, sort=False))[:MAX_PANELS]
    fig, axes = grid(len(shown))
    for ax, (key, points) in zip(axes, shown, strict=False):
        system, case, method, source, noise = key
        ranked = sorted(points["correction"].unique(), key=list(CORRECTION_ORDER).index)
        for correction in ranked:
            line = points[points["correction"] == correction]
            tone, order = CORRECTION_ORDER[correction]
            h, error = line["dt_obs"].to_numpy(), positive(line["test_H_rel_l2"])
            ax.plot(h, error, "-o", ms=4, color=tone, label=f"correction {correction}")
            top = int(np.nanargmax(h))
            guide = 0.5 * error[top] * (h / h[top]) ** order
            ax.plot(h, guide, ":", color=tone, lw=1, label=f"slope {order}")
        ax.set(xscale="log", yscale="log", xlabel="observation step h", ylabel="test rel-L2(H)")
        steps = sorted(points["dt_obs"].unique())
        ax.set_xticks(steps, [f"{h:g}" for h in steps])
        noisy = f", state noise {noise:g}" if noise > 0 else ""
        tidy(ax, f"{system}, {method}, {source}{noisy}\n{case}")
    caption = (
        "Test rel-L2(H) vs the observation step h of the snapshot data, medians over seeds, per "
        "backward-error correction of Ĥ; dotted: slopes 1, 2, 3 (the orders of none, first, "
        "second), drawn at half the error of the largest h"
    )
    return save(fig, folder, stem, caption)


# ---------------------------------------------------------------- inside vs outside the box


def inside_vs_outside(frame: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Per system and case: paired bars of the median test rel-L2(H) inside the training box
    and on the shell around it, one pair per method."""
    complete = ok_rows(frame)
    complete = complete[np.isfinite(complete["test_outside_H_rel_l2"])]

    def draw(ax, title: str, rows: pd.DataFrame) -> bool:
        stats = rows.groupby("method", sort=False)[["test_H_rel_l2", "test_outside_H_rel_l2"]]
        median = stats.median()
        order = [m for m in METHOD_ORDER if m in median.index]
        order += [m for m in median.index if m not in order]
        x = np.arange(len(order))
        for offset, column, label, hatch in (
            (-0.2, "test_H_rel_l2", "inside the box", ""),
            (0.2, "test_outside_H_rel_l2", "outside (shell)", "//"),
        ):
            values = positive(median.loc[order, column])
            ax.bar(x + offset, values, width=0.4, label=label, hatch=hatch,
                   color=[colour(m) for m in order], edgecolor="black", lw=0.5)  # fmt: skip
        ax.set_xticks(x, order, fontsize=7)
        ax.set(yscale="log", ylabel="test rel-L2(H), median")
        tidy(ax, title)
        return bool(order)

    caption = (
        "Test rel-L2(H) inside the training box (plain) and on the shell (box × "
        "evaluation.outside_scale) minus the box (hatched), median over seeds"
    )
    return panel_figure(complete, draw, folder, stem, caption)


# ---------------------------------------------------------------- claims (matched accuracy)


def _bars(median: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Non-negative error-bar lengths for log axes (NaN where unknown → no bar)."""
    return np.nan_to_num(np.vstack([median - low, high - median]).clip(min=0))


def _draw_ladder(ax, ladder: pd.DataFrame) -> None:
    """Sampled configurations as points (median time, median error) with min–max bars; a line
    joins the front (configurations more accurate than every cheaper one)."""
    for method, configs in ladder.groupby("method", sort=False):
        x, y = configs["time_median"].to_numpy(float), positive(configs["error_median"])
        xerr = _bars(x, configs["time_min"].to_numpy(float), configs["time_max"].to_numpy(float))
        yerr = _bars(y, positive(configs["error_min"]), positive(configs["error_max"]))
        tone = colour(method)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", ms=4, capsize=2, lw=1, color=tone,
                    label=f"{method} (sampled, median [min–max])", zorder=3)  # fmt: skip
        order = np.argsort(x, kind="stable")  # the ladder is cheapest first already
        front = order[y[order] < np.fmin.accumulate(np.r_[np.inf, y[order][:-1]])]
        ax.plot(x[front], y[front], "-", color=tone, lw=1, alpha=0.7)


def claims_error_vs_time(problems: Sequence[Problem], folder: Path, stem: str) -> Figure | None:
    """Per system: every backprop baseline's median learning curve (band: min–max over seeds)
    and the sampled ladder with min–max bars, test rel-L2(H) vs training seconds."""
    shown = [(p, p.title) for p in problems if p.comparable][:MAX_PANELS]
    if not shown:
        return None
    fig, axes = grid(len(shown))
    for ax, (problem, title) in zip(axes, shown, strict=False):
        for baseline in problem.baselines:
            if not baseline.runs:
                continue
            seconds, median, low, high = matched.median_curve(baseline.runs)
            keep = seconds > 0
            method_colour = colour(baseline.method)
            style = "--" if baseline.device != "cpu" else "-"
            label = f"{baseline.config['label']} (median of {len(baseline.runs)})"
            ax.plot(seconds[keep], positive(median[keep]), style, color=method_colour,
                    label=label)  # fmt: skip
            ax.fill_between(seconds[keep], positive(low[keep]), positive(high[keep]),
                            color=method_colour, alpha=0.15, lw=0)  # fmt: skip
        _draw_ladder(ax, problem.ladder)
        ax.set(xscale="log", yscale="log", xlabel="training time [s]", ylabel="test rel-L2(H)")
        tidy(ax, title)
    caption = (
        "Error vs training time per system: backprop learning curves (median over seeds, band "
        "min–max; dashed: not on the CPU) and the sampled ladder (median, min–max bars)"
    )
    return save(fig, folder, stem, caption)


def _draw_spreads(ax, x: list[float], spreads: list, colour_: str, label: str, star: bool) -> None:
    """Median brackets as markers at their lower end with a bar to their upper end; an open
    marker with an upward arrow where the upper end is unbounded."""
    for xi, spread in zip(x, spreads, strict=True):
        if spread is None or spread.median.kind == "unreached":
            continue
        low, high = spread.median.low, spread.median.high
        y = low if low > 0 else high
        unbounded = not np.isfinite(high)
        marker = "*" if star else "o"
        top = max(high - y, 0) if np.isfinite(high) else 0
        ax.errorbar([xi], [y], yerr=[[0], [top]], fmt=marker,
                    ms=10 if star else 5, capsize=2, color=colour_,
                    mfc="none" if unbounded else colour_, label=label)  # fmt: skip
        if unbounded:
            ax.annotate("", xy=(xi, y * 2.5), xytext=(xi, y),
                        arrowprops={"arrowstyle": "->", "color": colour_})  # fmt: skip


def claims_speedup(
    problems: Sequence[Problem], threshold: float, folder: Path, stem: str
) -> Figure | None:
    """Per system: the speed-up against each backprop baseline vs the matched error — at each
    sampled configuration's error (circles; open with an arrow: lower bound, backprop never got
    there) and at backprop's own best error (stars) — with min–max bars and the claim's line."""
    shown = [(p, p.title) for p in problems if p.comparable][:MAX_PANELS]
    if not shown:
        return None
    fig, axes = grid(len(shown))
    for ax, (problem, title) in zip(axes, shown, strict=False):
        for baseline in (b for b in problem.baselines if b.runs):
            tone = colour(baseline.method)
            errors = problem.ladder["error_median"].tolist()
            spreads = [
                matched.speedups_to_error(matched.time_to_error(baseline, e), config)
                for e, (_, config) in zip(errors, problem.ladder.iterrows(), strict=True)
            ]
            _draw_spreads(ax, errors, spreads, tone, baseline.label, star=False)
            at_best = matched.speedup_at_best(baseline, problem.ladder)
            target = float(np.median(at_best.targets))
            _draw_spreads(ax, [target], [at_best.speedup], tone,
                          f"{baseline.label} at its best error", star=True)  # fmt: skip
        ax.axhline(threshold, color="black", ls=":", lw=1, label=f"claim: {threshold:g}×")
        ax.set(xscale="log", yscale="log", xlabel="matched test rel-L2(H)",
               ylabel="speed-up (backprop time / sampled time)")  # fmt: skip
        tidy(ax, title)
    caption = (
        "Speed-up at matched accuracy per system (median bracket over seeds: marker at its lower "
        "end, bar to its upper end): stars at backprop's best error, circles at each sampled "
        "configuration's error; open markers with arrows have no upper end (the cheapest rung "
        "already reaches backprop's error, or backprop never reached the rung's)"
    )
    return save(fig, folder, stem, caption)


# ---------------------------------------------------------------- the Hamiltonian prior (2 × 2)

PRIOR_STYLE = {"sampled": ("tab:blue", "sampled"), "backprop": ("tab:orange", "backprop")}


def _prior_points(ax, rows: pd.DataFrame, metric: str) -> None:
    """One marker per cell configuration at (median train time, median metric), min–max bars;
    colour: sampled / backprop; filled circle: HNN, open square: MLP."""
    for _, row in rows.iterrows():
        colour_, kind = PRIOR_STYLE.get(row["trainer"], ("grey", str(row["trainer"])))
        model = "HNN" if row["hamiltonian"] else "MLP"
        x = row["train_time_s_median"]
        y = [row[f"{metric}_{k}"] for k in ("median", "min", "max")]
        if not (np.isfinite(x) and np.isfinite(y[0])) or x <= 0:
            continue
        yerr = np.array([[max(y[0] - y[1], 0)], [max(y[2] - y[0], 0)]])
        ax.errorbar(
            x, max(y[0], TINY), yerr=yerr, fmt="o" if row["hamiltonian"] else "s",
            color=colour_, mfc=colour_ if row["hamiltonian"] else "white", ms=7, capsize=3,
            label=f"{kind} {model} ({row['method']})",
        )  # fmt: skip


def prior_figure(data: pd.DataFrame, folder: Path, stem: str) -> Figure | None:
    """Per problem: test rel-L2(ẋ) and energy drift against training time for the four cells
    {sampled, backprop} × {HNN, MLP} (median, min–max over seeds)."""
    if data.empty:
        return None
    problems = list(data.groupby(tables.PRIOR_KEYS, sort=False, dropna=False))[: MAX_PANELS // 2]
    fig, axes = plt.subplots(len(problems), 2, figsize=(9.5, 3.6 * len(problems)), squeeze=False)
    for (key, rows), (left, right) in zip(problems, axes, strict=True):
        title = f"{key[1]} ({key[0]})\n{key[2]}"
        for ax, metric, label in (
            (left, "test_xdot_rel_l2", "test rel-L2(ẋ)"),
            (right, "energy_drift", "energy drift (true H, rollouts)"),
        ):
            _prior_points(ax, rows, metric)
            ax.set(xscale="log", yscale="log", xlabel="training time [s]", ylabel=label)
            tidy(ax, title)
    caption = (
        "Is the Hamiltonian prior worth it? {sampled, backprop} × {HNN, MLP}: test error of ẋ and "
        "energy drift vs training time (median, bars min–max over seeds)"
    )
    return save(fig, folder, stem, caption)


# ---------------------------------------------------------------- energy-trajectory study


def _level_set(ax, record: Mapping[str, Any], level: float, q: np.ndarray, p: np.ndarray) -> None:
    """The true orbit H = level (a contour of the system's H), for reference."""
    from hnnbench import systems  # the report needs the system only here

    try:
        system = systems.get(record["system"], **(record.get("system_params") or {}))
    except (KeyError, TypeError, ValueError):
        return
    if system.dof != 1:
        return
    pad_q, pad_p = 0.1 * np.ptp(q) + 1e-3, 0.1 * np.ptp(p) + 1e-3
    qq, pp = np.meshgrid(
        np.linspace(q.min() - pad_q, q.max() + pad_q, 300),
        np.linspace(p.min() - pad_p, p.max() + pad_p, 300),
    )
    energy = system.H(np.column_stack([qq.ravel(), pp.ravel()])).reshape(qq.shape)
    ax.contour(qq, pp, energy, levels=[level], colors="black", linewidths=2.5, alpha=0.3)
    ax.plot([], [], color="black", lw=2.5, alpha=0.3, label=f"true orbit H = {level:g}")


def energy_study(
    data: pd.DataFrame,
    records: Sequence[Mapping[str, Any]],
    curves: Mapping[int, Mapping[str, np.ndarray]],
    folder: Path,
    stem: str,
) -> Figure | None:
    """H(t) along each learned trajectory on one axis (with what the paper's plot shows) and
    the phase portraits (q1, p1) of the same trajectories."""
    drawn = [row for _, row in data.iterrows() if row["idx"] in curves]
    if not drawn:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for row in drawn:
        curve = curves[row["idx"]]
        label = f"{row['method']} ({'HNN' if row['hamiltonian'] else 'MLP'})"
        colour_ = colour(row["method"])
        left.plot(curve["t"], curve["H"], color=colour_, lw=0.8, label=label)
        n = curve["x"].shape[1] // 2
        right.plot(curve["x"][:, 0], curve["x"][:, n], color=colour_, lw=0.6, label=label)
    band = tables.PAPER_ENERGY[True]
    left.axhspan(band["H_min"], band["H_max"], color="tab:green", alpha=0.12,
                 label="paper S-HNN band (read off plot)")  # fmt: skip
    left.scatter([drawn[0]["horizon"]], [tables.PAPER_ENERGY[False]["H_final"]], marker="*",
                 s=120, color="tab:red", zorder=4,
                 label="paper S-MLP at t = 100 (read off plot)")  # fmt: skip
    left.set(xlabel="time t", ylabel="true H along the learned trajectory")
    left.ticklabel_format(axis="y", useOffset=False)
    first = curves[drawn[0]["idx"]]
    n = first["x"].shape[1] // 2
    _level_set(right, records[drawn[0]["idx"]], float(first["H"][0]), first["x"][:, 0],
               first["x"][:, n])  # fmt: skip
    domain = records[drawn[0]["idx"]].get("domain")
    if domain:  # where the model was trained: an orbit beyond it is extrapolation
        (q_low, q_high), (p_low, p_high) = domain[0], domain[len(domain) // 2]
        right.plot([q_low, q_high, q_high, q_low, q_low], [p_low, p_low, p_high, p_high, p_low],
                   "--", color="tab:green", lw=1, label="training box")  # fmt: skip
        right.set_xlim(
            min(q_low, first["x"][:, 0].min()) - 0.3, max(q_high, first["x"][:, 0].max()) + 0.3
        )
    right.set(xlabel="q1", ylabel="p1")
    system = drawn[0]["system"]
    integrator = f"{drawn[0]['integrator']}, h = {drawn[0]['dt']:g}"
    tidy(left, f"{system}: energy along the learned trajectory ({integrator})")
    tidy(right, f"{system}: phase portrait of the same trajectories")
    caption = (
        "Energy study: the true H along each learned trajectory (left; the paper's values read "
        "off its plot for reference) and the trajectories in phase space (right)"
    )
    return save(fig, folder, stem, caption)


def group_figures(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], folder: Path, slug: str
) -> list[Figure]:
    """Every figure for one group, skipping those with nothing to plot."""
    made = [
        error_vs_time(frame, folder, f"{slug}_error_vs_time"),
        adam_curves_with_points(frame, records, folder, f"{slug}_adam_curves"),
        rollout_curves(
            frame, records, folder, f"{slug}_rollout_error", "rollout_rel_error_curve",
            "rollout rel. error", "Rollout relative error vs time (median over runs)",
        ),
        rollout_curves(
            frame, records, folder, f"{slug}_energy_drift", "energy_drift_curve",
            "energy drift", "Energy drift vs time (median over runs)",
        ),
        phase_portraits(frame, records, folder, f"{slug}_phase"),
        width_sweep(frame, folder, f"{slug}_width"),
        dimension_sweep(frame, folder, f"{slug}_dimension"),
        rcond_sweep(frame, folder, f"{slug}_rcond"),
        noise_sweep(frame, folder, f"{slug}_noise"),
        inside_vs_outside(frame, folder, f"{slug}_outside"),
        error_vs_step(frame, folder, f"{slug}_error_vs_h"),
    ]  # fmt: skip
    return [f for f in made if f is not None]


# ---------------------------------------------------------------- the Adam check


def adam_curve_overlay(
    table: pd.DataFrame, published: pd.DataFrame, folder: Path, stem: str
) -> Figure | None:
    """Our mini-batch training loss over the authors' log (log y), one panel per system; the
    published log is drawn to twice our last step (at least 5000) so its trend stays visible."""
    systems = list(dict.fromkeys(table["system"]))
    if not systems:
        return None
    fig, axes = grid(len(systems))
    for ax, system in zip(axes, systems, strict=False):
        ours = table[(table["system"] == system)].dropna(subset=["our_loss"])
        until = max(2 * int(ours["step"].max()) if len(ours) else 0, 5000)
        log = published[(published["system"] == system) & (published["step"] <= until)]
        ax.plot(log["step"], positive(log["train_loss"]), "-", color="0.4",
                label="published (authors' log)")  # fmt: skip
        ax.plot(ours["step"], positive(ours["our_loss"]), "o-", color=colour("adam"),
                label="ours")  # fmt: skip
        ax.set(yscale="log", xlabel="step")
        ax.set_ylabel("mini-batch training loss")
        tidy(ax, system)
    return save(fig, folder, stem, "Adam training loss: ours (points) over the authors' log")

"""Figures of every run of a group, one panel per (system, case): error vs training time, Adam's
learning curves, the rollout curves, phase portraits, and the error inside vs outside the box.

Each is ``figure(rows, ctx, stem) -> Figure | None`` over one group's rows (``build.py`` lists
them, with the sweep figures, in the order of the report's Figures section).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from hnnbench.report.analysis import Context
from hnnbench.report.document import Figure
from hnnbench.report.figures import ok_rows, panel_figure, positive, tidy
from hnnbench.report.labels import colour, heading, method_rank
from hnnbench.report.matched import curve_of
from hnnbench.report.numbers import as_float

ERROR, TIME = heading("test_H_rel_l2"), heading("train_time_s")


def error_vs_time(frame: pd.DataFrame, ctx: Context, stem: str) -> Figure | None:
    """Test rel-L2(H) against training time for every complete run, log–log."""
    complete = ok_rows(frame)
    complete = complete[np.isfinite(complete["train_time_s"]) & (complete["train_time_s"] > 0)]
    # an MLP has no H error, nor has a model of measured data (no true H to compare with)
    complete = complete[np.isfinite(positive(complete["test_H_rel_l2"]))]

    def draw(ax: Axes, title: str, rows: pd.DataFrame) -> bool:
        for method, runs in rows.groupby("method", sort=False):
            ax.scatter(runs["train_time_s"], positive(runs["test_H_rel_l2"]), label=method,
                       color=colour(method), s=18, alpha=0.8)  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel=TIME, ylabel=ERROR)
        tidy(ax, title)
        return True

    caption = "Test rel-L2 error of H vs training time, every complete run"
    return panel_figure(complete, draw, ctx.figures, stem, caption)


def adam_curves(frame: pd.DataFrame, ctx: Context, stem: str) -> Figure | None:
    """Adam's test error vs training wall-clock, sampled runs as points on the same axes."""
    adams = frame[(frame["trainer"] == "backprop") & frame["status"].isin(["ok", "diverged"])]
    if adams.empty:
        return None

    def draw(ax: Axes, title: str, rows: pd.DataFrame) -> bool:
        drawn = False
        # their curves follow test rel-L2(H): models without one (Adam-MLP, a model of measured
        # data) have no curve here
        for _, run in rows[
            (rows["trainer"] == "backprop") & rows["hamiltonian"].ne(False)
        ].iterrows():
            seconds, errors = curve_of(ctx.records[run["idx"]])
            keep, diverged = (seconds > 0) & np.isfinite(errors), run["status"] == "diverged"
            if not keep.any():
                continue
            label = (
                f"{run['method']} (width {run['hidden_width']}{', diverged' if diverged else ''})"
            )
            ax.plot(seconds[keep], positive(errors[keep]), "--" if diverged else "-",
                    color=colour(run["method"]), alpha=0.7, label=label)  # fmt: skip
            drawn = True
        sampled = ok_rows(rows[(rows["trainer"] != "backprop") & rows["hamiltonian"].ne(False)])
        sampled = sampled[np.isfinite(positive(sampled["test_H_rel_l2"]))]
        for method, runs in sampled.groupby("method", sort=False):
            ax.scatter(runs["train_time_s"], positive(runs["test_H_rel_l2"]), label=method,
                       color=colour(method), s=18, zorder=3)  # fmt: skip
            drawn = True
        if drawn:
            ax.set(xscale="log", yscale="log", xlabel="training wall-clock [s]", ylabel=ERROR)
        tidy(ax, title)
        return drawn

    caption = "Adam learning curves (lines) and sampled runs (points)"
    return panel_figure(frame, draw, ctx.figures, stem, caption)


def median_curve(
    records: Sequence[Mapping[str, Any]], indices: Sequence[int], key: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """(times, median over runs of rollout[key]) on the first run's time grid."""
    curves, times = [], None
    for i in indices:
        rollout = records[i].get("rollout") or {}
        t, y = rollout.get("rollout_times"), rollout.get(key)
        if not t or not y or len(t) != len(y):
            continue
        values = np.asarray([as_float(v) for v in y])
        times = np.asarray(t, dtype=float) if times is None else times
        curves.append(
            np.interp(times, np.asarray(t, float), np.where(np.isfinite(values), values, 1e300))
        )
    return None if times is None else (times, np.median(np.vstack(curves), axis=0))


def rollout_curve(key: str, ylabel: str, caption: str):
    """A figure of the median over runs of a rollout curve against time, a line per method."""

    def figure(frame: pd.DataFrame, ctx: Context, stem: str) -> Figure | None:
        def draw(ax: Axes, title: str, rows: pd.DataFrame) -> bool:
            drawn = False
            for method, runs in rows.groupby("method", sort=False):
                curve = median_curve(ctx.records, runs["idx"].tolist(), key)
                if curve is not None:
                    ax.plot(curve[0], positive(curve[1]), label=method, color=colour(method))
                    drawn = True
            ax.set(yscale="log", xlabel="time t", ylabel=ylabel)
            tidy(ax, title)
            return drawn

        return panel_figure(ok_rows(frame), draw, ctx.figures, stem, caption)

    return figure


rollout_error = rollout_curve("rollout_rel_error_curve", "rollout rel. error",
                              "Rollout relative error vs time (median over runs)")  # fmt: skip
energy_drift = rollout_curve("energy_drift_curve", "energy drift",
                             "Energy drift vs time (median over runs)")  # fmt: skip


def focus(ax: Axes, x: np.ndarray, y: np.ndarray, margin: float = 0.5) -> None:
    """Axis limits around the true trajectory, so a learned one that escapes does not hide it."""
    for values, setter in ((x, ax.set_xlim), (y, ax.set_ylim)):
        low, high = float(np.min(values)), float(np.max(values))
        pad = margin * max(high - low, 1e-3)
        setter(low - pad, high + pad)
    ax.set_autoscale_on(False)


def phase_portraits(frame: pd.DataFrame, ctx: Context, stem: str) -> Figure | None:
    """q1 vs p1 of the true and learned trajectory from one initial state, per method."""

    def draw(ax: Axes, title: str, rows: pd.DataFrame) -> bool:
        drawn = truth_drawn = False
        for method, runs in rows.groupby("method", sort=False):
            rollout = ctx.records[runs.sort_values("seed")["idx"].iloc[0]].get("rollout") or {}
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
                ax.plot(
                    true_arr[:, 0], true_arr[:, n], color="black", lw=2.5, alpha=0.4, label="true"
                )
                focus(ax, true_arr[:, 0], true_arr[:, n])
                truth_drawn = True
            ax.plot(learned_arr[:, 0], learned_arr[:, n], color=colour(method), lw=1, label=method)
            drawn = True
        ax.set(xlabel="q1", ylabel="p1")
        tidy(ax, title)
        return drawn

    caption = (
        "Phase portrait (q1, p1): true vs learned, one initial state (axes fit the true orbit)"
    )
    return panel_figure(ok_rows(frame), draw, ctx.figures, stem, caption)


def inside_vs_outside(frame: pd.DataFrame, ctx: Context, stem: str) -> Figure | None:
    """Per system and case: paired bars of the median test rel-L2(H) inside the training box
    and on the shell around it, one pair per method."""
    complete = ok_rows(frame)
    complete = complete[np.isfinite(complete["test_outside_H_rel_l2"])]

    def draw(ax: Axes, title: str, rows: pd.DataFrame) -> bool:
        stats = rows.groupby("method", sort=False)[["test_H_rel_l2", "test_outside_H_rel_l2"]]
        median = stats.median()
        order = sorted(median.index, key=method_rank)
        x = np.arange(len(order))
        for offset, column, label, hatch in (
            (-0.2, "test_H_rel_l2", "inside the box", ""),
            (0.2, "test_outside_H_rel_l2", "outside (shell)", "//"),
        ):
            values = positive(median.loc[order, column])
            ax.bar(x + offset, values, width=0.4, label=label, hatch=hatch,
                   color=[colour(m) for m in order], edgecolor="black", lw=0.5)  # fmt: skip
        ax.set_xticks(x, order, fontsize=7)
        ax.set(yscale="log", ylabel=f"{ERROR}, median")
        tidy(ax, title)
        return bool(order)

    caption = (
        "Test rel-L2(H) inside the training box (plain) and on the shell (box × "
        "evaluation.outside_scale) minus the box (hatched), median over seeds"
    )
    return panel_figure(complete, draw, ctx.figures, stem, caption)

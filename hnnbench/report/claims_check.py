"""The claims check and the matched-accuracy comparison behind it: the problems of the report's
runs, standard HNN task runs aside (``matched.problems_of``) → the verdicts
(``verdicts.claims_section``, the report's first section) and the matched-accuracy tables with
their two figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as Canvas

from hnnbench.data import TASK_SOURCES
from hnnbench.report import matched, verdicts
from hnnbench.report.analysis import Context
from hnnbench.report.document import Figure, Section
from hnnbench.report.figures import MAX_PANELS, bars, grid, positive, save, tidy
from hnnbench.report.labels import colour, heading
from hnnbench.report.matched import Problem, Spread

ERROR = heading("test_H_rel_l2")


def sections(ctx: Context) -> tuple[Section, Section]:
    """(the claims check, the matched-accuracy section with its two figures)."""
    # the standard HNN tasks' runs have their own claims check (``standard_tasks``)
    tasks = ctx.frame["data_source"].isin(TASK_SOURCES)
    problems = matched.problems_of(ctx.frame[~tasks], ctx.records)
    comparable = any(p.comparable for p in problems)
    figures = [draw(problems, ctx) for draw in FIGURES] if comparable else []
    return verdicts.claims_section(problems), verdicts.matched_section(problems, figures)


def draw_ladder(ax: Axes, ladder: pd.DataFrame) -> None:
    """Sampled configurations as points (median time, median error) with min–max bars; a line
    joins the front (configurations more accurate than every cheaper one)."""
    for method, configs in ladder.groupby("method", sort=False):
        x, y = configs["time_median"].to_numpy(float), positive(configs["error_median"])
        xerr = bars(x, configs["time_min"], configs["time_max"])
        yerr = bars(y, positive(configs["error_min"]), positive(configs["error_max"]))
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", ms=4, capsize=2, lw=1,
                    color=colour(method), label=f"{method} (sampled, median [min–max])",
                    zorder=3)  # fmt: skip
        order = np.argsort(x, kind="stable")  # the ladder is cheapest first already
        front = order[y[order] < np.fmin.accumulate(np.r_[np.inf, y[order][:-1]])]
        ax.plot(x[front], y[front], "-", color=colour(method), lw=1, alpha=0.7)


def problem_panels(problems: Sequence[Problem]) -> tuple[Canvas, list[tuple[Axes, Problem]]]:
    """A panel per problem with both kinds of run (at most ``MAX_PANELS``)."""
    shown = [p for p in problems if p.comparable][:MAX_PANELS]
    fig, axes = grid(len(shown))
    return fig, list(zip(axes, shown, strict=False))


def error_vs_time(problems: Sequence[Problem], ctx: Context) -> Figure:
    """Per system: every backprop baseline's median learning curve (band: min–max over seeds)
    and the sampled ladder with min–max bars, test rel-L2(H) vs training seconds."""
    fig, panels = problem_panels(problems)
    for ax, problem in panels:
        for baseline in (b for b in problem.baselines if b.runs):
            seconds, median, low, high = matched.median_curve(baseline.runs)
            keep, tone = seconds > 0, colour(baseline.method)
            label = f"{baseline.config['label']} (median of {len(baseline.runs)})"
            style = "--" if baseline.device != "cpu" else "-"
            ax.plot(seconds[keep], positive(median[keep]), style, color=tone, label=label)
            ax.fill_between(seconds[keep], positive(low[keep]), positive(high[keep]), color=tone,
                            alpha=0.15, lw=0)  # fmt: skip
        draw_ladder(ax, problem.ladder)
        ax.set(xscale="log", yscale="log", xlabel=heading("train_time_s"), ylabel=ERROR)
        tidy(ax, problem.title)
    caption = (
        "Error vs training time per system: backprop learning curves (median over seeds, band "
        "min–max; dashed: not on the CPU) and the sampled ladder (median, min–max bars)"
    )
    # a hyphen: a group's slug never has one, so no group's figures can overwrite these
    return save(fig, ctx.figures, "claims-check_error_vs_time", caption)


def draw_spreads(
    ax: Axes, x: list[float], spreads: Sequence[Spread | None], tone: Any, label: str, star: bool
) -> None:
    """Median brackets as markers at their lower end with a bar to their upper end; an open
    marker with an upward arrow where the upper end is unbounded."""
    for xi, spread in zip(x, spreads, strict=True):
        if spread is None or spread.median.kind == "unreached":
            continue
        low, high = spread.median.low, spread.median.high
        y = low if low > 0 else high
        unbounded = not np.isfinite(high)
        top = max(high - y, 0) if np.isfinite(high) else 0
        ax.errorbar([xi], [y], yerr=[[0], [top]], fmt="*" if star else "o",
                    ms=10 if star else 5, capsize=2, color=tone,
                    mfc="none" if unbounded else tone, label=label)  # fmt: skip
        if unbounded:
            ax.annotate("", xy=(xi, y * 2.5), xytext=(xi, y),
                        arrowprops={"arrowstyle": "->", "color": tone})  # fmt: skip


def speedup(problems: Sequence[Problem], ctx: Context) -> Figure:
    """Per system: the speed-up against each backprop baseline vs the matched error — at each
    sampled configuration's error (circles; open with an arrow: lower bound, backprop never got
    there) and at backprop's own best error (stars) — with min–max bars and the claim's line."""
    threshold = verdicts.THRESHOLDS.speedup
    fig, panels = problem_panels(problems)
    for ax, problem in panels:
        for baseline in (b for b in problem.baselines if b.runs):
            tone = colour(baseline.method)
            errors = problem.ladder["error_median"].tolist()
            spreads = [
                matched.speedups_to_error(matched.time_to_error(baseline, e), config)
                for e, (_, config) in zip(errors, problem.ladder.iterrows(), strict=True)
            ]
            draw_spreads(ax, errors, spreads, tone, baseline.label, star=False)
            at_best = matched.speedup_at_best(baseline, problem.ladder)
            draw_spreads(ax, [float(np.median(at_best.targets))], [at_best.speedup], tone,
                         f"{baseline.label} at its best error", star=True)  # fmt: skip
        ax.axhline(threshold, color="black", ls=":", lw=1, label=f"claim: {threshold:g}×")
        ax.set(xscale="log", yscale="log", xlabel=f"matched {ERROR}",
               ylabel="speed-up (backprop time / sampled time)")  # fmt: skip
        tidy(ax, problem.title)
    caption = (
        "Speed-up at matched accuracy per system (median bracket over seeds: marker at its lower "
        "end, bar to its upper end): stars at backprop's best error, circles at each sampled "
        "configuration's error; open markers with arrows have no upper end (the cheapest rung "
        "already reaches backprop's error, or backprop never reached the rung's)"
    )
    return save(fig, ctx.figures, "claims-check_speedup", caption)


#: the matched-accuracy section's figures
FIGURES = (error_vs_time, speedup)

"""Assemble the report: the claims check (always first), what ran, matched accuracy, the sweeps,
the paper comparison, the figures per group and the provenance, each from its own module.

``build_report(records, out_dir)`` writes ``report.md``, ``report.html`` (figures inlined),
``tables/*.csv`` + ``tables/*.tex`` (the tables that fit a page, and ``all_tables.tex`` that
inputs them) and ``figures/*.png`` + ``figures/*.pdf``; when paper runs are among the records it
also writes ``paper.md`` / ``paper.html``: the fidelity summary and the paper comparison alone.
A new analysis (``analysis.Analysis``) is one line in ``BODY`` (or ``PAPER``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hnnbench.record import BadRecord
from hnnbench.report import adam_curve, claims_check, compare, run_figures, summary, sweep
from hnnbench.report.analysis import Analysis, Context
from hnnbench.report.document import Figure, Section, write_document, write_tables
from hnnbench.report.energy_study import ENERGY_STUDY
from hnnbench.report.frame import to_frame
from hnnbench.report.measurement import CONTENTION
from hnnbench.report.prior import PRIOR
from hnnbench.report.provenance import PROVENANCE
from hnnbench.report.standard_tasks import STANDARD_TASKS

#: the sections after the summary and matched accuracy, in report order
BODY: tuple[Analysis, ...] = (*sweep.SECTIONS, PRIOR, STANDARD_TASKS, summary.FAILED)
#: the paper report's sections after the comparison with the published tables
PAPER: tuple[Analysis, ...] = (adam_curve.ADAM_CHECK, ENERGY_STUDY)
#: each group's figures (stem suffix, figure), in the order of the Figures section
GROUP_FIGURES: tuple[tuple[str, Callable[[pd.DataFrame, Context, str], Figure | None]], ...] = (
    ("error_vs_time", run_figures.error_vs_time),
    ("adam_curves", run_figures.adam_curves),
    ("rollout_error", run_figures.rollout_error),
    ("energy_drift", run_figures.energy_drift),
    ("phase", run_figures.phase_portraits),
    *((s.name, s.figure) for s in (sweep.WIDTH, sweep.DIMENSION, sweep.RCOND, sweep.NOISE)),
    ("outside", run_figures.inside_vs_outside),
    (sweep.STEP.name, sweep.STEP.figure),
)


@dataclass
class ReportFiles:
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "runs"


def figure_sections(ctx: Context) -> list[Section]:
    """'Figures', then one subsection per group with its figures (those with nothing to plot
    left out)."""
    sections = []
    for group, rows in ctx.frame.groupby("group", sort=False):
        made = [draw(rows, ctx, f"{slug(group)}_{suffix}") for suffix, draw in GROUP_FIGURES]
        if any(made):
            sections.append(Section(f"Figures: {group}", [f for f in made if f], level=3))
    return [Section("Figures")] + sections if sections else []


def build_sections(
    ctx: Context, fidelity_lines: Sequence[str] = ()
) -> tuple[list[Section], list[Section], list[Section]]:
    """(the opening sections: a contention banner when any timed run shared the machine, then
    the claims check; the rest; the paper-comparison sections alone). ``fidelity_lines``:
    further items of the paper's fidelity summary."""
    adam_line = adam_curve.fidelity_line(ctx.records)
    lines = [*fidelity_lines, adam_line] if adam_line else list(fidelity_lines)
    paper = compare.paper_sections(ctx, lines)
    paper += [s for analysis in PAPER for s in analysis.sections(ctx)]
    claims, matched_accuracy = claims_check.sections(ctx)
    opening = [*CONTENTION.sections(ctx), claims]
    rest = [
        *summary.OVERVIEW.sections(ctx),
        *summary.SUMMARY.sections(ctx),
        matched_accuracy,
        *[s for analysis in BODY for s in analysis.sections(ctx)],
        *paper,
        *figure_sections(ctx),
        *PROVENANCE.sections(ctx),
    ]
    return opening, rest, paper


def build_report(
    records: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    results_dir: str = "results",
    title: str = "hnnbench report",
    extra: Sequence[Section] = (),
    bad: Sequence[BadRecord] = (),
    fidelity_lines: Sequence[str] = (),
    machine: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write the whole report for ``records`` into ``out_dir``; raises ValueError when empty.

    ``bad``: unreadable record files (``scan_records``), named in the Overview.
    ``fidelity_lines``: further items of paper.md's fidelity summary (e.g. the Adam curve check).
    ``machine``: the machine check (``hnnbench doctor``) saved before the runs, if any.
    """
    if not records:
        raise ValueError("no run records to report on")
    out = Path(out_dir)
    ctx = Context(to_frame(records), records, out, results_dir, bad, machine)
    opening, rest, paper = build_sections(ctx, fidelity_lines)
    sections = [*opening, *extra, *rest]  # the banner and the claims check stay first
    files = write_tables(sections, out / "tables")
    files += write_document(title, sections, out, "report")
    if paper:
        files += write_document(f"{title}: paper comparison", [*extra, *paper], out, "paper")
    files += sorted((out / "figures").glob("*.p*")) if (out / "figures").exists() else []
    return ReportFiles(out, sorted(set(files)))


__all__ = ["ReportFiles", "build_report"]

"""Assemble the report: claims check (always first), summary, matched accuracy, failed runs,
paper tables, figures, provenance.

``build_report(records, out_dir)`` writes ``report.md``, ``report.html`` (figures inlined),
``tables/*.csv`` + ``tables/*.tex`` (the tables that fit a page, and ``all_tables.tex`` that
inputs them) and ``figures/*.png`` + ``figures/*.pdf``; when paper runs are among the records it
also writes ``paper.md`` / ``paper.html``: the fidelity summary and the paper comparison alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hnnbench.data import TASK_SOURCES
from hnnbench.evaluate import TRAJECTORY_FILE
from hnnbench.metrics import heading
from hnnbench.record import BadRecord
from hnnbench.report import (
    adam_curve,
    compare,
    figures,
    matched,
    measurement,
    standard_tasks,
    tables,
    verdicts,
)
from hnnbench.report.document import (
    Code,
    Note,
    Para,
    Section,
    Table,
    fmt,
    write_document,
    write_tables,
)
from hnnbench.report.experiments import EXPERIMENTS, paper_experiment
from hnnbench.report.frame import to_frame

EXPERIMENT_DIR = Path(__file__).resolve().parents[1] / "conf" / "experiment"
ESTIMATED_CAVEAT = (
    "Energy of {count} run(s) is `estimated`: codecarbon modelled CPU power from load and the "
    "CPU's TDP (no RAPL or GPU counters on this machine), so energy and CO₂ are not measured and "
    "their ratios mostly track the time ratios."
)


@dataclass
class ReportFiles:
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "runs"


# ---------------------------------------------------------------- sections


def overview(frame: pd.DataFrame, results_dir: str, bad: Sequence[BadRecord] = ()) -> Section:
    counts = frame["status"].value_counts().to_dict()
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    groups = ", ".join(f"`{g}`" for g in dict.fromkeys(frame["group"]))
    text = (
        f"{len(frame)} run records under `{results_dir}` ({status}); groups: {groups}. "
        "Cells show the median over seeds and, in brackets, the min–max spread over seeds "
        "(complete runs only). Training time is the fit alone (data generation and evaluation "
        "excluded)."
    )
    blocks: list[Any] = [Para(text)]
    if bad:
        blocks.append(Note(unreadable_note(bad)))
    return Section("Overview", blocks)


def unreadable_note(bad: Sequence[BadRecord]) -> str:
    """Names every record left out because it could not be read, so none is lost silently."""
    listed = "; ".join(f"`{item.path}` ({item.reason})" for item in bad)
    return (
        f"{len(bad)} record file(s) could not be read and are in no table or figure: {listed}. "
        "A re-run of the same sweep redoes those runs (an unreadable record counts as missing)."
    )


def summary_section(frame: pd.DataFrame) -> Section:
    data = tables.summary_data(frame)
    blocks: list[Any] = [
        Para(
            "Per system × method (× width / points / parameters where they vary). Fixed-budget "
            "ratios: Adam's median time (energy) over the method's, each at its own budget, at "
            "the same system, parameters, domain, width and training points ('—' when there is "
            "no such Adam run). They are not at equal accuracy: see Matched accuracy."
        ),
        Table(
            "summary", "Summary (median [min–max] over seeds)", tables.summary_display(data), data
        ),  # fmt: skip
    ]
    return Section("Summary", blocks)


def claims_sections(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], out_dir: Path
) -> tuple[Section, Section]:
    """(the claims check, the matched-accuracy section with its two figures); the standard HNN
    tasks' runs have their own claims check (``standard_tasks``)."""
    problems = matched.problems_of(frame[~frame["data_source"].isin(TASK_SOURCES)], records)
    folder = out_dir / "figures"
    # a hyphen: slug() never makes one, so no group's figures can overwrite these
    made = [
        figures.claims_error_vs_time(problems, folder, "claims-check_error_vs_time"),
        figures.claims_speedup(
            problems, verdicts.THRESHOLDS.speedup, folder, "claims-check_speedup"
        ),
    ]
    found = [f for f in made if f is not None]
    return verdicts.claims_section(problems), verdicts.matched_section(problems, found)


def dimension_section(frame: pd.DataFrame) -> Section | None:
    """Growth exponents and medians vs n, when some group runs a system at several n."""
    medians = tables.dimension_medians(frame)
    if medians.empty:
        return None
    data = tables.dimension_data(frame)
    text = (
        "Where one system runs at several degrees of freedom n (phase space 2n): the growth "
        "exponent of each median over seeds against n, the least-squares slope of log(median) "
        "vs log(n) (value ∝ n^exponent), and the medians per n. Figure: `Figures` → dimension. "
        "An exponent only summarises a power law: where a curve is none (an error that "
        "saturates near 1, a time at a fixed budget) read the medians."
    )
    return Section(
        "Dimension sweep",
        [
            Para(text),
            Table(
                "dimension_exponents", "Growth exponents vs n", tables.dimension_display(data), data
            ),  # fmt: skip
            Table(
                "dimension_medians",
                "Medians per n",
                tables.dimension_medians_display(medians),
                medians,
            ),  # fmt: skip
        ],
    )


def rcond_section(frame: pd.DataFrame) -> Section | None:
    """Error vs the sampled solver's rcond and where rcond=auto lands, when some group runs a
    sampler on a system at several fixed rcond."""
    medians = tables.rcond_medians(frame)
    if medians.empty:
        return None
    data = tables.rcond_data(frame)
    flagged = int((data["flag"] != "").sum()) if len(data) else 0
    text = (
        "Where one sampler runs on a system at several fixed rcond (qr_ridge: λ = rcond·σ_max): "
        f"the median {heading(tables.SWEEP_METRIC)} over seeds per rcond, the best fixed rcond, "
        "the paper's 1e-13, and rcond=auto (GCV on the reduced system) with the rcond it chose "
        f"(median [min–max] over seeds). auto / best above {tables.AUTO_TOLERANCE:g}× is "
        f"flagged: {flagged} of {len(data)}. Figure: `Figures` → rcond."
    )
    return Section(
        "Regularisation (rcond) sweep",
        [
            Para(text),
            Table(
                "rcond_auto", "Best fixed rcond and rcond=auto", tables.rcond_display(data), data
            ),  # fmt: skip
            Table(
                "rcond_errors",
                "Median error per rcond",
                tables.rcond_grid_display(medians),
                medians,
            ),  # fmt: skip
        ],
    )


def noise_section(frame: pd.DataFrame) -> Section | None:
    """Error vs noise on the training targets, when some group runs a system at several levels."""
    medians = tables.noise_medians(frame)
    if medians.empty:
        return None
    text = (
        "Where one system runs at several noise levels on the training targets (`noise_std`; "
        "'rel.': × the RMS of the exact ẋ): the median "
        f"{heading(tables.SWEEP_METRIC)} over seeds per level and method (`-auto`: rcond=auto). "
        "Figure: `Figures` → noise."
    )
    table = Table("noise_errors", "Median error per noise level", tables.noise_display(medians),
                  medians)  # fmt: skip
    return Section("Noise sweep", [Para(text), table])


def prior_section(frame: pd.DataFrame, out_dir: Path) -> Section | None:
    """{sampled, backprop} × {Hamiltonian, not}, where a problem has HNN and MLP runs."""
    data = tables.prior_data(frame)
    if data.empty:
        return None
    text = (
        "Where a system has runs of Hamiltonian models (HNN: Ĥ, ẋ̂ = J∇Ĥ) and of models without "
        "one (MLP: ẋ̂ predicted directly — `smlp`, `adam_mlp`), each trained by sampling and by "
        "backprop: what the Hamiltonian prior buys (rows HNN vs MLP) next to what sampling buys "
        "(rows sampled vs backprop). Median [min–max] over seeds; the energy drift uses the TRUE H "
        "along the learned rollouts (`evaluation.integrator`), so it applies to both kinds of "
        "model; test rel-L2(H) does not (MLP: none) and is left out here."
    )
    blocks: list[Any] = [
        Para(text),
        Table("prior_2x2", "Hamiltonian prior × training (median [min–max] over seeds)",
              tables.prior_display(data), data),
    ]  # fmt: skip
    figure = figures.prior_figure(data, out_dir / "figures", "prior-2x2")
    if figure is not None:
        blocks.append(figure)
    return Section("Is the Hamiltonian prior worth it? (HNN vs MLP)", blocks)


def trajectory_curve(record: Mapping[str, Any], results_dir: str) -> dict[str, np.ndarray] | None:
    """The run's ``trajectory.npz`` (beside its record): under the report's results folder as
    ``<name>/<run_id>`` or ``<run_id>``, else where the run's config put it; None when absent."""
    run_id, name = record.get("run_id"), record.get("name")
    configured = (record.get("config") or {}).get("results_dir")
    places = [Path(results_dir) / str(name) / str(run_id), Path(results_dir) / str(run_id)]
    if configured:
        places.append(Path(configured) / str(name) / str(run_id))
    for place in places:
        path = place / TRAJECTORY_FILE
        if path.is_file():
            with np.load(path, allow_pickle=False) as arrays:
                return {key: arrays[key] for key in arrays.files}
    return None


def inside_box(states: np.ndarray, domain: Sequence[Sequence[float]]) -> bool:
    """Whether every state of a trajectory (K, 2n) lies in the box."""
    box = np.asarray(domain, dtype=float)
    return bool(np.all((states >= box[:, 0]) & (states <= box[:, 1])))


def energy_study_section(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], out_dir: Path, results_dir: str
) -> Section | None:
    """The energy-trajectory study (``evaluation.trajectory``; the paper's energy-conservation
    figure): H min / max / final per run beside what the paper's plot shows, and the figure."""
    data = tables.energy_study_data(frame, records)
    if data.empty:
        return None
    curves = {
        int(idx): curve
        for idx in data["idx"]
        if (curve := trajectory_curve(records[idx], results_dir)) is not None
    }
    seconds = data["rollout_seconds"].dropna()
    steps = data["steps"].dropna()
    text = (
        "One long rollout of each learned vector field from a fixed state "
        "(`evaluation.trajectory`), and the TRUE H along it: a model that conserves energy keeps "
        "H near H(0). min / max / H(T) are over every step; the thinned curve is in each run's "
        f"`{TRAJECTORY_FILE}`. The `paper` column is what the paper's energy-conservation figure "
        "shows for the same set-up (pendulum, ELM width 500, symplectic Euler, h = 5e-4, T = 100, "
        "from (π/2, 0)), read off its plot, not published numbers. "
        f"Rollout time (learned field, {fmt(int(steps.max()) if len(steps) else None)} steps, one "
        f"thread): {fmt(seconds.min())}–{fmt(seconds.max())} s."
    )
    blocks: list[Any] = [
        Para(text),
        Table("energy_study", "Energy along the learned trajectory vs the paper's plot",
              tables.energy_study_display(data), data.drop(columns=["idx", "initial_state"])),
    ]  # fmt: skip
    outside = [
        f"{records[idx].get('method')}"
        for idx, curve in curves.items()
        if records[idx].get("domain") and not inside_box(curve["x"], records[idx]["domain"])
    ]
    if outside:
        blocks.append(Note(
            f"The trajectory of {', '.join(outside)} leaves the training box (the domain the "
            "model was fitted on): there the learned field extrapolates, and a field without a "
            "Hamiltonian need not conserve H."
        ))  # fmt: skip
    figure = figures.energy_study(data, records, curves, out_dir / "figures", "energy-study")
    if figure is not None:
        blocks.append(figure)
    if len(curves) < len(data):
        blocks.append(Note(f"{len(data) - len(curves)} run(s) have no `{TRAJECTORY_FILE}` "
                           "beside their record: not in the figure."))  # fmt: skip
    return Section("Energy along a long trajectory (energy-conservation study)", blocks)


def failed_section(frame: pd.DataFrame) -> Section:
    data = tables.failed_data(frame)
    if data.empty:
        return Section("Failed and diverged runs", [Para("None: every run completed.")])
    text = (
        f"{len(data)} run(s) did not complete ({', '.join(sorted(set(data['status'])))}); they "
        "are counted in the summary's `runs` column and left out of its medians."
    )
    table = Table("failed_runs", "Failed and diverged runs", tables.failed_display(data), data)
    return Section("Failed and diverged runs", [Para(text), table])


def figure_sections(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], out_dir: Path
) -> list[Section]:
    sections = []
    for group, rows in frame.groupby("group", sort=False):
        made = figures.group_figures(rows, records, out_dir / "figures", slug(group))
        if made:
            sections.append(Section(f"Figures: {group}", list(made), level=3))
    return [Section("Figures")] + sections if sections else []


def environment_table(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for _, row in frame.iterrows():
        record = records[row["idx"]]
        env = record.get("environment") or {}
        rows.append(
            {
                "cpu": env.get("cpu_model"),
                "cores": env.get("cpu_count"),
                "gpu": env.get("gpu_name") or "none",
                "device": record.get("device"),
                "threads": fmt(record.get("threads")),
                "python": env.get("python"),
                "torch": env.get("torch"),
                "numpy": env.get("numpy"),
                "scipy": env.get("scipy"),
                "commit": env.get("hnnbench_commit"),
            }
        )
    data = pd.DataFrame(rows).astype(str)
    return data.groupby(list(data.columns), sort=False).size().reset_index(name="runs")


def commands(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], report_dir: str):
    lines = []
    for name, rows in frame.groupby("name", sort=False):
        config = records[rows["idx"].iloc[0]].get("config") or {}
        results = config.get("results_dir", "results")
        if (EXPERIMENT_DIR / f"{name}.yaml").exists():
            lines.append(f"hnnbench -m experiment={name} results_dir={results}")
        else:
            lines.append(f"# {name}: ad-hoc runs; overrides are in each record's `config`")
    lines.append(f"hnnbench-report {report_dir}")
    lite = {paper_experiment(n).lite for n in frame["name"] if paper_experiment(n)}
    lines += [f"python -m hnnbench.paper{' --lite' if x else ''} --report-only" for x in lite]
    return lines


def provenance_section(
    frame: pd.DataFrame,
    records: Sequence[Mapping[str, Any]],
    results_dir: str,
    machine: Mapping[str, Any] | None = None,
) -> Section:
    started = [r.get("started_at") for r in records if r.get("started_at")]
    finished = [r.get("finished_at") for r in records if r.get("finished_at")]
    methods = frame["energy_method"].fillna("none").value_counts().to_dict()
    blocks: list[Any] = [
        Para(
            f"Runs from {min(started, default='?')} to {max(finished, default='?')} (UTC). "
            f"Energy method: {', '.join(f'{k} ({v} runs)' for k, v in methods.items())}."
        )
    ]
    estimated = int((frame["energy_method"] == "estimated").sum())
    if estimated:
        blocks.append(Note(ESTIMATED_CAVEAT.format(count=estimated)))
    env = environment_table(frame, records)
    blocks.append(Table("environment", "Hardware and versions", env))
    blocks += measurement.machine_blocks(machine)
    blocks.append(Para("Commands that regenerate these records and this report:"))
    blocks.append(Code(commands(frame, records, results_dir)))
    return Section("Provenance", blocks)


# ---------------------------------------------------------------- build


def build_sections(
    frame: pd.DataFrame,
    records: Sequence[Mapping[str, Any]],
    out_dir: Path,
    results_dir: str,
    bad: Sequence[BadRecord] = (),
    fidelity_lines: Sequence[str] = (),
    machine: Mapping[str, Any] | None = None,
) -> tuple[list[Section], list[Section], list[Section]]:
    """(the opening sections: a contention banner when any timed run shared the machine, then
    the claims check; the rest; the paper-comparison sections alone). ``fidelity_lines``:
    further items of the paper's fidelity summary; ``machine``: the saved machine check."""
    cuts = {name: e.cuts for name, e in EXPERIMENTS.items()}
    adam_line = adam_curve.fidelity_line(records)
    lines = [*fidelity_lines, adam_line] if adam_line else list(fidelity_lines)
    paper = compare.paper_sections(frame, records, cuts, results_dir, lines)
    adam_check = adam_curve.section(records, out_dir / "figures")
    paper += [adam_check] if adam_check is not None else []
    energy = energy_study_section(frame, records, out_dir, results_dir)
    if energy is not None:  # the paper's energy figure has no table in paper_tables.csv
        paper = [*paper, energy]
    claims, matched_accuracy = claims_sections(frame, records, out_dir)
    optional = (
        dimension_section(frame),
        rcond_section(frame),
        noise_section(frame),
        prior_section(frame, out_dir),
        standard_tasks.section(records),
    )
    banner = measurement.contention_section(frame, list(records))
    opening = [banner, claims] if banner is not None else [claims]
    sections = [
        overview(frame, results_dir, bad),
        summary_section(frame),
        matched_accuracy,
        *[s for s in optional if s is not None],
        failed_section(frame),
        *paper,
        *figure_sections(frame, records, out_dir),
        provenance_section(frame, records, results_dir, machine),
    ]
    return opening, sections, paper


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
    frame = to_frame(records)
    opening, rest, paper = build_sections(
        frame, records, out, results_dir, bad, fidelity_lines, machine
    )
    sections = [*opening, *extra, *rest]  # the banner and the claims check stay first
    files = write_tables(sections, out / "tables")
    files += write_document(title, sections, out, "report")
    if paper:
        files += write_document(f"{title}: paper comparison", [*extra, *paper], out, "paper")
    files += sorted((out / "figures").glob("*.p*")) if (out / "figures").exists() else []
    return ReportFiles(out, sorted(set(files)))


__all__ = ["ReportFiles", "build_report", "fmt"]

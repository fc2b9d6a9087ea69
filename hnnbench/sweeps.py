"""Run several Hydra experiments one after another, one log each, for the pipelines that then
report on them (``hnnbench.paper``, ``hnnbench.claims``).

Each experiment is ``hnnbench -m experiment=<name> results_dir=<dir> [overrides]`` in a
subprocess with Hydra's serial launcher (unless the overrides pick another launcher), its output
in ``<log_dir>/<name>.log``. A failing experiment is recorded and the next one still runs; the
exit codes and wall times go to a JSON run log that later runs update. While an experiment runs,
one status line on stderr says where it is, read from its progress journal
(``hnnbench.progress``): ``[paper] experiment 2/7 paper_low_dim_lite: [run 5/24] trainer=aswim
seed=1 | elapsed 1m05s | ~3m40s left``, rewritten in place on a terminal and printed as a new
line at each change elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from hnnbench.progress import JOURNAL_ENV, StatusLine, SweepState, duration, read_journal
from hnnbench.report.document import Para, Section, Table, fmt


@dataclass
class RunResult:
    experiment: str
    returncode: int | None  # None: not run this time (--report-only)
    seconds: float
    log: str


def hnnbench_command() -> list[str]:
    """The venv's ``hnnbench`` next to this interpreter, else ``python -m hnnbench``."""
    script = Path(sys.executable).parent / "hnnbench"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hnnbench"]


def command_for(name: str, results_dir: Path, overrides: Sequence[str]) -> list[str]:
    launcher = (
        [] if any(o.startswith("hydra/launcher=") for o in overrides) else ["hydra/launcher=basic"]
    )
    return [
        *hnnbench_command(),
        "-m",
        f"experiment={name}",
        f"results_dir={results_dir}",
        *launcher,
        *overrides,
    ]


#: seconds between looks at a running experiment's progress journal
POLL_SECONDS = 1.0


def journal_of(log_dir: Path, name: str) -> Path:
    """Where experiment ``name``'s progress journal goes (``hnnbench.progress``)."""
    return log_dir / f"{name}.progress.jsonl"


def run_experiment(
    name: str,
    results_dir: Path,
    overrides: Sequence[str],
    log_dir: Path,
    status: Callable[[SweepState | None], None] | None = None,
) -> RunResult:
    """Run one experiment, its output to ``log_dir/<name>.log``; never raises on failure.
    While it runs, ``status`` is called every ``POLL_SECONDS`` with its journal's state."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    journal = journal_of(log_dir, name)
    journal.unlink(missing_ok=True)  # a journal of an earlier try must not count
    command = command_for(name, results_dir, overrides)
    env = {**os.environ, JOURNAL_ENV: str(journal)}
    start = time.perf_counter()
    with log.open("w") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        while True:
            try:
                code = process.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if status is not None:
                    status(read_journal(journal))
    return RunResult(name, code, time.perf_counter() - start, str(log))


def load_run_log(path: Path) -> list[RunResult]:
    try:
        return [RunResult(**r) for r in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []


def run_all(
    plan: Sequence[tuple[str, Sequence[str]]],
    results_dir: Path,
    log_dir: Path,
    run_log: Path,
    tag: str,
) -> list[RunResult]:
    """Run each (experiment, overrides) of ``plan`` in turn; update and return the run log
    (earlier entries of experiments not run this time are kept)."""
    ran = {name for name, _ in plan}
    results = [r for r in load_run_log(run_log) if r.experiment not in ran]
    line = StatusLine()
    for number, (name, overrides) in enumerate(plan, 1):
        head = f"[{tag}] experiment {number}/{len(plan)} {name}"
        line.show(f"{head}: started, log {log_dir / name}.log", key="started")

        def show(state: SweepState | None, head: str = head) -> None:
            if state is not None:  # None: Hydra has not started the sweep yet
                now = time.time()
                line.show(f"{head}: {state.line(now)}", key=(state.done, state.current()))

        result = run_experiment(name, results_dir, overrides, log_dir, show)
        results.append(result)
        state = read_journal(journal_of(log_dir, name))
        runs = f"; {state.summary(time.time())}" if state is not None else ""
        line.end(f"{head}: exit {result.returncode} after {duration(result.seconds)}{runs}")
    run_log.parent.mkdir(parents=True, exist_ok=True)
    run_log.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return results


def runs_section(results: Sequence[RunResult], command: str, stem: str, title: str) -> Section:
    """Which experiments ran, how long, and whether they exited cleanly."""
    rows = pd.DataFrame([asdict(r) for r in results])
    display = pd.DataFrame(
        {
            "experiment": rows["experiment"],
            "exit code": rows["returncode"].map(lambda c: "not run" if c is None else str(c)),
            "wall time [s]": rows["seconds"].map(fmt),
            "log": rows["log"],
        }
    )
    failed = [r.experiment for r in results if r.returncode not in (0, None)]
    total = sum(r.seconds for r in results)
    text = f"`{command}`: {len(results)} experiments, {fmt(total)} s of wall time in all. " + (
        f"Exited non-zero (some runs failed; see the failed-runs table): {', '.join(failed)}."
        if failed
        else "Every experiment exited cleanly."
    )
    return Section(title, [Para(text), Table(stem, "Experiments run", display, rows)])


def parser(prog: str, description: str | None, only_help: str) -> argparse.ArgumentParser:
    """The options every pipeline takes (the caller adds its own and the overrides)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lite", action="store_true", help="the 2-core workstation variant")
    parser.add_argument("--results-dir", default="results", type=Path)
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help=f"{only_help} (after any overrides)"
    )
    parser.add_argument("--report-only", action="store_true", help="skip running, only report")
    parser.add_argument("--dry-run", action="store_true", help="print the commands and stop")
    parser.add_argument(
        "--refuse-busy",
        action="store_true",
        help="refuse to start when `hnnbench doctor` finds the machine busy (default: warn)",
    )
    return parser


@dataclass(frozen=True)
class Pipeline:
    """Experiments to run into ``results_dir`` and report on into ``out/report``."""

    tag: str  # log prefix, e.g. 'paper'
    command: str  # how the user runs it, for the report
    title: str  # the report's title
    runs_title: str  # the title of the section listing the experiments run
    results_dir: Path  # hnnbench's results_dir=
    out: Path  # run log, logs and report go here
    record_dirs: tuple[Path, ...]  # where the records to report on are


def run_then_report(
    pipeline: Pipeline,
    plan: Sequence[tuple[str, Sequence[str]]],
    dry_run: bool = False,
    report_only: bool = False,
    refuse_busy: bool = False,
) -> int:
    """Run ``plan`` (unless ``report_only``), then report. 0 when every experiment exited
    cleanly; 1 when one failed or there is nothing to report; doctor.BUSY_EXIT when the machine
    check found it busy and ``refuse_busy``. The machine check runs first and is saved beside
    the run log, for the report's provenance."""
    from hnnbench import doctor
    from hnnbench.record import scan_records, warn_bad
    from hnnbench.report import build_report

    if dry_run:
        for name, overrides in plan:
            print(" ".join(command_for(name, pipeline.results_dir, overrides)))
        return 0
    run_log, tag = pipeline.out / "runs.json", pipeline.tag
    if report_only:
        results = load_run_log(run_log)
    else:
        status = doctor.check_before(pipeline.out, refuse_busy, tag)
        if status:
            return status
        results = run_all(plan, pipeline.results_dir, pipeline.out / "logs", run_log, tag)
    scans = [scan_records(folder) for folder in pipeline.record_dirs]
    records = [r for scan in scans for r in scan.records]
    bad = [b for scan in scans for b in scan.bad]
    warn_bad(bad)
    if not records:
        print(f"error: no run records for {[name for name, _ in plan]}", file=sys.stderr)
        return 1
    names = {name for name, _ in plan}
    shown = [r for r in results if r.experiment in names]
    stem = pipeline.out.name.replace("-", "_") + "_runs"
    extra = [runs_section(shown, pipeline.command, stem, pipeline.runs_title)] if shown else []
    out = pipeline.out / "report"
    machine = doctor.load(pipeline.out / doctor.DOCTOR_FILE)
    report = build_report(
        records, out, str(pipeline.results_dir), pipeline.title, extra, bad, machine=machine
    )
    print(f"[{tag}] {len(records)} records → {out / 'report.md'}")
    print(f"[{tag}] {len(report.files)} files written under {out}")
    return 1 if any(r.returncode not in (0, None) for r in results) else 0

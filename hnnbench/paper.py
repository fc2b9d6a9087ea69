"""Regenerate the paper's tables: ``python -m hnnbench.paper [--lite]`` (``make paper[-lite]``).

Runs each paper experiment in turn (``hnnbench -m experiment=<name>`` with Hydra's serial
launcher; a failing experiment is reported and the next one still runs), then writes the report
of those runs, with the paper comparison, to ``RESULTS_DIR/paper[-lite]/report/`` (``paper.md``,
``report.md``/``.html``, CSV/LaTeX tables, figures).

``--lite`` fits a 2-core workstation (about 20 min, cuts listed in the report); the full protocol
(width 5000, 180 000 Adam steps: ~17 h per Adam run on 2 cores) is meant for a cluster, e.g.
``make paper ARGS="hydra/launcher=submitit_slurm"`` (extra arguments are Hydra overrides passed
to every experiment; configure the launcher's partition/time with ``hydra.launcher.*=...``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hnnbench.record import scan_records, warn_bad
from hnnbench.report import build_report
from hnnbench.report.document import Para, Section, Table, fmt
from hnnbench.report.experiments import PaperExperiment, select


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


def command_for(experiment: PaperExperiment, results_dir: Path, overrides: list[str]) -> list[str]:
    launcher = (
        [] if any(o.startswith("hydra/launcher=") for o in overrides) else ["hydra/launcher=basic"]
    )
    return [
        *hnnbench_command(),
        "-m",
        f"experiment={experiment.name}",
        f"results_dir={results_dir}",
        *launcher,
        *overrides,
    ]


def run_experiment(
    experiment: PaperExperiment, results_dir: Path, overrides: list[str], log_dir: Path
) -> RunResult:
    """Run one experiment, its output to ``log_dir/<name>.log``; never raises on failure."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{experiment.name}.log"
    command = command_for(experiment, results_dir, overrides)
    start = time.perf_counter()
    with log.open("w") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT).returncode
    return RunResult(experiment.name, code, time.perf_counter() - start, str(log))


def runs_section(results: list[RunResult], lite: bool) -> Section:
    """Which experiments ran, how long, and whether they exited cleanly."""
    import pandas as pd

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
    text = (
        f"`python -m hnnbench.paper{' --lite' if lite else ''}`: {len(results)} experiments, "
        f"{fmt(total)} s of wall time in all. "
        + (
            f"Exited non-zero (some runs failed; see the failed-runs table): {', '.join(failed)}."
            if failed
            else "Every experiment exited cleanly."
        )
    )
    table = Table(f"paper_runs{'_lite' if lite else ''}", "Experiments run", display, rows)
    return Section("Paper experiments", [Para(text), table])


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hnnbench.paper", description=__doc__)
    parser.add_argument("--lite", action="store_true", help="the 2-core workstation variant")
    parser.add_argument("--results-dir", default="results", type=Path)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="experiment names or tables")
    parser.add_argument("--report-only", action="store_true", help="skip running, only report")
    parser.add_argument("--dry-run", action="store_true", help="print the commands and stop")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every experiment")
    return parser.parse_args(argv)


def load_run_log(path: Path) -> list[RunResult]:
    try:
        return [RunResult(**r) for r in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []


def main(argv: list[str] | None = None) -> int:
    """Run (unless --report-only) and report; 1 when an experiment failed or nothing to report."""
    args = parse(argv)
    try:
        chosen = select(args.lite, args.only)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = args.results_dir / ("paper-lite" if args.lite else "paper")
    if args.dry_run:
        for experiment in chosen:
            print(" ".join(command_for(experiment, args.results_dir, args.overrides)))
        return 0
    run_log = out / "runs.json"
    results = load_run_log(run_log)  # earlier runs; this run's results replace their entries
    if not args.report_only:
        ran = {e.name for e in chosen}
        results = [r for r in results if r.experiment not in ran]
        for experiment in chosen:
            print(f"[paper] {experiment.name} …", flush=True)
            result = run_experiment(experiment, args.results_dir, args.overrides, out / "logs")
            results.append(result)
            print(f"[paper] {experiment.name}: exit {result.returncode}, {result.seconds:.0f} s")
        out.mkdir(parents=True, exist_ok=True)
        run_log.write_text(json.dumps([asdict(r) for r in results], indent=1))
    scans = [scan_records(args.results_dir / e.name) for e in chosen]
    records = [r for scan in scans for r in scan.records]
    bad = [b for scan in scans for b in scan.bad]
    warn_bad(bad)
    if not records:
        print(f"error: no run records for {[e.name for e in chosen]}", file=sys.stderr)
        return 1
    shown = [r for r in results if r.experiment in {e.name for e in chosen}]
    extra = [runs_section(shown, args.lite)] if shown else []
    title = f"hnnbench: the paper's tables{' (lite)' if args.lite else ''}"
    report = build_report(records, out / "report", str(args.results_dir), title, extra, bad)
    print(f"[paper] {len(records)} records → {out / 'report' / 'paper.md'}")
    print(f"[paper] {len(report.files)} files written under {out / 'report'}")
    return 1 if any(r.returncode not in (0, None) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

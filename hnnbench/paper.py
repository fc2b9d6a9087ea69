"""Regenerate the paper's tables: ``python -m hnnbench.paper [--lite]`` (``make paper[-lite]``).

Runs each paper experiment in turn (``hnnbench -m experiment=<name>`` with Hydra's serial
launcher; a failing experiment is reported and the next one still runs), then writes the report
of those runs, with the paper comparison, to ``RESULTS_DIR/paper[-lite]/report/`` (``paper.md``,
``report.md``/``.html``, CSV/LaTeX tables, figures).

``--lite`` fits a 2-core workstation (22 min 45 s measured; the sampled cells at their published
sizes, the cuts listed in the report); the full protocol (10 seeds, every published cell,
180 000 Adam steps: ≈ 6.6 h per Adam run on 2 cores) is meant for a cluster, e.g.
``make paper ARGS="hydra/launcher=submitit_slurm"`` (extra arguments are Hydra overrides passed
to every experiment; configure the launcher's partition/time with ``hydra.launcher.*=...``).
"""

from __future__ import annotations

import argparse
import sys

from hnnbench import sweeps
from hnnbench.report.experiments import select


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = sweeps.parser("python -m hnnbench.paper", __doc__, "experiment names or tables")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every experiment")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run (unless --report-only) and report; 1 when an experiment failed or nothing to report."""
    args = parse(argv)
    try:
        chosen = select(args.lite, args.only)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    lite = " --lite" if args.lite else ""
    pipeline = sweeps.Pipeline(
        tag="paper",
        command=f"python -m hnnbench.paper{lite}",
        title=f"hnnbench: the paper's tables{' (lite)' if args.lite else ''}",
        runs_title="Paper experiments",
        results_dir=args.results_dir,
        out=args.results_dir / ("paper-lite" if args.lite else "paper"),
        record_dirs=tuple(args.results_dir / e.name for e in chosen),
    )
    plan = [(e.name, args.overrides) for e in chosen]
    return sweeps.run_then_report(pipeline, plan, args.dry_run, args.report_only, args.refuse_busy)


if __name__ == "__main__":
    sys.exit(main())

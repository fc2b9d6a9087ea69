"""``hnnbench-report [RESULTS_DIR] [--out DIR]``: the report of every run record under a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hnnbench import doctor
from hnnbench.record import scan_records, warn_bad
from hnnbench.report.build import build_report


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hnnbench-report",
        description="Turn every run record under RESULTS_DIR into report.md, report.html, "
        "CSV/LaTeX tables and PNG/PDF figures.",
    )
    parser.add_argument("results_dir", nargs="?", default="results")
    parser.add_argument("--out", help="output folder (default RESULTS_DIR/report)")
    parser.add_argument("--title", default="hnnbench report")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 2 when the folder is missing or holds no readable records.

    Unreadable records (truncated, not JSON) are named on stderr and in the report's Overview.
    """
    args = parse(argv)
    folder = Path(args.results_dir)
    if not folder.is_dir():
        print(f"error: results folder {str(folder)!r} does not exist", file=sys.stderr)
        return 2
    records, bad = scan_records(folder)
    warn_bad(bad)
    if not records:
        why = (
            f"no readable run records under {str(folder)!r}: all {len(bad)} record.json file(s) "
            "are unreadable (listed above); re-run their sweep to replace them"
            if bad
            else f"no run records (record.json) under {str(folder)!r}; run e.g. "
            "`hnnbench -m experiment=smoke` first"
        )
        print(f"error: {why}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else folder / "report"
    machine = doctor.load(folder / doctor.DOCTOR_FILE)  # saved by `make bench` before its runs
    report = build_report(
        records, out, results_dir=str(folder), title=args.title, bad=bad, machine=machine
    )
    skipped = f" ({len(bad)} unreadable, skipped)" if bad else ""
    print(f"{len(records)} records{skipped} → {out / 'report.md'}, {out / 'report.html'}")
    print(f"{len(report.files)} files written under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

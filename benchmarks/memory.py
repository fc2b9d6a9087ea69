"""Peak memory and wall time of whole ``hnnbench`` runs against ``hnnbench.resources``' estimates.

    python benchmarks/memory.py       # every case: table on stdout, CSV in results/memory/
    python benchmarks/memory.py --only gelsd_m1000 qr_m2000

Each case is one ``hnnbench`` run in a fresh process that prints its peak RSS (VmHWM) when it
exits; the estimate comes from the same configuration, composed here. The table is what the
estimator's coefficients were fitted to (docs/cluster.md). Wall times on a shared machine are
contended: they say whether the time estimate errs long, not how fast a run is.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_module

from hnnbench.resources import (
    MiB,
    estimate_seconds,
    memory_terms,
    peak_of,
    shape_of,
)
from hnnbench.run_spec import seeds_of
from hnnbench.runner import build

#: a run of its own in a child process; the peak goes to stderr as 'PEAK_RSS_MB <value>'
CHILD = """
import atexit, sys
from hnnbench.resources import peak_rss_mb
atexit.register(lambda: print("PEAK_RSS_MB", peak_rss_mb(), file=sys.stderr, flush=True))
sys.argv = ["hnnbench", *sys.argv[1:]]
from hnnbench.cli import main
main()
"""

QUICK_EVAL = ["evaluation.rollouts=2", "evaluation.horizon=1", "test_points=200"]

#: name → overrides: the base, the data, each trainer's peak at two sizes, the evaluation
CASES: dict[str, list[str]] = {
    "base": ["trainer=elm", "hidden_width=16", "train_points=200", *QUICK_EVAL],
    "data_2e6_pendulum": ["trainer=elm", "hidden_width=16", "train_points=2000000", *QUICK_EVAL],
    "data_4e5_fput8": [
        "system=fput", "trainer=elm", "hidden_width=16", "train_points=400000", *QUICK_EVAL,
    ],
    "qr_m1000": ["trainer=uswim", "hidden_width=1000", "train_points=20000", *QUICK_EVAL],
    "qr_m2000": ["trainer=uswim", "hidden_width=2000", "train_points=20000", *QUICK_EVAL],
    "aswim_m2000_n1e5": ["trainer=aswim", "hidden_width=2000", "train_points=100000", *QUICK_EVAL],
    "gelsd_m500": [
        "trainer=elm", "trainer.solver=gelsd", "hidden_width=500", "train_points=20000",
        *QUICK_EVAL,
    ],
    "gelsd_m1000": [
        "trainer=elm", "trainer.solver=gelsd", "hidden_width=1000", "train_points=20000",
        *QUICK_EVAL,
    ],
    "gelsd_m1000_n40000": [
        "trainer=elm", "trainer.solver=gelsd", "hidden_width=1000", "train_points=40000",
        *QUICK_EVAL,
    ],
    "smlp_gelsd_m1000": [
        "trainer=smlp", "trainer.solver=gelsd", "hidden_width=1000", "train_points=40000",
        *QUICK_EVAL,
    ],
    "adam_b2048_m1000": [
        "trainer=adam", "hidden_width=1000", "train_points=10000", "adam_steps=5", *QUICK_EVAL,
    ],
    "adam_full_m1000": [
        "trainer=adam", "trainer.batch_size=full", "hidden_width=1000", "train_points=10000",
        "adam_steps=5", *QUICK_EVAL,
    ],
    "adam_full_m1000_n20000": [
        "trainer=adam", "trainer.batch_size=full", "hidden_width=1000", "train_points=20000",
        "adam_steps=5", *QUICK_EVAL,
    ],
    "lbfgs_m1000": [
        "trainer=lbfgs", "hidden_width=1000", "train_points=10000", "adam_steps=5", *QUICK_EVAL,
    ],
    "eval_m2000": ["trainer=elm", "hidden_width=2000", "train_points=5000"],
    "eval_t20000_m2000": [
        "trainer=elm", "hidden_width=2000", "train_points=5000", "test_points=20000",
    ],
}  # fmt: skip

#: cases the coefficients were NOT fitted to: other systems, dimensions, sizes, dtypes, modes
CHECKS: dict[str, list[str]] = {
    "check_aswim_fput2_m1500": [
        "system=fput", "system.dof=2", "trainer=aswim", "hidden_width=1500",
        "train_points=50000", *QUICK_EVAL,
    ],
    "check_gelsd_henon_m800": [
        "system=henon_heiles", "trainer=elm", "trainer.solver=gelsd", "hidden_width=800",
        "train_points=15000", *QUICK_EVAL,
    ],
    "check_adam_analytic_b4096_m2000": [
        "trainer=adam", "trainer.grad_mode=analytic", "trainer.batch_size=4096",
        "hidden_width=2000", "train_points=20000", "adam_steps=5", *QUICK_EVAL,
    ],
    "check_qr_float32_m2000": [
        "hardware.dtype=float32", "trainer=uswim", "hidden_width=2000", "train_points=40000",
        *QUICK_EVAL,
    ],
    "check_smlp_qr_m3000": ["trainer=smlp", "hidden_width=3000", "train_points=20000", *QUICK_EVAL],
    "check_eval_t10000_m1000": ["trainer=elm", "hidden_width=1000", "test_points=10000"],
    "check_adam_autograd_b4096_m2000": [
        "trainer=adam", "trainer.batch_size=4096", "hidden_width=2000", "train_points=20000",
        "adam_steps=5", *QUICK_EVAL,
    ],
    "check_adam_analytic_full_m1500_n8000": [
        "trainer=adam", "trainer.grad_mode=analytic", "trainer.batch_size=full",
        "hidden_width=1500", "train_points=8000", "adam_steps=5", *QUICK_EVAL,
    ],
    "check_elm_float32_m3000_n60000": [
        "hardware.dtype=float32", "trainer=elm", "hidden_width=3000", "train_points=60000",
        *QUICK_EVAL,
    ],
}  # fmt: skip
CASES.update(CHECKS)


def estimate(overrides: list[str]) -> tuple[float, float, dict[str, float]]:
    """(estimated peak MiB, estimated seconds, the terms in MiB) of a run."""
    with initialize_config_module("hnnbench.conf", version_base="1.3"):
        cfg = compose("config", overrides)
    system, trainer = build(cfg, seeds_of(cfg))
    terms = memory_terms(shape_of(cfg, system, trainer))
    seconds = estimate_seconds(cfg, system, trainer)
    return peak_of(terms) / MiB, seconds, {k: v / MiB for k, v in terms.items()}


def measure(overrides: list[str], results: Path) -> tuple[float, float]:
    """(peak RSS MiB, wall seconds) of one run in a fresh process."""
    command = [sys.executable, "-c", CHILD, f"results_dir={results}", "progress=false", *overrides]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    peaks = [line for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_MB")]
    if done.returncode != 0 or not peaks:
        raise RuntimeError(f"{' '.join(overrides)} failed:\n{done.stderr[-2000:]}")
    return float(peaks[-1].split()[1]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), metavar="CASE")
    parser.add_argument("--checks", action="store_true", help="only the cases not fitted to")
    parser.add_argument("--out", type=Path, default=Path("results/memory"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    print("| case | measured MiB | estimated MiB | est/meas | wall s | estimated s | terms MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for name in args.only or (CHECKS if args.checks else CASES):
        overrides = [f"name=memory_{name}", *CASES[name]]
        peak, seconds, terms = estimate(overrides)
        measured, wall = measure(overrides, args.out / "runs")
        rows.append(
            {
                "case": name,
                "overrides": " ".join(CASES[name]),
                "measured_mib": round(measured),
                "estimated_mib": round(peak),
                "ratio": round(peak / measured, 3),
                "wall_s": round(wall, 1),
                "estimated_s": round(seconds, 1),
                **{f"{k}_mib": round(v) for k, v in terms.items()},
            }
        )
        parts = ", ".join(f"{k} {v:.0f}" for k, v in terms.items())
        print(
            f"| {name} | {measured:.0f} | {peak:.0f} | {peak / measured:.2f} | {wall:.1f} | "
            f"{seconds:.0f} | {parts} |",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    with (args.out / "memory.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()

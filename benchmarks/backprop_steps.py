"""Per-step cost of the backprop trainers, measured side by side in one run.

    python benchmarks/backprop_steps.py          # 12-25 min: results/backprop_steps/threadsT/
    python benchmarks/backprop_steps.py --quick  # 3-4 min: results/backprop_steps/quick/
    python benchmarks/backprop_steps.py --threads 1 --reps 5 --sections kernel
    python benchmarks/backprop_steps.py --sections steps --cases 5000:10000:full:4 --no-compile

Sections (each prints its table; all rows go to steps.csv and steps.md):

1. kernel  glibc malloc tuning (``hnnbench/trainers/malloc.py``) off and on, for the paper's Adam
           (autograd loss) and adam_tuned's default, at width 5000 and 1000, batch 2048, float64.
           malloc's settings are process-wide, so every measurement is a fresh subprocess (off =
           glibc untouched, as before the fix); off/on alternate, repetition by repetition.
           Per step: wall clock (the trainer's training clock), user and system CPU seconds
           (``getrusage``, all threads) and minor page faults.
2. steps   every variant on every case (width × points × batch), in this one process, the
           variants interleaved within each repetition: adam (paper: autograd), adam analytic,
           adam_tuned (its default), adam_tuned float32, adam_tuned compile, lbfgs (per
           iteration and per loss + gradient evaluation), after an untimed fit of each shape
           (so ``torch.compile``'s compile time is left out of the step cost and reported in its
           own column).

Every measurement is a steady-state step: a fit of 2 + k steps minus a fit of 2 steps (both pay
the same one-time costs: the network, the first step's heap growth, the curve evaluations).

Medians over repetitions. Data: Hénon–Heiles (4 inputs), data seed 3943, model seed 992472.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from thread_env import threads_from_argv  # the script's folder is on sys.path

threads_from_argv()

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hnnbench import systems  # noqa: E402
from hnnbench.data import make_dataset  # noqa: E402
from hnnbench.hardware import apply_threads, cpu_model  # noqa: E402
from hnnbench.trainers import AdamTrainer, AdamTunedTrainer, LBFGSTrainer  # noqa: E402

SECTIONS = ("kernel", "steps")
SYSTEM, DATA_SEED, MODEL_SEED, TEST_POINTS = "henon_heiles", 3943, 992472, 1000
SHORT = 2  # steps of the reference fit that every measurement subtracts

#: (label, trainer class, keyword arguments); every trainer gets the case's batch size
VARIANTS: dict[str, tuple[type, dict[str, Any]]] = {
    "adam (paper: autograd)": (AdamTrainer, {"grad_mode": "autograd"}),
    "adam analytic": (AdamTrainer, {"grad_mode": "analytic"}),
    "adam_tuned (default: fused, float64)": (AdamTunedTrainer, {}),
    "adam_tuned float32": (AdamTunedTrainer, {"train_dtype": "float32"}),
    "adam_tuned compile": (AdamTunedTrainer, {"compile": True}),
    "lbfgs (fused)": (LBFGSTrainer, {}),
}
KERNEL_VARIANTS = ("adam (paper: autograd)", "adam_tuned (default: fused, float64)")

# (width, points, batch or None = full, steps per measurement)
FULL = {
    "steps": [
        (200, 3000, 2048, 40),
        (200, 3000, None, 40),
        (1000, 10_000, 2048, 12),
        (1000, 10_000, None, 4),
        (5000, 10_000, 2048, 4),
        (5000, 10_000, None, 2),
    ],
    "kernel": [(5000, 10_000, 2048, 8), (1000, 10_000, 2048, 20)],
    "reps": 3,
}
TINY = {  # for tests/test_benchmarks.py: does everything run? (no timing claims)
    "steps": [(20, 300, 128, 3)],
    "kernel": [(50, 300, 128, 3)],
    "reps": 1,
}
QUICK = {
    "steps": [(200, 3000, 2048, 20), (200, 3000, None, 20), (1000, 10_000, 2048, 5)],
    "kernel": [(5000, 10_000, 2048, 3), (1000, 10_000, 2048, 8)],
    "reps": 2,
}


def trainer_of(variant: str, width: int, batch: int | None, steps: int):
    cls, kwargs = VARIANTS[variant]
    return cls(
        width,
        steps=steps,
        batch_size=batch,
        eval_every=steps,
        model_seed=MODEL_SEED,
        progress=False,
        **kwargs,
    )


def fit_totals(trainer, data) -> dict[str, float]:
    """One fit: its training clock, user / system CPU seconds, minor faults, steps, evals."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    trainer.fit(data)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "train_s": trainer.train_time_s_,
        "user_s": after.ru_utime - before.ru_utime,
        "sys_s": after.ru_stime - before.ru_stime,
        "minflt": after.ru_minflt - before.ru_minflt,
        "steps": trainer.steps_done_,
        "evals": trainer.function_evals_ if isinstance(trainer, LBFGSTrainer) else None,
    }


def measure(make, data, steps: int) -> dict[str, float]:
    """Steady-state cost of one step: a fit of ``SHORT + steps`` steps minus a fit of ``SHORT``
    (both pay the same one-time costs: network, first-step heap growth, curve evaluations)."""
    short, long = fit_totals(make(SHORT), data), fit_totals(make(SHORT + steps), data)
    done = long["steps"] - short["steps"]
    row = {
        "step_s": (long["train_s"] - short["train_s"]) / done,
        "user_s_per_step": (long["user_s"] - short["user_s"]) / done,
        "sys_s_per_step": (long["sys_s"] - short["sys_s"]) / done,
        "minflt_per_step": (long["minflt"] - short["minflt"]) / done,
        "steps": done,
    }
    row["cpu_s_per_step"] = row["user_s_per_step"] + row["sys_s_per_step"]
    if long["evals"] is not None:  # lbfgs: loss + gradient evaluations
        evals = long["evals"] - short["evals"]
        row["evals_per_step"] = evals / done
        row["eval_s"] = (long["train_s"] - short["train_s"]) / evals
    return row


def dataset(points: int):
    return make_dataset(systems.get(SYSTEM), points, TEST_POINTS, data_seed=DATA_SEED)


# -- kernel: each measurement in a fresh process -------------------------------------------------
def child(spec: dict[str, Any]) -> None:
    """Run inside a subprocess: an untimed fit, then ``measure``; print the row as JSON."""
    apply_threads(spec["threads"])
    data = dataset(spec["points"])

    def make(steps: int):
        trainer = trainer_of(spec["variant"], spec["width"], spec["batch"], steps)
        trainer.malloc_tuning = spec["malloc"]
        return trainer

    make(SHORT).fit(data)
    row = measure(make, data, spec["steps"])
    trainer = make(1)
    trainer.fit(data.head(64))
    row["malloc"] = trainer.fit_info_["malloc"]
    print(json.dumps(row))


def kernel_section(config: dict[str, Any], threads: int) -> list[dict[str, Any]]:
    samples: dict[tuple, list[dict[str, Any]]] = {}
    for rep in range(config["reps"]):
        for width, points, batch, steps in config["kernel"]:
            for variant in KERNEL_VARIANTS:
                for malloc in (False, True):
                    spec = dict(variant=variant, width=width, points=points, batch=batch,
                                steps=steps, malloc=malloc, threads=threads)  # fmt: skip
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", json.dumps(spec)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    samples.setdefault((variant, width, points, batch, malloc), []).append(row)
                    print(f"  rep {rep}: {variant} w={width} malloc={'on' if malloc else 'off'}: "
                          f"{row['step_s'] * 1e3:.1f} ms/step", flush=True)  # fmt: skip
    rows = []
    for (variant, width, points, batch, malloc), found in samples.items():
        rows.append(
            {
                "section": "kernel",
                "variant": variant,
                "width": width,
                "points": points,
                "batch": batch or points,
                "malloc_tuning": "on" if malloc else "off",
                **medians(found),
                "malloc": found[0]["malloc"],
            }
        )
    return rows


def medians(found: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k in found[0] if isinstance(found[0][k], int | float)]
    out = {k: statistics.median(r[k] for r in found) for k in keys}
    out["reps"] = len(found)
    out["step_s_min"] = min(r["step_s"] for r in found)
    out["step_s_max"] = max(r["step_s"] for r in found)
    return out


# -- steps: every variant, one process ----------------------------------------------------------
def steps_section(config: dict[str, Any], variants: list[str]) -> list[dict[str, Any]]:
    rows = []
    for width, points, batch, steps in config["steps"]:
        data = dataset(points)
        compile_s: dict[str, float] = {}
        for variant in variants:  # an untimed fit of this shape (compiles, warms caches)
            start = time.perf_counter()
            trainer_of(variant, width, batch, SHORT).fit(data)
            compile_s[variant] = time.perf_counter() - start
        found: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        for _ in range(config["reps"]):
            for variant in variants:
                make = partial(trainer_of, variant, width, batch)
                found[variant].append(measure(make, data, steps))
        for variant in variants:
            row = {
                "section": "steps",
                "variant": variant,
                "width": width,
                "points": points,
                "batch": batch or points,
                **medians(found[variant]),
            }
            if VARIANTS[variant][1].get("compile"):
                row["first_fit_s"] = compile_s[variant]
            rows.append(row)
            print(f"  w={width} N={points} batch={batch or 'full'}: {variant}: "
                  f"{row['step_s'] * 1e3:.1f} ms/step", flush=True)  # fmt: skip
    return rows


# -- output ---------------------------------------------------------------------------------------
def ms(value: Any) -> str:
    return "—" if value in (None, "") else f"{float(value) * 1e3:.1f}"


def kernel_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| variant | width | batch | malloc tuning | ms/step (median [min–max]) | user ms/step "
        "| sys ms/step | sys share | minor faults/step |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cpu = r["user_s_per_step"] + r["sys_s_per_step"]
        lines.append(
            f"| {r['variant']} | {r['width']} | {r['batch']} | {r['malloc_tuning']} | "
            f"{ms(r['step_s'])} [{ms(r['step_s_min'])}–{ms(r['step_s_max'])}] | "
            f"{ms(r['user_s_per_step'])} | {ms(r['sys_s_per_step'])} | "
            f"{r['sys_s_per_step'] / cpu:.0%} | {r['minflt_per_step']:.0f} |"
        )
    return lines


def steps_table(rows: list[dict[str, Any]]) -> list[str]:
    cases = list(dict.fromkeys((r["width"], r["points"], r["batch"]) for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    head = "| variant | " + " | ".join(f"w={w}, N={n}, batch {b}" for w, n, b in cases) + " |"
    lines = [head, "| --- |" + " --- |" * len(cases)]
    by_key = {(r["variant"], r["width"], r["points"], r["batch"]): r for r in rows}
    for variant in variants:
        cells = []
        for case in cases:
            r = by_key.get((variant, *case))
            if r is None:
                cells.append("—")
                continue
            text = f"{ms(r['step_s'])} [{ms(r['step_s_min'])}–{ms(r['step_s_max'])}]"
            text += f" (CPU {ms(r['cpu_s_per_step'])})"
            if "eval_s" in r:
                text += f"; {ms(r['eval_s'])}/eval"
            if "first_fit_s" in r:
                text += f"; first fit {r['first_fit_s']:.0f} s"
            cells.append(text)
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return lines


STEPS_NOTE = (
    "ms per step of the training clock, median [min–max] over repetitions, and the CPU "
    "seconds (user + system, all threads) of that step; lbfgs: per iteration and per loss + "
    "gradient evaluation; compile: the first (untimed) fit of the shape, compile included."
)


def machine(threads: int) -> str:
    load = os.getloadavg()
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads, asked {threads}), Python {platform.python_version()}"
        f", load average {load[0]:.2f}"
    )


def write(out: Path, rows: list[dict[str, Any]], text: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "steps.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (out / "steps.md").write_text("\n".join(text) + "\n")


def parse_case(text: str) -> tuple[int, int, int | None, int]:
    width, points, batch, steps = text.split(":")
    return int(width), int(points), None if batch == "full" else int(batch), int(steps)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases, 2 repetitions")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--variants", default=None, help="comma-separated labels (steps section)")
    parser.add_argument("--no-compile", action="store_true", help="skip adam_tuned compile")
    parser.add_argument(
        "--cases",
        default=None,
        help="steps-section cases WIDTH:POINTS:BATCH|full:STEPS, comma-separated (e.g. "
        "5000:10000:full:4)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return
    sections = args.sections.split(",")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; allowed: {list(SECTIONS)}")
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    if args.no_compile:
        variants = [v for v in variants if not VARIANTS[v][1].get("compile")]
    config = dict(TINY if args.tiny else QUICK if args.quick else FULL)
    if args.reps:
        config["reps"] = args.reps
    if args.cases:
        config["steps"] = [parse_case(case) for case in args.cases.split(",")]
    threads = apply_threads(args.threads)
    folder = "quick" if args.quick or args.tiny else f"threads{threads}"
    out = args.out or ROOT / "results" / "backprop_steps" / folder
    started = time.strftime("%Y-%m-%d %H:%M")
    text = [f"# backprop per-step cost ({started})", "", f"Machine at start: {machine(threads)}"]
    rows: list[dict[str, Any]] = []
    if "kernel" in sections:
        print("kernel: malloc tuning off / on, fresh process per measurement", flush=True)
        kernel = kernel_section(config, threads)
        rows += kernel
        text += ["", "### kernel", "", *kernel_table(kernel)]
    if "steps" in sections:
        print("steps: every variant, interleaved", flush=True)
        steps = steps_section(config, variants)
        rows += steps
        text += ["", "### steps", "", STEPS_NOTE, ""]
        text += steps_table(steps)
    text += ["", f"Machine at end: {machine(threads)}; {config['reps']} repetitions, medians."]
    write(out, rows, text)
    print("\n".join(text))


if __name__ == "__main__":
    main()

"""Performance of the sampled fit, measured side by side in one run (issue 6).

    python benchmarks/perf.py            # full run (~25 min on 2 cores), writes results/perf/
    python benchmarks/perf.py --quick    # tiny sizes (< 1 min), writes results/perf/quick/
    python benchmarks/perf.py --threads 1   # pin torch/MKL/OpenMP/OpenBLAS threads (a busy box)

Sections (each prints its table; all rows go to perf.csv and perf.md):

1. speed   the straightforward fit (dense (N, 2n, M) gradient tensor + numpy.linalg.lstsq,
           rcond 1e-13, its own sampling path with the same pair helpers, so hidden layers are
           identical) versus ``SampledTrainer`` with its defaults; medians over seeds
           (data seed 3943 + r, model seed 992472 + r); A-SWIM also with an exact first pass.
2. flops   DGEMM (torch and numpy matmul, float64; the better one counts) versus the default
           least-squares step (qr_ridge) on the double pendulum, stage by stage and end to end,
           flops counted for the algorithm used.
3. memory  10^6 versus 10^5 pendulum points at width 1000, each fit in a fresh subprocess that
           generates its own data and reports its peak RSS (VmHWM; see ``peak_rss_mb``).
4. adam    time to accuracy: Adam's best test error E within a time cap, then the smallest
           A-SWIM width of a ladder that reaches E; Adam's seconds (evaluation excluded) to first
           reach E over A-SWIM's fit seconds (median of 5 repeated fits at that width).
5. dimension  the sampled fit (A-SWIM, defaults) on fput at n = 1, 8, 32 degrees of freedom,
           width 2000, 20 000 points, each in a fresh subprocess: time, error and peak RSS
           (target: < 2 GB at n = 32), the time ratio to n = 1 and the time added per unit of n,
           next to the flop model of the final fit: the QR of N × (M + 2n) (its 2n columns are
           a few %), the 2n − 1 block merges of the reduced system ((2/3)M³ each: the term
           linear in n) and the hidden-layer gradient N·M·2n (small).

Times are wall-clock of the fit only (time.perf_counter); data generation and evaluation are
excluded, as in the paper.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from thread_env import threads_from_argv  # the script's folder is on sys.path

threads_from_argv()

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hnnbench import systems  # noqa: E402
from hnnbench.data import Dataset, make_dataset  # noqa: E402
from hnnbench.evaluate import rel_l2  # noqa: E402
from hnnbench.progress import line  # noqa: E402
from hnnbench.resources import peak_rss_mb  # noqa: E402
from hnnbench.trainers import AdamTrainer, SampledTrainer  # noqa: E402
from hnnbench.trainers.lstsq import (  # noqa: E402
    GradientLeastSquares,
    data_factor,
    factor_ranges,
    merge_blocks,
    merge_flops,
    solve,
    spectral_norm,
    with_ridge,
)
from hnnbench.trainers.sampled import (  # noqa: E402
    candidate_pairs,
    choose_pairs,
    pair_probabilities,
    pair_weights,
)

DATA_SEED, MODEL_SEED, RCOND = 3943, 992472, 1e-13

FULL = {
    "test_points": 10_000,
    "speed": [
        ("pendulum", {"domain": [[-2 * math.pi, 2 * math.pi], [-1, 1]]}, 10_000, 1500, "aswim"),
        ("double_pendulum", {}, 20_000, 2000, "uswim"),
        ("double_pendulum", {}, 20_000, 2000, "aswim"),
        ("henon_heiles", {}, 20_000, 2000, "aswim"),
    ],
    "flops": ("double_pendulum", 20_000, 2000),
    "dgemm_size": 4000,
    "memory": [(100_000, 1000), (1_000_000, 1000)],
    "adam": {"points": 10_000, "width": 1000, "seconds": 60.0, "eval_every": 100},
    "ladder": [50, 100, 200, 400, 800, 1000],
    "dimension": {"dofs": (1, 8, 32), "points": 20_000, "width": 2000},
}
QUICK = {
    "test_points": 2000,
    "speed": [
        ("pendulum", {}, 1000, 150, "aswim"),
        ("double_pendulum", {}, 1000, 200, "uswim"),
        ("henon_heiles", {}, 1000, 200, "aswim"),
    ],
    "flops": ("double_pendulum", 2000, 300),
    "dgemm_size": 1000,
    "memory": [(2000, 100), (20_000, 100)],
    "adam": {"points": 1000, "width": 100, "seconds": 2.0, "eval_every": 20},
    "ladder": [10, 20, 50, 100],
    "dimension": {"dofs": (1, 8, 32), "points": 2000, "width": 200},
}
ADAM_SYSTEMS = ["pendulum", "spring", "henon_heiles", "double_pendulum"]
STARTED = time.perf_counter()


def step(unit: str, position: int, total: int, what: str) -> None:
    """Where the run is, on stderr (the tables go to stdout); no estimate of what is left: the
    sections and cases differ too much in length for a mean to mean anything."""
    elapsed = time.perf_counter() - STARTED
    print(line(unit, position, total, what, elapsed, None), file=sys.stderr, flush=True)


# -- the straightforward baseline -------------------------------------------------------------
def dense_fit(x: np.ndarray, xdot: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Dense (N, 2n, M) gradient tensor and numpy.linalg.lstsq (gelsd), rcond 1e-13."""
    slopes = 1 - np.tanh(x @ weight.T + bias) ** 2
    dof = x.shape[1] // 2
    scales = np.concatenate([weight.T[dof:], -weight.T[:dof]])  # J Wᵀ, (2n, M)
    matrix = (slopes[:, None, :] * scales[None, :, :]).reshape(-1, weight.shape[0])
    return np.linalg.lstsq(matrix, xdot.reshape(-1), rcond=RCOND)[0]


def dense_H(x: np.ndarray, weight, bias, coef, data: Dataset) -> np.ndarray:
    """Ĥ with c_0 from the anchor (Ĥ(x0) = H0)."""
    c0 = data.anchor_H - np.tanh(weight @ data.anchor + bias) @ coef
    return np.tanh(x @ weight.T + bias) @ coef + c0


def baseline_fit(data: Dataset, width: int, method: str, seed: int) -> tuple[float, float]:
    """The published approach with SampledTrainer's random stream: (fit seconds, test error)."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    x, xdot = data.x_train, data.xdot_train
    pairs = candidate_pairs(len(x), width, rng)
    probabilities = pair_probabilities(x, None, pairs)
    weight, bias = pair_weights(x, choose_pairs(pairs, probabilities, width, rng))
    if method == "aswim":
        coef = dense_fit(x, xdot, weight, bias)
        probabilities = pair_probabilities(x, dense_H(x, weight, bias, coef, data), pairs)
        weight, bias = pair_weights(x, choose_pairs(pairs, probabilities, width, rng))
    coef = dense_fit(x, xdot, weight, bias)
    seconds = time.perf_counter() - started
    return seconds, rel_l2(data.H_test, dense_H(data.x_test, weight, bias, coef, data))


def ours_fit(data: Dataset, width: int, method: str, seed: int, **kwargs) -> tuple[float, float]:
    trainer = SampledTrainer(width, method=method, model_seed=seed, **kwargs)
    started = time.perf_counter()
    net = trainer.fit(data)
    seconds = time.perf_counter() - started
    return seconds, rel_l2(data.H_test, net.predict_H(data.x_test))


# -- sections ---------------------------------------------------------------------------------
def section_speed(cfg: dict, seeds: int) -> list[dict]:
    rows = []
    for number, (name, params, points, width, method) in enumerate(cfg["speed"], 1):
        step("speed case", number, len(cfg["speed"]), f"{name} N={points} M={width} {method}")
        runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "ours": [], "exact1st": []}
        for r in range(seeds):
            data = make_dataset(
                systems.get(name, **params), points, cfg["test_points"], DATA_SEED + r
            )
            runs["baseline"].append(baseline_fit(data, width, method, MODEL_SEED + r))
            runs["ours"].append(ours_fit(data, width, method, MODEL_SEED + r))
            if method == "aswim":
                runs["exact1st"].append(
                    ours_fit(
                        data,
                        width,
                        method,
                        MODEL_SEED + r,
                        first_pass_solver=None,
                        first_pass_points=None,
                    )
                )
        base_t = statistics.median(t for t, _ in runs["baseline"])
        base_e = statistics.median(e for _, e in runs["baseline"])
        for variant in ("ours", "exact1st"):
            if not runs[variant]:
                continue
            our_t = statistics.median(t for t, _ in runs[variant])
            our_e = statistics.median(e for _, e in runs[variant])
            rows.append(
                {
                    "section": "speed",
                    "case": f"{name} N={points} M={width} {method}",
                    "variant": "default" if variant == "ours" else "exact first pass",
                    "seeds": seeds,
                    "baseline_s": base_t,
                    "ours_s": our_t,
                    "speedup": base_t / our_t,
                    "baseline_err": base_e,
                    "ours_err": our_e,
                    "err_ratio": our_e / base_e,
                    "details": json.dumps({k: v for k, v in runs.items() if v}),
                }
            )
    return rows


def dgemm_rates(size: int, repeats: int = 3) -> dict[str, float]:
    """GFLOP/s of a float64 size² matrix product with torch (MKL here) and numpy (OpenBLAS
    here): the machine's DGEMM rate is the better of the two."""
    rates = {}
    for label, make in (
        ("torch", lambda: torch.randn(size, size, dtype=torch.float64)),
        ("numpy", lambda: np.random.default_rng(0).standard_normal((size, size))),
    ):
        a, b = make(), make()
        a @ b  # warm-up
        best = min(timed(lambda: a @ b)[0] for _ in range(repeats))  # noqa: B023
        rates[label] = 2 * size**3 / best / 1e9
    return rates


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def qr_flops(rows: int, cols: int) -> float:
    """Householder QR of rows × cols (R only): 2mn² − 2n³/3."""
    return 2 * rows * cols**2 - 2 * cols**3 / 3


def factor_flops(problem: GradientLeastSquares) -> float:
    """Flops of ``data_factor``: the streamed QR of every point range, then the range merges."""
    cols, ranges = problem.width + problem.outputs, factor_ranges(problem)
    flops = (len(ranges) - 1) * merge_flops(cols)
    per_range = max(1, problem.chunk_bytes // len(ranges))
    for points in ranges:
        count = points.stop - points.start
        step = replace(problem, chunk_bytes=per_range).chunk_points(count)
        held = 0
        for start in range(0, count, step):
            rows = held + min(step, count - start)
            flops += qr_flops(rows, cols)
            held = min(rows, cols)
    return flops


def section_flops(cfg: dict) -> list[dict]:
    """The default least-squares step (qr_ridge) stage by stage, flops counted for the
    algorithm used, against the machine's DGEMM rate measured before and after."""
    name, points, width = cfg["flops"]
    data = make_dataset(systems.get(name), points, 10, DATA_SEED)
    rng = np.random.default_rng(MODEL_SEED)
    pairs = candidate_pairs(points, width, rng)
    weight, bias = pair_weights(
        data.x_train, choose_pairs(pairs, pair_probabilities(data.x_train, None, pairs), width, rng)
    )
    problem = GradientLeastSquares(*(torch.as_tensor(a) for a in (data.x_train, data.xdot_train)),
                                   torch.as_tensor(weight), torch.as_tensor(bias))  # fmt: skip
    before = dgemm_rates(cfg["dgemm_size"])
    best: dict[str, float] = {}
    for _ in range(3):
        t_factor, factor = timed(data_factor, problem)
        t_merge, (tri, rhs) = timed(merge_blocks, factor, problem.column_scales())
        t_ridge, _ = timed(ridge_and_solve, tri, rhs)
        for key, value in {"factor": t_factor, "merge": t_merge, "ridge": t_ridge}.items():
            best[key] = min(best.get(key, math.inf), value)
    t_total = min(timed(solve, "qr_ridge", problem, RCOND)[0] for _ in range(3))
    after = dgemm_rates(cfg["dgemm_size"])
    dgemm = max(*before.values(), *after.values())
    flops = {
        "factor": factor_flops(problem),
        "merge": (problem.outputs - 1) * merge_flops(width + 1),
        "ridge": merge_flops(width + 1),
    }
    labels = {
        "factor": "R of [S, ẋ]: streamed QR per thread + merges",
        "merge": f"{problem.outputs - 1} merges of the R_S D_d blocks",
        "ridge": "σ_max, ridge merge, triangular solve",
    }
    rows = [
        {
            "section": "flops",
            "case": f"DGEMM float64 {cfg['dgemm_size']}² ({lib}, best of before/after)",
            "gflops": max(before[lib], after[lib]),
            "ours_s": None,
            "details": json.dumps({"before": before[lib], "after": after[lib]}),
        }
        for lib in ("torch", "numpy")
    ]
    for key in ("factor", "merge", "ridge"):
        rows.append(
            {
                "section": "flops",
                "case": f"stage: {labels[key]} ({name} N={points} M={width})",
                "ours_s": best[key],
                "gflops": flops[key] / best[key] / 1e9,
                "fraction_of_dgemm": flops[key] / best[key] / 1e9 / dgemm,
            }
        )
    total_f = sum(flops.values())
    for case, seconds in (
        ("sum of the best stage times", sum(best.values())),
        ("solve('qr_ridge') end to end, best of 3", t_total),
    ):
        rows.append(
            {
                "section": "flops",
                "case": f"least-squares step: {case} ({name} N={points} M={width})",
                "ours_s": seconds,
                "gflops": total_f / seconds / 1e9,
                "fraction_of_dgemm": total_f / seconds / 1e9 / dgemm,
                "details": json.dumps({"gflop_counted": total_f / 1e9, "dgemm_gflops": dgemm}),
            }
        )
    return rows


def ridge_and_solve(triangle: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """The last stage of qr_ridge: λ from σ_max, the [T; λI] merge, the triangular solve."""
    ridged, ridged_rhs = with_ridge(triangle, rhs, RCOND * spectral_norm(triangle))
    return torch.linalg.solve_triangular(ridged, ridged_rhs[:, None], upper=True)


def memory_child(points: int, width: int, test_points: int) -> None:
    """Generate the pendulum data here, fit A-SWIM with defaults, print JSON on the last line."""
    domain = [[-2 * math.pi, 2 * math.pi], [-1, 1]]
    data = make_dataset(systems.get("pendulum", domain=domain), points, test_points, DATA_SEED)
    seconds, error = ours_fit(data, width, "aswim", MODEL_SEED)
    print(json.dumps({"seconds": seconds, "error": error, "peak_rss_mb": peak_rss_mb()}))


def section_memory(cfg: dict) -> list[dict]:
    results = {}
    for points, width in cfg["memory"]:
        command = [sys.executable, __file__, "--memory-child", str(points), str(width),
                   str(cfg["test_points"])]  # fmt: skip
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[points] = json.loads(output.strip().splitlines()[-1])
    small, large = (results[p] for p, _ in cfg["memory"])
    rows = []
    for (points, width), result in zip(cfg["memory"], (small, large), strict=True):
        rows.append(
            {
                "section": "memory",
                "case": f"pendulum N={points} M={width} aswim (subprocess)",
                "ours_s": result["seconds"],
                "ours_err": result["error"],
                "peak_rss_mb": result["peak_rss_mb"],
                "err_ratio": result["error"] / small["error"],
            }
        )
    return rows


def section_adam(cfg: dict) -> list[dict]:
    rows = []
    spec = cfg["adam"]
    for number, name in enumerate(ADAM_SYSTEMS, 1):
        step("adam case", number, len(ADAM_SYSTEMS), f"{name}: Adam for {spec['seconds']:g} s")
        data = make_dataset(systems.get(name), spec["points"], cfg["test_points"], DATA_SEED)
        adam = AdamTrainer(
            spec["width"],
            steps=10**9,
            batch_size=2048,
            lr=5e-4,
            model_seed=MODEL_SEED,
            eval_every=spec["eval_every"],
            max_seconds=spec["seconds"],
            progress=False,
        )
        adam.fit(data)
        curve = [p for p in adam.learning_curve_ if math.isfinite(p["test_H_rel_l2"])]
        best = min(p["test_H_rel_l2"] for p in curve)
        adam_t = next(p["seconds"] for p in curve if p["test_H_rel_l2"] <= best)
        ladder = []
        for width in cfg["ladder"]:
            seconds, error = ours_fit(data, width, "aswim", MODEL_SEED)
            ladder.append({"width": width, "seconds": seconds, "error": error})
            if error <= best:
                break
        hit = ladder[-1] if ladder[-1]["error"] <= best else None
        if hit:  # fits of a few hundredths of a second: the median of 5 more, not one shot
            repeats = [ours_fit(data, hit["width"], "aswim", MODEL_SEED)[0] for _ in range(5)]
            hit["seconds"], hit["repeats_s"] = statistics.median(repeats), repeats
        rows.append(
            {
                "section": "adam",
                "case": f"{name} N={spec['points']} Adam M={spec['width']} vs A-SWIM ladder",
                "adam_best_err": best,
                "adam_s_to_best": adam_t,
                "adam_steps": adam.steps_done_,
                "aswim_width": hit["width"] if hit else None,
                "ours_s": hit["seconds"] if hit else None,
                "ours_err": hit["error"] if hit else None,
                "speedup": adam_t / hit["seconds"] if hit else None,
                "details": json.dumps(ladder),
            }
        )
    return rows


#: the dimension section's memory target at its largest n
DIMENSION_RSS_LIMIT_MB = 2048


def dimension_child(dof: int, points: int, width: int, test_points: int) -> None:
    """Generate fput data at ``dof`` here, fit A-SWIM with defaults, print JSON on the last line."""
    data = make_dataset(systems.get("fput", dof=dof), points, test_points, DATA_SEED)
    seconds, error = ours_fit(data, width, "aswim", MODEL_SEED)
    print(json.dumps({"seconds": seconds, "error": error, "peak_rss_mb": peak_rss_mb()}))


def dimension_flops(points: int, width: int, dof: int) -> tuple[float, float, float]:
    """Of the final fit: (QR flops of the N × (M + 2n) data factor, flops of the 2n − 1 tpqrt
    merges of the reduced blocks, multiply-adds of the N·M·2n hidden-layer gradient)."""
    merges = (2 * dof - 1) * merge_flops(width + 1)
    return qr_flops(points, width + 2 * dof), merges, float(points * width * 2 * dof)


def section_dimension(cfg: dict) -> list[dict]:
    """Time vs n at fixed N and M. The floor is the QR over N × (M + 2n) (≈ 2N·M² flops, almost
    independent of n for 2n ≪ M); what grows with n is, above all, the merge of the 2n reduced
    blocks ((2n − 1)·(2/3)M³ flops, linear in n), then the hidden-layer gradient (N·M·2n), the
    2n right-hand sides and the samplers' distances in 2n dimensions. "At most linear beyond
    the floor": the time added per unit of n from the middle to the largest n is no more than
    1.5× the one from the smallest to the middle, plus 5 % of the floor (timing noise)."""
    spec = cfg["dimension"]
    results = {}
    for dof in spec["dofs"]:
        command = [sys.executable, __file__, "--dimension-child", str(dof), str(spec["points"]),
                   str(spec["width"]), str(cfg["test_points"])]  # fmt: skip
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[dof] = json.loads(output.strip().splitlines()[-1])
    low, mid, high = spec["dofs"]
    base = results[low]["seconds"]
    per_n_low = (results[mid]["seconds"] - base) / (mid - low)
    per_n_high = (results[high]["seconds"] - results[mid]["seconds"]) / (high - mid)
    rows = []
    for dof in spec["dofs"]:
        result = results[dof]
        qr, merges, gradient = dimension_flops(spec["points"], spec["width"], dof)
        row = {
            "section": "dimension",
            "case": f"fput n={dof} N={spec['points']} M={spec['width']} aswim (subprocess)",
            "ours_s": result["seconds"],
            "ours_err": result["error"],
            "peak_rss_mb": result["peak_rss_mb"],
            "time_ratio_to_n1": result["seconds"] / base,
            "qr_gflop": qr / 1e9,
            "gradient_gmadd": gradient / 1e9,
            "qr_share_of_2n": 1 - qr_flops(spec["points"], spec["width"]) / qr,
            "merge_gflop": merges / 1e9,
        }
        if dof == high:
            row["s_per_n_low"], row["s_per_n_high"] = per_n_low, per_n_high
            row["linear_beyond_floor"] = per_n_high <= 1.5 * max(per_n_low, 0.0) + 0.05 * base
            row["rss_under_2gb"] = result["peak_rss_mb"] < DIMENSION_RSS_LIMIT_MB
        rows.append(row)
    return rows


SECTIONS = {"speed": section_speed, "flops": section_flops, "memory": section_memory,
            "adam": section_adam, "dimension": section_dimension}  # fmt: skip


# -- output ------------------------------------------------------------------------------------
def machine_info() -> dict[str, str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "threads (OMP/MKL/OpenBLAS env)": os.environ.get("OMP_NUM_THREADS", "default (all)"),
        "torch": f"{torch.__version__} (threads {torch.get_num_threads()}, "
        f"MKL {torch.backends.mkl.is_available()})",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load average (1, 5, 15 min) at start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


COLUMNS = {
    "speed": ["case", "variant", "seeds", "baseline_s", "ours_s", "speedup", "baseline_err",
              "ours_err", "err_ratio"],
    "flops": ["case", "ours_s", "gflops", "fraction_of_dgemm"],
    "memory": ["case", "ours_s", "ours_err", "err_ratio", "peak_rss_mb"],
    "adam": ["case", "adam_best_err", "adam_s_to_best", "adam_steps", "aswim_width", "ours_s",
             "ours_err", "speedup"],
    "dimension": ["case", "ours_s", "ours_err", "peak_rss_mb", "time_ratio_to_n1", "qr_gflop",
                  "qr_share_of_2n", "merge_gflop", "gradient_gmadd", "s_per_n_low", "s_per_n_high",
                  "linear_beyond_floor", "rss_under_2gb"],
}  # fmt: skip


def fmt(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def markdown(section: str, rows: list[dict]) -> str:
    columns = COLUMNS[section]
    lines = [f"### {section}", "", "| " + " | ".join(columns) + " |",
             "|" + " --- |" * len(columns)]  # fmt: skip
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, < 1 min")
    parser.add_argument("--seeds", type=int, default=2, help="seeds for the speed medians")
    parser.add_argument(
        "--sections", default="speed,flops,memory,adam,dimension", help="comma-separated"
    )
    parser.add_argument("--adam-seconds", type=float, help="time cap of each Adam run")
    parser.add_argument(
        "--threads", type=int, help="threads for torch, MKL and OpenBLAS (default: all cores)"
    )
    parser.add_argument("--out", type=Path, help="output folder (default results/perf[/quick])")
    parser.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dimension-child", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    if args.dimension_child:
        dimension_child(*args.dimension_child)
        return
    sections = args.sections.split(",")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; allowed: {list(SECTIONS)}")
    cfg = QUICK if args.quick else FULL
    if args.adam_seconds:
        cfg["adam"]["seconds"] = args.adam_seconds
    seeds = 1 if args.quick else args.seeds
    out = args.out or ROOT / "results" / "perf" / ("quick" if args.quick else "")
    info = machine_info()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    all_rows, text = [], ["# perf (benchmarks/perf.py)", ""]
    text += [f"- {k}: {v}" for k, v in info.items()] + [""]
    for number, section in enumerate(sections, 1):
        step("perf section", number, len(sections), section)
        started = time.perf_counter()
        if section == "speed":
            rows = section_speed(cfg, seeds)
        else:
            rows = SECTIONS[section](cfg)
        table = markdown(section, rows)
        print(f"\n{table}({section}: {time.perf_counter() - started:.0f} s)", flush=True)
        all_rows += rows
        text.append(table)
    out.mkdir(parents=True, exist_ok=True)
    fields = ["section"] + sorted({k for row in all_rows for k in row} - {"section"})
    with open(out / "perf.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(all_rows)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    (out / "perf.md").write_text("\n".join(text) + f"\nload average at the end: {load}\n")
    print(f"\nload average at the end: {load}\nwrote {out / 'perf.csv'} and {out / 'perf.md'}")


if __name__ == "__main__":
    main()

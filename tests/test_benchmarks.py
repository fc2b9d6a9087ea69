"""The benchmark scripts run end to end at tiny sizes and refuse bad input (no timing claims)."""

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_perf_quick_speed_and_flops(tmp_path):
    done = run("benchmarks/perf.py", "--quick", "--sections", "speed,flops", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "perf.csv") as handle:
        rows = list(csv.DictReader(handle))
    speed = [r for r in rows if r["section"] == "speed"]
    assert len(speed) == 5  # 3 cases, A-SWIM ones also with an exact first pass
    for row in speed:
        assert float(row["speedup"]) > 0 and math.isfinite(float(row["ours_err"]))
        # same hidden layer on U-SWIM: the errors of both fits are of one class
        assert float(row["err_ratio"]) < 10
    flops = {r["case"].split(" (")[0]: r for r in rows if r["section"] == "flops"}
    total = flops["least-squares step: solve('qr_ridge') end to end, best of 3"]
    assert 0 < float(total["fraction_of_dgemm"]) < 1.5
    report = (tmp_path / "perf.md").read_text()
    assert "### speed" in report and "### flops" in report


def test_perf_refuses_an_unknown_section_before_any_work(tmp_path):
    done = run("benchmarks/perf.py", "--quick", "--sections", "speed,warp", "--out", tmp_path)
    assert done.returncode != 0
    allowed = "['speed', 'flops', 'memory', 'adam', 'dimension']"
    assert f"unknown section(s) ['warp']; allowed: {allowed}" in done.stderr
    assert not (tmp_path / "perf.csv").exists()


@pytest.mark.slow  # three subprocesses that each import torch: ≈ 8 s
def test_perf_quick_dimension(tmp_path):
    done = run("benchmarks/perf.py", "--quick", "--sections", "dimension", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "perf.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["case"].split()[1] for r in rows] == ["n=1", "n=8", "n=32"]
    for row in rows:
        assert float(row["ours_s"]) > 0 and 0 < float(row["peak_rss_mb"]) < 2048
        assert 0 < float(row["qr_share_of_2n"]) < 1
    assert rows[-1]["rss_under_2gb"] == "True" and rows[-1]["linear_beyond_floor"] in (
        "True",
        "False",
    )
    assert "### dimension" in (tmp_path / "perf.md").read_text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: tests/test_cuda.py runs")
def test_gpu_check_skips_cleanly_without_cuda():
    done = run("benchmarks/gpu_check.py")
    assert done.returncode == 0 and done.stdout.strip() == "no CUDA device: skipped"


def backprop_steps_rows(tmp_path, *args):
    done = run("benchmarks/backprop_steps.py", "--tiny", *args, "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "steps.csv") as handle:
        return list(csv.DictReader(handle))


def test_backprop_steps_tiny(tmp_path):
    rows = backprop_steps_rows(tmp_path, "--sections", "steps", "--no-compile")
    assert len(rows) == 5  # every variant but compile
    assert all(r["section"] == "steps" and math.isfinite(float(r["step_s"])) for r in rows)
    assert all(r["eval_s"] for r in rows if r["variant"].startswith("lbfgs"))
    assert "### steps" in (tmp_path / "steps.md").read_text()


@pytest.mark.slow
def test_backprop_steps_kernel_section_tiny(tmp_path):
    kernel = backprop_steps_rows(tmp_path, "--sections", "kernel")
    assert {(r["variant"], r["malloc_tuning"]) for r in kernel} == {
        (v, m) for v in ("adam (paper: autograd)", "adam_tuned (default: fused, float64)")
        for m in ("off", "on")
    }  # fmt: skip
    assert {r["malloc"] for r in kernel if r["malloc_tuning"] == "off"} == {"off (not requested)"}


def test_backprop_steps_refuses_an_unknown_section(tmp_path):
    done = run("benchmarks/backprop_steps.py", "--tiny", "--sections", "warp", "--out", tmp_path)
    assert done.returncode != 0 and "unknown section(s) ['warp']" in done.stderr

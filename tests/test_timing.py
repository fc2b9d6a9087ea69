"""The timed region: CPU clocks, the repeat rule for short fits, the contention rule, a fit run
beside busy-loop processes flagged contended in its record and in the report, and the doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import run_hnnbench
from hnnbench import doctor
from hnnbench.record import find_records
from hnnbench.report import build_report
from hnnbench.report import matched as m
from hnnbench.report import verdicts as v
from hnnbench.report.frame import to_frame
from hnnbench.report.synthetic import claims_records
from hnnbench.timing import MachineSample, autorange, contention_of


def sample(wall: float, own: float, busy: float, steal: float = 0.0) -> MachineSample:
    return MachineSample(wall, own, own, 0.0, busy, steal, 0.0)


# ---------------------------------------------------------------- the rules


def test_other_processes_beyond_the_free_cores_contend() -> None:
    start = sample(0.0, 0.0, 100.0)
    # 2 s, this process used 4 CPU-s on 2 threads; others 2 CPU-s: one core, none free
    busy = contention_of(start, sample(2.0, 4.0, 106.0), threads=2, cores=2)
    assert busy.contended and busy.others_cores == pytest.approx(1.0)
    # the same load with 1 thread on 2 cores: the other core was free for it
    assert not contention_of(start, sample(2.0, 2.0, 104.0), threads=1, cores=2).contended
    # a daemon's 0.1 core is slack, not contention
    assert not contention_of(start, sample(2.0, 4.0, 104.2), threads=2, cores=2).contended


def test_hypervisor_steal_contends() -> None:
    stolen = contention_of(sample(0.0, 0, 0, 0), sample(1.0, 2, 2, 0.5), threads=2, cores=2)
    assert stolen.contended and "steal" in stolen.reason


def test_no_proc_stat_is_not_measurable_never_clean_by_default() -> None:
    blind = MachineSample(0.0, 0.0, 0.0, 0.0, None, None, None)
    result = contention_of(blind, blind, threads=1, cores=2)
    assert not result.contended and "not measurable" in result.reason


def test_a_short_fit_is_warmed_up_then_repeated() -> None:
    calls = []

    def fit() -> tuple[int, None]:
        calls.append(1)
        time.sleep(0.02)
        return len(calls), None

    fits = autorange(fit, min_total=0.15, min_repeats=5)
    assert fits.warmup_wall is not None and fits.repeats >= 5 and sum(fits.walls) >= 0.15
    assert len(calls) == fits.repeats + 1 and fits.result == len(calls)
    assert min(fits.walls) <= fits.wall <= max(fits.walls)
    summary = fits.summary(threads=1)
    assert summary["timing"]["repeats"] == fits.repeats
    assert summary["cpu_time_s"] < 0.02  # sleeping costs no CPU


def test_a_long_fit_is_timed_once_with_its_own_clock() -> None:
    fits = autorange(lambda: (time.sleep(0.05), 0.04), min_total=0.01)
    assert fits.repeats == 1 and fits.warmup_wall is None and fits.own_clock == 0.04


def spin(cpu_seconds: float) -> float:
    """Spin until this process has used ``cpu_seconds`` of CPU (however busy the machine)."""
    end = time.process_time() + cpu_seconds
    while time.process_time() < end:
        pass
    return cpu_seconds


def test_cpu_time_counts_this_process() -> None:
    fits = autorange(lambda: (spin(0.2), None), min_total=0.0)
    assert fits.summary(threads=1)["cpu_time_s"] == pytest.approx(0.2, abs=0.05)


# ---------------------------------------------------------------- beside a busy machine


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU until the block ends."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.3)  # let them start spinning
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def test_a_fit_beside_busy_loops_is_flagged_contended_in_record_and_report(
    tmp_path: Path, tiny_args: list[str]
) -> None:
    cores = os.cpu_count() or 1
    with busy_loops(cores):  # every core busy: whatever the threads, none is free
        result = run_hnnbench(
            [*tiny_args, "system=spring", "trainer=aswim", "timing.min_total_s=0.5"], tmp_path
        )
    assert result.returncode == 0, result.stderr
    (path,) = find_records(tmp_path / "results")
    record = json.loads(path.read_text())
    assert record["contended"] is True, record["timing"]
    timing = record["timing"]
    assert timing["others_cores"] > timing["free_cores"] and "other processes" in timing["reason"]
    assert timing["repeats"] >= 5 and record["cpu_time_s"] > 0
    assert 0 < record["cpu_utilisation"] <= 1.5
    pools = record["environment"]["threadpools"]
    assert any(p["user_api"] == "blas" for p in pools)
    # the report opens with the banner naming the run
    out = build_report([record], tmp_path / "report")
    markdown = (out.out_dir / "report.md").read_text()
    first = next(line for line in markdown.splitlines() if line.startswith("## "))
    assert first == "## Timing caveat: contended runs"
    assert "1 of 1 timed runs shared the machine" in markdown


def test_verdicts_resting_on_contended_runs_say_so() -> None:
    records = claims_records(("pendulum",), energy_method="rapl")
    records[0]["contended"] = True  # one sampled run shared the machine
    found = v.verdicts(m.problems_of(to_frame(records), records))
    marks = {f.claim.key: v.timing_text(f.contended) for f in found}
    assert any(t.startswith("CONTENDED") for t in marks.values())


# ---------------------------------------------------------------- the doctor


def test_doctor_prints_and_saves_what_it_measured(tmp_path: Path, capsys) -> None:
    saved = tmp_path / "doctor.json"
    assert doctor.main(["--json", str(saved), "--window", "0.2", "--no-dgemm"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("hnnbench doctor") and "thread pools (threadpoolctl)" in shown
    diagnosis = json.loads(saved.read_text())
    assert diagnosis["cores"] == os.cpu_count() and diagnosis["memory"]["total_gib"] > 0
    assert diagnosis["others_cores"] is not None and diagnosis["threadpools"]


def test_doctor_refuses_a_busy_machine_when_asked(tmp_path: Path) -> None:
    with busy_loops(os.cpu_count() or 1):
        code = doctor.main(["--window", "0.5", "--no-dgemm", "--refuse-busy"])
    assert code == doctor.BUSY_EXIT


def test_doctor_advice_names_what_to_fix() -> None:
    diagnosis = {"others_cores": 1.5, "steal_cores": 0.0, "window_s": 1.0, "governor": "powersave",
                 "cores": 2, "cores_usable": 2, "memory": {}, "rapl_readable": False}  # fmt: skip
    tips = " ".join(doctor.advice(diagnosis))
    assert doctor.is_busy(diagnosis) and "BUSY" in tips and "powersave" in tips and "RAPL" in tips


def test_doctor_rejects_a_bad_window(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        doctor.main(["--window", "0"])
    assert exit_.value.code == 2 and "--window=0.0 must be > 0" in capsys.readouterr().err

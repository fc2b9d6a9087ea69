"""The per-run estimates of peak memory and run time (hnnbench/resources.py) and the refusal of
a run whose estimated peak exceeds the machine's memory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_errors import one_error_line

from hnnbench.checks import ConfigError
from hnnbench.cli import preflight
from hnnbench.hardware import threads_for
from hnnbench.resources import (
    GiB,
    MiB,
    check_memory,
    estimate_peak_bytes,
    estimate_seconds,
    machine_memory_bytes,
    size_text,
)
from hnnbench.runner import check
from test_config import composed

ROOT = Path(__file__).resolve().parent.parent


def test_a_run_too_large_for_this_machine_is_refused_before_any_work(tmp_path, capsys):
    results = tmp_path / "results"
    with pytest.raises(SystemExit) as exit_:
        preflight(["train_points=100000000000", f"results_dir={results}"])
    assert exit_.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("hnnbench: error: train_points=100000000000, hidden_width=200 needs")
    assert "more than this machine's" in line and "lower train_points" in line
    assert not results.exists()  # refused before the results folder was made


def test_the_largest_part_is_named_and_gelsd_points_to_the_streamed_solver(tmp_path):
    cfg = composed(
        f"results_dir={tmp_path}", "trainer=elm", "trainer.solver=gelsd",
        "train_points=200000", "hidden_width=4000",
    )  # fmt: skip
    peak = estimate_peak_bytes(cfg)
    assert peak > 2 * 200000 * 4000 * 8  # the dense 2nN × M matrix alone
    with pytest.raises(ConfigError) as err:
        check_memory(cfg, available=8 * GiB, where="partition 'cpu''s largest node")
    message = str(err.value)
    assert "(training: " in message and "more than partition 'cpu''s largest node's 8 GB" in message
    assert "trainer.solver=qr_ridge" in message
    check_memory(cfg, available=peak)  # exactly enough passes
    # runner.check applies the same limit
    with pytest.raises(ConfigError, match="needs an estimated"):
        check(cfg, memory=8 * GiB)


def test_estimates_grow_with_the_sizes_and_streaming_beats_dense(tmp_path):
    def peak(*overrides: str) -> int:
        return estimate_peak_bytes(composed(f"results_dir={tmp_path}", *overrides))

    small = peak("trainer=uswim", "train_points=20000", "hidden_width=1000")
    assert small < peak("trainer=uswim", "train_points=20000", "hidden_width=3000")
    assert small < peak("trainer=uswim", "train_points=2000000", "hidden_width=1000")
    dense = peak(
        "trainer=uswim", "trainer.solver=gelsd", "train_points=200000", "hidden_width=2000"
    )
    streamed = peak("trainer=uswim", "train_points=200000", "hidden_width=2000")
    assert streamed < dense / 3
    # a full batch needs more than a mini-batch; the fused loss less than autograd's
    full = peak(
        "trainer=adam", "trainer.batch_size=full", "train_points=50000", "hidden_width=1000"
    )
    assert full > peak("trainer=adam", "train_points=50000", "hidden_width=1000")
    assert full > peak(
        "trainer=adam", "trainer.batch_size=full", "trainer.grad_mode=fused",
        "train_points=50000", "hidden_width=1000",
    )  # fmt: skip
    # the tiny run's peak is the floor
    assert peak("trainer=elm", "train_points=10", "hidden_width=4") >= 400 * MiB


def test_time_estimate_uses_the_budget_and_the_sizes(tmp_path):
    def seconds(*overrides: str) -> float:
        return estimate_seconds(composed(f"results_dir={tmp_path}", *overrides))

    budget = seconds("trainer=adam", "adam_steps=100000000", "adam_max_seconds=600")
    assert 600 < budget < 1000  # the budget plus start-up and evaluation, not 10⁸ steps
    assert seconds("trainer=adam", "adam_steps=100000") > seconds("trainer=adam", "adam_steps=100")
    assert seconds("hidden_width=4000", "train_points=100000") > seconds("hidden_width=200")


def test_memory_limit_of_a_slurm_allocation_and_threads_of_its_cpus(monkeypatch):
    monkeypatch.setenv("SLURM_MEM_PER_NODE", "1024")
    assert machine_memory_bytes() == 1024 * MiB
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert threads_for(None) == 3 and threads_for(2) == 2
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert threads_for(None) >= 1


def test_size_text():
    assert size_text(3.2 * 2**40) == "3.2 TB"
    assert size_text(24 * GiB) == "24 GB"
    assert size_text(1.5 * GiB) == "1.5 GB"
    assert size_text(463 * MiB) == "463 MB"


@pytest.mark.slow  # two runs of ≈ 10 s each in fresh processes (a minute on a shared machine)
@pytest.mark.parametrize("case", ["gelsd_m1000", "adam_full_m1000"])
def test_estimate_is_at_or_a_little_above_the_measured_peak(case, tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import memory

    overrides = [f"name=memory_{case}", *memory.CASES[case]]
    estimated = memory.estimate(overrides)[0]
    measured, _ = memory.measure(overrides, tmp_path)
    assert measured <= estimated <= 1.3 * measured, (measured, estimated)

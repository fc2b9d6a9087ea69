import json
import signal
import subprocess
import time

import pytest

from conftest import hnnbench_command, run_hnnbench
from hnnbench.record import FIELDS, collect, find_records


def records(folder):
    return [json.loads(p.read_text()) for p in find_records(folder)]


def test_multirun_writes_complete_records(tmp_path, tiny_args):
    result = run_hnnbench(
        ["-m", "system=spring,pendulum", "trainer=aswim,adam", *tiny_args], tmp_path
    )
    assert result.returncode == 0, result.stderr
    found = records(tmp_path / "results")
    assert len(found) == 4
    for record in found:
        assert set(FIELDS) <= set(record)
        assert record["status"] == "ok"
        assert record["train_time_s"] > 0 and record["test_H_rel_l2"] < 10
        assert record["energy_kwh"] is None or record["energy_kwh"] > 0
        assert record["energy_method"] in ("rapl", "nvml", "estimated") or record["energy_error"]
        assert record["environment"]["torch"] and record["config"]["hidden_width"] == 16
        env = record["environment"]  # measured at the run's threads, once per process
        assert env["dgemm_n"] == 2000 and 0.1 < env["dgemm_gflops"] < 1e5
        assert len(record["domain"]) == 2 and record["domain"][0][0] < record["domain"][0][1]
        # the default data source, its (untimed) generation measured, no correction
        assert record["data_source"] == "derivatives" and record["correction"] == "none"
        assert record["dt_obs"] is None and record["state_noise_std"] is None
        assert 0 < record["data_time_s"] < record["fit_wall_time_s"] + 10
    kinds = {(r["system"], r["trainer"]) for r in found}
    assert kinds == {(s, t) for s in ("spring", "pendulum") for t in ("sampled", "backprop")}
    adam = [r for r in found if r["method"] == "adam"]
    assert all(r["learning_curve"][-1]["step"] == 30 for r in adam)
    assert all(r["effective_rank"] > 0 for r in found if r["trainer"] == "sampled")
    table = collect(tmp_path / "results")
    assert len(table) == 4 and "test_H_rel_l2" in table.columns


# slow (≈ 1 min idle, the longest test): `make test` stays under 5 minutes; resume without loss
# is also proven on SLURM by `make test-cluster`, which CI runs
@pytest.mark.slow
def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path, tiny_args):
    args = ["-m", "system=spring", "trainer=adam", "seed=0,1,2,3", *tiny_args, "adam_steps=400"]
    process = subprocess.Popen(
        [*hnnbench_command(), *args],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not find_records(tmp_path / "results") and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = find_records(tmp_path / "results")
    assert 1 <= len(first) < 4
    before = {p: p.read_bytes() for p in first}
    result = run_hnnbench(args, tmp_path)
    assert result.returncode == 0, result.stderr
    after = find_records(tmp_path / "results")
    assert len(after) == 4
    assert all(json.loads(p.read_text())["status"] == "ok" for p in after)
    assert len({json.loads(p.read_text())["run_id"] for p in after}) == 4
    assert all(p.read_bytes() == content for p, content in before.items())  # skipped, not redone
    assert not list((tmp_path / "results").rglob(".record-*.tmp"))


def test_failed_run_is_recorded_and_sweep_goes_on(tmp_path, tiny_args):
    result = run_hnnbench(
        [
            "-m",
            "trainer._target_=fault_injection.ExplodingTrainer,hnnbench.trainers.SampledTrainer",
            "system=spring",
            *tiny_args,
        ],
        tmp_path,
    )
    assert result.returncode != 0
    by_status = {r["status"]: r for r in records(tmp_path / "results")}
    assert set(by_status) == {"failed", "ok"}
    assert "injected failure" in by_status["failed"]["error"]
    assert by_status["failed"]["test_H_rel_l2"] is None


def test_unwritable_codecarbon_state_gives_null_energy_with_reason(tmp_path, tiny_args):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    result = run_hnnbench(["system=spring", f"energy.output_dir={blocker}/x", *tiny_args], tmp_path)
    assert result.returncode == 0, result.stderr
    (record,) = records(tmp_path / "results")
    assert record["status"] == "ok"
    assert record["energy_kwh"] is None and "tracker failed to start" in record["energy_error"]


def test_fput_at_dof_32_runs_end_to_end_with_outside_metrics(tmp_path, tiny_args):
    """A 64-dimensional phase space through the whole pipeline (small sizes: seconds)."""
    args = ["system=fput", "system.dof=32", "trainer=aswim", *tiny_args]
    result = run_hnnbench([*args, "evaluation.outside_points=300"], tmp_path)
    assert result.returncode == 0, result.stderr
    (record,) = records(tmp_path / "results")
    assert record["status"] == "ok"
    assert record["system_params"]["dof"] == 32 and len(record["domain"]) == 64
    assert len(record["rollout"]["rollout_initial_states"][0]) == 64
    for name in ("test_H_rel_l2", "test_outside_H_rel_l2", "test_outside_grad_rel_l2"):
        assert 0 < record[name] < 10, name
    assert 0 < record["boundary_valid_prediction_time"] <= 1.0
    assert len(record["rollout"]["boundary_initial_states"]) == 4

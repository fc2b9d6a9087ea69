"""The cluster path on a real SLURM (``make test-cluster``; docs/cluster.md).

A 6-job sweep through ``hydra/launcher=slurm`` with one job cancelled while it runs and the node
drained while jobs wait: the sweep ends with one line naming those jobs and exit status 1,
every finished record intact; the same command, once the node is back, submits only the
missing runs and ends with each of the 6 records present once; the report is built from them.
A run killed at its time limit ends the same way (TIMEOUT), and a longer limit completes it.
A request the partition cannot satisfy is refused before submission in one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hnnbench.record import RECORD_NAME, is_complete

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

#: small runs: Adam stops at its time budget, so each job takes a few seconds plus start-up
RUN = [
    "trainer=adam",
    "adam_max_seconds=3",
    "adam_steps=100000000",
    "hidden_width=32",
    "train_points=400",
    "test_points=200",
    "hardware.threads=1",
    "evaluation.rollouts=2",
    "evaluation.horizon=1.0",
    "evaluation.outside_points=200",
    "evaluation.boundary_rollouts=1",
    "progress=false",
]
#: the launcher's settings for a test: look often, give up on a drained node after 3 s
LAUNCHER = [
    "hydra/launcher=slurm",
    "hydra.launcher.poll_s=1",
    "hydra.launcher.stuck_after_s=3",
    "hydra.launcher.lost_after_s=15",
]


def hnnbench(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).with_name("hnnbench")), "-m", *LAUNCHER, *args]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen, timeout: float = 400) -> tuple[int, str]:
    """Exit status and stderr; the sweep is killed (and the test fails) past ``timeout``."""
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the sweep did not end within {timeout} s:\n{err[-3000:]}")
    return process.returncode, err


def run_slurm(args: list[str], env: dict[str, str], check: bool = True) -> str:
    return subprocess.run(args, env=env, capture_output=True, text=True, check=check).stdout


def tasks(env: dict[str, str]) -> dict[str, str]:
    """Array task id → state, as squeue lists them (ranges expanded)."""
    out = run_slurm(["squeue", "-h", "-r", "-o", "%i %T"], env)
    return dict(line.split() for line in out.splitlines())


def wait_until(predicate, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def complete_records(folder: Path) -> dict[str, dict]:
    """run_id → record of every complete record under ``folder``."""
    found = {}
    for path in folder.glob(f"*/{RECORD_NAME}"):
        if is_complete(path):
            found[path.parent.name] = json.loads(path.read_text())
    return found


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("hnnbench: error:")]


def test_sweep_with_cancel_and_drain_then_resume(slurm, tmp_path):
    env, results = slurm, tmp_path / "results"
    node = slurm_node(env)
    args = [f"results_dir={results}", "name=sweep", "seed=0,1,2,3,4,5", *RUN]
    started = time.monotonic()
    sweep = hnnbench(args, env, tmp_path)
    try:
        # one job cancelled while it runs
        wait_until(lambda: "RUNNING" in tasks(env).values(), "a running job")
        victim = next(job for job, state in tasks(env).items() if state == "RUNNING")
        run_slurm(["scancel", victim], env)
        # the node drained once another job has finished: the jobs still pending cannot start
        wait_until(lambda: complete_records(results / "sweep"), "a finished record")
        drain = ["scontrol", "update", f"nodename={node}", "state=drain", "reason=test"]
        run_slurm(drain, env)
        code, err = finish(sweep)
    finally:
        sweep.kill()  # a no-op when it has ended
        run_slurm(["scontrol", "update", f"nodename={node}", "state=resume"], env, check=False)
    first_seconds = time.monotonic() - started
    assert code == 1, err
    assert "Traceback" not in err
    (line,) = error_lines(err)
    assert f"[SLURM {victim}]: CANCELLED" in line
    assert "no node could start it: drained or down" in line
    assert "Finished records are kept" in line
    assert "[slurm] 6 job(s): 6 pending" in err or "pending" in err  # progress while waiting
    finished = complete_records(results / "sweep")
    failed = int(line.split("hnnbench: error: ")[1].split(" of ")[0])
    assert 1 <= len(finished) == 6 - failed, err

    # the same command again: only the missing runs are submitted, each run ends up once
    started = time.monotonic()
    code, err = finish(hnnbench(args, env, tmp_path))
    rerun_seconds = time.monotonic() - started
    assert code == 0, err
    assert f"{len(finished)} of 6 runs already have a complete record: submitting {failed}" in err
    assert "running" in err and "[sweep] 6/6 runs done" in err
    records = complete_records(results / "sweep")
    assert sorted(r["seed"] for r in records.values()) == [0, 1, 2, 3, 4, 5]
    assert len(list((results / "sweep").glob(f"*/{RECORD_NAME}"))) == 6
    for run_id, record in finished.items():  # untouched by the re-run
        assert records[run_id]["finished_at"] == record["finished_at"]

    report = subprocess.run(
        [str(Path(sys.executable).with_name("hnnbench-report")), str(results / "sweep")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    assert "6 records" in report.stdout
    assert (results / "sweep" / "report" / "report.md").is_file()
    print(f"\nsweep with faults {first_seconds:.0f} s, re-run {rerun_seconds:.0f} s")


@pytest.mark.slow  # ≈ 4 min: SLURM enforces limits in whole minutes, checked every 30 s
def test_time_limit_then_longer_limit(slurm, tmp_path):
    env, results = slurm, tmp_path / "results"
    # Adam's 100 s budget outlasts a 1-minute limit even when slurmctld checks it 30 s late;
    # ELM finishes well within it
    args = [f"results_dir={results}", "name=limit", "trainer=elm,adam", *RUN[1:]]
    args = [a if a != "adam_max_seconds=3" else "adam_max_seconds=100" for a in args]
    code, err = finish(hnnbench([*args, "hydra.launcher.timeout_min=1"], env, tmp_path))
    assert code == 1, err
    (line,) = error_lines(err)
    assert "1 of 2 runs did not finish: #1 trainer=adam" in line and "]: TIMEOUT" in line
    assert "raise hydra.launcher.timeout_min" in line
    assert [r["trainer"] for r in complete_records(results / "limit").values()] == ["sampled"]
    # the derived limit (the budget with a margin) lets it finish; ELM is not run again
    code, err = finish(hnnbench(args, env, tmp_path))
    assert code == 0, err
    assert "1 of 2 runs already have a complete record: submitting 1" in err
    assert len(complete_records(results / "limit")) == 2


def test_request_the_partition_cannot_satisfy_is_refused(slurm, tmp_path):
    args = [f"results_dir={tmp_path}", "seed=0,1", *RUN]
    code, err = finish(hnnbench([*args, "hydra.launcher.mem_gb=100000"], slurm, tmp_path), 120)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hnnbench: error: each job would ask for")
    assert "100000 GB on one node" in err and "partition 'debug'" in err
    code, err = finish(hnnbench([*args, "hardware.threads=64"], slurm, tmp_path), 120)
    assert code == 2 and err.count("\n") == 1 and "64 CPU(s)" in err
    assert not list(tmp_path.glob("**/.submitit"))  # nothing was submitted


def slurm_node(env: dict[str, str]) -> str:
    return run_slurm(["sinfo", "-h", "-o", "%N"], env).split()[0]

"""The SLURM path's logic without a cluster (hnnbench/cluster.py, the launcher plugin, the
preflight's derived request); tests/cluster/ runs it on a real SLURM (``make test-cluster``)."""

from __future__ import annotations

import copy
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from omegaconf import open_dict
from test_errors import one_error_line

from hnnbench.checks import ConfigError
from hnnbench.cli import preflight
from hnnbench.cluster import (
    JobNeeds,
    Tracked,
    Watch,
    in_range,
    minutes_of,
    parse_sinfo,
    plan_request,
    summary,
)
from hnnbench.record import RECORD_NAME
from hnnbench.resources import GiB
from hnnbench.runner import record_path, run
from test_config import composed

SINFO = "debug*|2|21000|infinite|idle|vm\nbig|64|512000|2-00:00:00|mixed|n[1-4]\n"


def test_minutes_of_slurm_time_limits():
    assert minutes_of("infinite") is None and minutes_of("UNLIMITED") is None
    assert minutes_of("30") == 30
    assert minutes_of("30:00") == 30 and minutes_of("1:30") == 2  # minutes:seconds
    assert minutes_of("02:00:00") == 120
    assert minutes_of("1-02:00:00") == 26 * 60


def test_parse_sinfo_picks_the_default_or_named_partition():
    default = parse_sinfo(SINFO, None)
    assert default.name == "debug" and default.time_limit_min is None
    assert default.largest.cpus == 2 and default.largest.memory_mb == 21000
    assert default.usable()
    big = parse_sinfo(SINFO, "big")
    assert big.time_limit_min == 2 * 24 * 60 and big.fits(64, 512000)
    with pytest.raises(ConfigError, match=r"unknown hydra.launcher.partition 'gpu'; allowed: \["):
        parse_sinfo(SINFO, "gpu")
    drained = parse_sinfo("debug*|2|21000|infinite|drained|vm\n", None)
    assert not drained.usable()


LAUNCHER = {"cpus_per_task": None, "mem_gb": None, "timeout_min": None}


def needs(threads=1, peak=GiB, seconds=60.0, label="seed=0"):
    return JobNeeds(label, threads, peak, seconds)


def test_request_is_derived_from_the_runs_and_set_values_are_kept():
    partition = parse_sinfo(SINFO, None)
    request = plan_request(LAUNCHER, [needs(), needs(peak=3 * GiB, seconds=100.0)], partition)
    assert request.cpus == 1
    assert request.mem_gb == 4  # ⌈3 GiB × 1.25 + 256 MiB⌉
    assert request.timeout_min == 9  # ⌈(100 s × 2 + 300 s) / 60⌉
    assert request.overrides() == [
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=4",
        "hydra.launcher.timeout_min=9",
    ]
    assert "4 GB (derived)" in request.describe(2, partition)
    # null threads ("all cores") ask for a whole node; a value set on the command line stays
    kept = plan_request({**LAUNCHER, "mem_gb": 8}, [needs(threads=None)], partition)
    assert kept.cpus == 2 and kept.mem_gb == 8 and "mem_gb" not in kept.derived
    assert "8 GB (as set)" in kept.describe(1, partition)


@pytest.mark.parametrize(
    ("launcher", "jobs", "message"),
    [
        ({"mem_gb": 64}, [needs()], "each job would ask for 1 CPU(s) and 64 GB on one node, "),
        ({"cpus_per_task": 4}, [needs()], "each job would ask for 4 CPU(s)"),
        ({}, [needs(threads=8)], "each job would ask for 8 CPU(s)"),
        ({"mem_gb": 1}, [needs(peak=3 * GiB)], "hydra.launcher.mem_gb=1 is below the estimated"),
        ({"cpus_per_task": 1}, [needs(threads=2)], "hardware.threads=2 (seed=0) is more than"),
    ],
)
def test_a_request_the_partition_cannot_satisfy_is_refused_in_one_line(launcher, jobs, message):
    with pytest.raises(ConfigError) as err:
        plan_request({**LAUNCHER, **launcher}, jobs, parse_sinfo(SINFO, None))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_time_beyond_the_partition_limit_is_refused():
    partition = parse_sinfo("short*|64|512000|1:00:00|idle|n1\n", None)
    with pytest.raises(ConfigError, match="1h40m of time, which partition 'short'"):
        plan_request({**LAUNCHER, "timeout_min": 100}, [needs()], partition)


def test_array_ranges_of_squeue():
    assert in_range("12_5", "12_[4-7,9]") and in_range("12_9", "12_[4-7,9]")
    assert in_range("12_3", "12_[2-5%6]") and not in_range("12_8", "12_[4-7,9]")
    assert not in_range("13_5", "12_[4-7]")


@dataclass
class FakeJob:
    """A submitted job that follows a script of states, one per poll."""

    job_id: str
    states: list[str]
    value: object = None  # what results() returns once COMPLETED
    polls: int = 0
    paths: None = field(default=None)

    @property
    def state(self) -> str:
        return self.states[min(self.polls, len(self.states) - 1)]

    def done(self, force_check: bool = False) -> bool:
        self.polls += 1
        return self.state.split()[0] not in ("PENDING", "RUNNING", "UNKNOWN")

    def results(self) -> list:
        if self.state != "COMPLETED":
            raise RuntimeError("has not produced any output")
        return [self.value]


def watch_of(jobs, **kwargs):
    lines: list[str] = []
    clock = [0.0]
    items = [Tracked(i, f"seed={i}", job) for i, job in enumerate(jobs)]
    watch = Watch(
        items,
        returned=lambda value: (value, value),
        poll_s=1.0,
        print_line=lines.append,
        clock=lambda: clock[0],
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
        **kwargs,
    )
    return watch, items, lines


def test_watch_waits_for_every_job_and_names_those_that_did_not_finish():
    ok = FakeJob("7_0", ["PENDING", "RUNNING", "COMPLETED"], "ok")
    cancelled = FakeJob("7_1", ["RUNNING", "CANCELLED by 0"])
    timeout = FakeJob("7_2", ["PENDING", "RUNNING", "RUNNING", "TIMEOUT"])
    # cancelled while pending inside the array range: sacct's last word was PENDING
    lost = FakeJob("7_3", ["PENDING"])
    watch, items, lines = watch_of(
        [ok, cancelled, timeout, lost],
        lost_after_s=3.0,
        queue=lambda ids: {i for i in ids if i != "7_3"},
        usable=lambda name: True,
    )
    watch.run()
    assert [item.outcome for item in items] == [
        "ok",
        "CANCELLED",
        "TIMEOUT",
        "LOST (neither sacct nor squeue knows it)",
    ]
    assert lines[0].startswith("[slurm] 4 job(s): ") and "pending" in lines[0]
    assert any("1 running, 1 done, 1 failed" in line for line in lines)
    text = summary(items, skipped_before=2)
    assert text.startswith("3 of 6 runs did not finish: #1 seed=1 [SLURM 7_1]: CANCELLED; ")
    assert "#2 seed=2 [SLURM 7_2]: TIMEOUT" in text and "#3 seed=3 [SLURM 7_3]: LOST" in text
    assert "raise hydra.launcher.timeout_min" in text and "\n" not in text
    assert summary(items[:1]) is None


def test_a_job_killed_after_its_run_wrote_a_complete_record_counts_as_done():
    late = FakeJob("8_0", ["RUNNING", "CANCELLED by 0"])
    watch, items, _ = watch_of([late], queue=lambda ids: set(ids), usable=lambda name: True)
    items[0].record_complete = lambda: True
    watch.run()
    assert items[0].outcome == "ok" and summary(items) is None


def test_pending_jobs_on_a_partition_without_a_usable_node_are_cancelled():
    running = FakeJob("9_0", ["RUNNING", "RUNNING", "RUNNING", "COMPLETED"], "ok")
    pending = FakeJob("9_1", ["PENDING"] * 10 + ["CANCELLED by 0"])
    cancelled: list[list[str]] = []
    watch, items, lines = watch_of(
        [running, pending],
        stuck_after_s=2.0,
        queue=lambda ids: set(ids),
        usable=lambda name: False,
        cancel=cancelled.append,
    )
    watch.run()
    assert cancelled == [["9_1"]]
    assert items[0].outcome == "ok"
    assert items[1].outcome.startswith("CANCELLED (pending while no node could start it")
    assert any("no node of the partition can start jobs" in line for line in lines)


def test_record_path_is_where_the_run_writes_its_record(tmp_path, tiny_args):
    cfg = composed(*tiny_args, "trainer=elm", "energy.enabled=false")
    assert run(cfg) == "ok"
    path = record_path(cfg)
    assert path.name == RECORD_NAME and path.is_file()
    # a sweep job's config carries Hydra's node: the same path
    with_hydra = copy.deepcopy(cfg)
    with open_dict(with_hydra):
        with_hydra.hydra = {"job": {"num": 3}, "sweep": {"dir": "${now:%H-%M-%S}"}}
    assert record_path(with_hydra) == path


def fake_sinfo(folder: Path, text: str) -> None:
    script = folder / "sinfo"
    script.write_text(f"#!/bin/sh\nprintf '{text}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_preflight_derives_and_prints_the_request_of_a_slurm_sweep(tmp_path, capsys, monkeypatch):
    fake_sinfo(tmp_path, SINFO.replace("\n", "\\n"))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    base = ["-m", "hydra/launcher=slurm", f"results_dir={tmp_path}", "trainer=elm"]
    extra = preflight([*base, "seed=0,1", "hardware.threads=1"])
    assert extra[:2] == ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]
    # time: the estimated run × 2 + 5 min
    assert extra[2].startswith("hydra.launcher.timeout_min=") and int(extra[2][27:]) >= 6
    err = capsys.readouterr().err
    assert err.startswith("[slurm] 2 job(s), each 1 CPU(s) (derived), 1 GB (derived)")
    assert "partition 'debug': nodes of up to 2 CPUs and 21 GB, no time limit" in err
    # a run too large for the partition's nodes (not this machine's) is refused in one line
    with pytest.raises(SystemExit) as exit_:
        preflight([*base, "train_points=2000000000"])
    assert exit_.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "more than partition 'debug''s largest node's 21 GB" in line


def test_preflight_of_a_slurm_sweep_without_slurm_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sinfo here
    with pytest.raises(SystemExit) as exit_:
        preflight(["-m", "hydra/launcher=slurm", f"results_dir={tmp_path}", "seed=0,1"])
    assert exit_.value.code == 2
    assert "needs SLURM's sinfo on this machine" in one_error_line(capsys.readouterr().err)

"""SLURM sweeps (``hydra/launcher=slurm``, docs/cluster.md): each job's resources derived from
the experiment before submission, the jobs watched until each has ended, one line for the ones
that did not finish.

Before Hydra starts, ``cli.preflight`` asks ``plan_request`` for the sweep's request: cores =
the runs' ``hardware.threads`` (all of a node's CPUs when null), memory = the largest estimated
peak (``resources.py``) × ``MEMORY_MARGIN`` + ``MEMORY_EXTRA``, time = the longest estimated
run × ``TIME_MARGIN`` + ``TIME_EXTRA``; a value set on the command line
(``hydra.launcher.mem_gb=8``) is kept. The request is printed, and refused in one line when the
partition (``sinfo``) cannot run it. All jobs of a sweep share one request (one job array).

The launcher (``hydra_plugins/hnnbench_launcher``) submits only the runs without a complete
record (a re-run resumes), then ``watch`` polls the jobs (SLURM accounting through submitit,
``sacct``) and prints a line whenever the counts change. A job that ends without a result
(cancelled, killed at its time limit, lost, or failed) is summarised in the one line
``summary`` returns, the others keep running to the end, and the sweep exits with status 1;
every finished run's record stays where it was written.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hnnbench.checks import ConfigError
from hnnbench.progress import duration
from hnnbench.resources import GiB, MiB, size_text

#: the request's memory: estimated peak × this + MEMORY_EXTRA (the estimate's spread, the
#: job's own shell and srun)
MEMORY_MARGIN, MEMORY_EXTRA = 1.25, 256 * MiB
#: the request's time: estimated run × this + TIME_EXTRA (queue start-up, a slow node)
TIME_MARGIN, TIME_EXTRA = 2.0, 300.0
#: SLURM states after which a job without a result will not produce one
ENDED = (
    "BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "REVOKED", "TIMEOUT", "COMPLETED",
)  # fmt: skip
#: node states in which a node can start a job
USABLE = ("idle", "mixed", "allocated", "completing", "planned")


def say(text: str) -> None:
    """A progress or plan line on stderr (Hydra's log lines share the terminal)."""
    print(text, file=sys.stderr, flush=True)


def slurm_command(args: Sequence[str]) -> str:
    """The output of a SLURM client command; a ConfigError when it is missing or fails."""
    if shutil.which(args[0]) is None:
        raise ConfigError(
            f"hydra/launcher=slurm needs SLURM's {args[0]} on this machine (not found on PATH); "
            "run the sweep where sbatch works, or use another hydra/launcher"
        )
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise ConfigError(f"`{' '.join(args)}` failed: {message}")
    return done.stdout


def minutes_of(limit: str) -> int | None:
    """SLURM's time limit text ('infinite', '30:00', '1-02:00:00', '5') in minutes; None: none."""
    limit = limit.strip()
    if limit.lower() in ("infinite", "unlimited", "n/a", ""):
        return None
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if len(parts) == 1:  # minutes
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:  # minutes:seconds
        hours, (minutes, seconds) = 0, parts
    else:
        hours, minutes, seconds = parts[-3:]
    return (int(days or 0) * 24 + hours) * 60 + minutes + math.ceil(seconds / 60)


@dataclass(frozen=True)
class NodeGroup:
    """Nodes of a partition alike in size (one ``sinfo`` line)."""

    cpus: int
    memory_mb: int
    state: str
    nodes: str


@dataclass(frozen=True)
class Partition:
    name: str
    time_limit_min: int | None  # None: no limit
    groups: tuple[NodeGroup, ...]

    def fits(self, cpus: int, memory_mb: int) -> bool:
        return any(g.cpus >= cpus and g.memory_mb >= memory_mb for g in self.groups)

    @property
    def largest(self) -> NodeGroup:
        return max(self.groups, key=lambda g: (g.cpus, g.memory_mb))

    def usable(self) -> bool:
        """Whether some node of it can start a job (not all drained, down or failed)."""
        return any(g.state.rstrip("*~#!%$@^-").lower() in USABLE for g in self.groups)

    def describe(self) -> str:
        limit = self.time_limit_min
        time_text = "no time limit" if limit is None else f"time limit {duration(limit * 60)}"
        big = self.largest
        return (
            f"partition {self.name!r}: nodes of up to {big.cpus} CPUs and "
            f"{size_text(big.memory_mb * MiB)}, {time_text}"
        )


def parse_sinfo(text: str, name: str | None) -> Partition:
    """A partition from ``sinfo -h -o '%P|%c|%m|%l|%T|%N'`` lines (``name`` None: the default
    partition, marked '*')."""
    rows = [line.split("|") for line in text.splitlines() if line.count("|") == 5]
    names = sorted({row[0].rstrip("*") for row in rows})
    if name is None:
        defaults = {row[0].rstrip("*") for row in rows if row[0].endswith("*")}
        if not defaults:
            raise ConfigError(
                f"the cluster has no default partition; set hydra.launcher.partition "
                f"(allowed: {names})"
            )
        name = defaults.pop()
    mine = [row for row in rows if row[0].rstrip("*") == name]
    if not mine:
        raise ConfigError(f"unknown hydra.launcher.partition {name!r}; allowed: {names}")
    groups = tuple(
        NodeGroup(int(row[1].rstrip("+")), int(row[2].rstrip("+")), row[4], row[5]) for row in mine
    )
    return Partition(name, minutes_of(mine[0][3]), groups)


def partition_info(name: str | None) -> Partition:
    """The partition ``name`` (None: the cluster's default) as ``sinfo`` describes it."""
    text = slurm_command(["sinfo", "-h", "-o", "%P|%c|%m|%l|%T|%N"])
    return parse_sinfo(text, name)


@dataclass(frozen=True)
class JobNeeds:
    """What one run of the sweep needs (from ``resources.py``)."""

    label: str  # the job's overrides, for messages
    threads: int | None  # hardware.threads; None: all cores of its node
    peak_bytes: int
    seconds: float


@dataclass(frozen=True)
class Request:
    """One job's resources as submitted (sbatch --cpus-per-task, --mem, --time)."""

    cpus: int
    mem_gb: int
    timeout_min: int
    derived: tuple[str, ...]  # which of cpus / mem_gb / timeout_min were derived here
    peak_bytes: int  # the largest estimated peak among the jobs
    seconds: float  # the longest estimated run

    def overrides(self) -> list[str]:
        """The Hydra overrides that submit with the derived values."""
        values = {
            "cpus_per_task": self.cpus,
            "mem_gb": self.mem_gb,
            "timeout_min": self.timeout_min,
        }
        return [f"hydra.launcher.{key}={values[key]}" for key in self.derived]

    def describe(self, jobs: int, partition: Partition) -> str:
        def how(key: str, text: str) -> str:
            return f"{text} (derived)" if key in self.derived else f"{text} (as set)"

        return (
            f"[slurm] {jobs} job(s), each "
            f"{how('cpus_per_task', f'{self.cpus} CPU(s)')}, "
            f"{how('mem_gb', f'{self.mem_gb} GB')} for an estimated peak of "
            f"{size_text(self.peak_bytes)}, "
            f"{how('timeout_min', duration(self.timeout_min * 60))} for an estimated "
            f"{duration(self.seconds)} run; {partition.describe()}"
        )


def plan_request(launcher: Any, needs: Sequence[JobNeeds], partition: Partition) -> Request:
    """The request for every job of a sweep (module docstring); a ConfigError naming the value
    when the partition cannot satisfy it or a set value is below a job's need."""
    derived = []
    cpus = launcher.get("cpus_per_task")
    if cpus is None:
        derived.append("cpus_per_task")
        asked = [n.threads for n in needs]
        cpus = partition.largest.cpus if None in asked else max(t for t in asked if t)
    cpus = int(cpus)
    over = [n for n in needs if n.threads is not None and n.threads > cpus]
    if over:
        raise ConfigError(
            f"hardware.threads={over[0].threads} ({over[0].label}) is more than "
            f"hydra.launcher.cpus_per_task={cpus}: a run must use the cores its job asks for"
        )
    peak = max(n.peak_bytes for n in needs)
    mem_gb = launcher.get("mem_gb")
    if mem_gb is None:
        derived.append("mem_gb")
        mem_gb = max(1, math.ceil((peak * MEMORY_MARGIN + MEMORY_EXTRA) / GiB))
    elif mem_gb * GiB < peak:
        worst = max(needs, key=lambda n: n.peak_bytes)
        raise ConfigError(
            f"hydra.launcher.mem_gb={mem_gb} is below the estimated peak {size_text(peak)} of "
            f"the run {worst.label}; ask for at least {math.ceil(peak / GiB)} GB (or leave it "
            "null: derived)"
        )
    seconds = max(n.seconds for n in needs)
    timeout = launcher.get("timeout_min")
    if timeout is None:
        derived.append("timeout_min")
        timeout = math.ceil((seconds * TIME_MARGIN + TIME_EXTRA) / 60)
    request = Request(cpus, int(mem_gb), int(timeout), tuple(derived), peak, seconds)
    refuse_unsatisfiable(request, partition)
    return request


def refuse_unsatisfiable(request: Request, partition: Partition) -> None:
    """One ConfigError line when no node of the partition has the cores and memory, or the
    time exceeds its limit."""
    problems = []
    if not partition.fits(request.cpus, request.mem_gb * 1024):
        problems.append(f"{request.cpus} CPU(s) and {request.mem_gb} GB on one node")
    limit = partition.time_limit_min
    if limit is not None and request.timeout_min > limit:
        problems.append(f"{duration(request.timeout_min * 60)} of time")
    if problems:
        raise ConfigError(
            f"each job would ask for {' and '.join(problems)}, which {partition.describe()} "
            "cannot give; lower hydra.launcher.cpus_per_task / mem_gb / timeout_min or the "
            "run's sizes, or choose another hydra.launcher.partition"
        )


# -- watching the submitted jobs --------------------------------------------------------------


class SlurmJob(Protocol):
    """What ``watch`` needs of a submitted job (a submitit Job has all of it)."""

    job_id: str

    def done(self, force_check: bool = False) -> bool: ...

    @property
    def state(self) -> str: ...

    def results(self) -> list[Any]: ...


@dataclass
class Tracked:
    """One submitted run and how it ended."""

    number: int  # Hydra's job number
    label: str  # its overrides
    job: SlurmJob
    outcome: str | None = None  # None while it runs; 'ok', 'skipped', 'diverged' or a failure
    result: Any = None  # the JobReturn of a job that returned
    unknown_since: float | None = None  # when sacct and squeue first both lost track of it
    #: whether the run's record is complete (a job may be killed after its run wrote it)
    record_complete: Callable[[], bool] = field(default=lambda: False)

    @property
    def failed(self) -> bool:
        return self.outcome is not None and self.outcome not in ("ok", "skipped", "diverged")


def state_word(state: str) -> str:
    """'CANCELLED by 0' → 'CANCELLED'."""
    return (state or "UNKNOWN").split()[0].upper()


def failure_text(error: BaseException) -> str:
    """The last line of a job's error (submitit's FailedJobError carries the trace)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    trace_end = [line for line in lines if not line.startswith(("-", "You can check", "- "))]
    text = trace_end[-1] if trace_end else type(error).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def has_result(job: Any) -> bool:
    """Whether submitit's result file of ``job`` exists (a job without ``paths``: assume so)."""
    paths = getattr(job, "paths", None)
    return paths is None or paths.result_pickle.exists()


def settle(item: Tracked, returned: Callable[[Any], tuple[str, Any]]) -> None:
    """Record how a finished job ended: its run's status when it returned, else why not; a
    job killed after its run wrote a complete record counts as done (``record_complete``)."""
    state = state_word(item.job.state)
    if state in ENDED and state != "COMPLETED" and not has_result(item.job):
        failure = state  # cancelled, timed out, …: no result will come
    else:
        try:
            results = item.job.results()
        except Exception as err:  # submitit: UncompletedJobError / FailedJobError
            state = state_word(item.job.state)
            unfinished = ("COMPLETED", "RUNNING", "PENDING", "UNKNOWN", "COMPLETING")
            failure = f"failed ({failure_text(err)})" if state in unfinished else state
        else:
            item.outcome, item.result = returned(results[0])
            return
    item.outcome = "ok" if item.record_complete() else failure


@dataclass
class Watch:
    """Polls tracked jobs until every one has ended (``run``)."""

    items: list[Tracked]
    returned: Callable[[Any], tuple[str, Any]]  # a JobReturn → (outcome, result)
    poll_s: float = 5.0
    lost_after_s: float = 120.0  # a job neither sacct nor squeue knows for this long is lost
    stuck_after_s: float = 600.0  # pending while no node of the partition can start jobs
    partition: str | None = None
    print_line: Callable[[str], None] = say
    on_end: Callable[[Tracked], None] = field(default=lambda item: None)
    refresh: Callable[[], None] = field(default=lambda: None)  # fresh job states (one sacct)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    queue: Callable[[list[str]], set[str]] = field(default=lambda ids: queued(ids))
    usable: Callable[[str | None], bool] = field(default=lambda name: partition_usable(name))
    cancel: Callable[[list[str]], None] = field(default=lambda ids: cancel(ids))

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.shown: tuple | None = None
        self.stuck_since: float | None = None

    def run(self) -> list[Tracked]:
        try:
            while True:
                self.poll()
                if all(item.outcome is not None for item in self.items):
                    return self.items
                self.sleep(self.poll_s)
        except KeyboardInterrupt:
            left = [item.job.job_id for item in self.items if item.outcome is None]
            self.print_line(
                f"[slurm] interrupted: {len(left)} job(s) still queued or running on the "
                f"cluster; `scancel {' '.join(left)}` stops them, a re-run keeps their records"
            )
            raise

    def poll(self) -> None:
        self.refresh()
        waiting = [item for item in self.items if item.outcome is None]
        for item in waiting:
            if item.job.done():
                settle(item, self.returned)
                self.on_end(item)
        self.find_lost([item for item in waiting if item.outcome is None])
        self.handle_stuck()
        self.show()

    def states(self) -> dict[str, int]:
        counts = {"pending": 0, "running": 0, "done": 0, "failed": 0}
        for item in self.items:
            if item.outcome is not None:
                counts["failed" if item.failed else "done"] += 1
            elif state_word(item.job.state) == "RUNNING":
                counts["running"] += 1
            else:
                counts["pending"] += 1
        return counts

    def show(self) -> None:
        counts = self.states()
        key = tuple(counts.values())
        if key == self.shown:
            return
        self.shown = key
        parts = ", ".join(f"{value} {name}" for name, value in counts.items() if value)
        elapsed = duration(self.clock() - self.started)
        self.print_line(f"[slurm] {len(self.items)} job(s): {parts} | elapsed {elapsed}")

    def find_lost(self, waiting: list[Tracked]) -> None:
        """A job not ended by sacct's account (unknown to it, or a stale 'PENDING') that
        squeue no longer lists, for ``lost_after_s``: SLURM dropped it. An array task
        cancelled while pending does this: it leaves both squeue and sacct, and sacct's last
        line for its pending range said PENDING."""
        if not waiting:
            return
        listed = self.queue([item.job.job_id for item in waiting])
        now = self.clock()
        for item in waiting:
            if item.job.job_id in listed:
                item.unknown_since = None
                continue
            item.unknown_since = item.unknown_since or now
            if now - item.unknown_since >= self.lost_after_s:
                lost = "LOST (neither sacct nor squeue knows it)"
                item.outcome = "ok" if item.record_complete() else lost
                self.on_end(item)

    def handle_stuck(self) -> None:
        """Jobs pending while no node of the partition can start any (drained, down) are
        cancelled after ``stuck_after_s``, so that the sweep ends instead of waiting."""
        pending = [
            item
            for item in self.items
            if item.outcome is None and state_word(item.job.state) == "PENDING"
        ]
        if not pending or self.usable(self.partition):
            self.stuck_since = None
            return
        now = self.clock()
        if self.stuck_since is None:
            self.stuck_since = now
            self.print_line(
                f"[slurm] no node of the partition can start jobs (drained or down): "
                f"{len(pending)} pending job(s) are cancelled in {duration(self.stuck_after_s)} "
                "unless a node returns"
            )
        elif now - self.stuck_since >= self.stuck_after_s:
            self.cancel([item.job.job_id for item in pending])
            for item in pending:
                item.outcome = "CANCELLED (pending while no node could start it: drained or down)"
                self.on_end(item)
            self.stuck_since = None


#: what to change before the re-run, for the job states a re-run alone would repeat
REMEDIES = {
    "TIMEOUT": "after a TIMEOUT raise hydra.launcher.timeout_min, or leave it null: derived",
    "OUT_OF_MEMORY": "after OUT_OF_MEMORY raise hydra.launcher.mem_gb",
}


def summary(items: Sequence[Tracked], skipped_before: int = 0) -> str | None:
    """None when every job ended with its run's result; else one line naming the jobs that
    did not, and what to do."""
    failed = [item for item in items if item.failed]
    if not failed:
        return None
    total = len(items) + skipped_before
    named = "; ".join(
        f"#{item.number}{' ' + item.label if item.label else ''} "
        f"[SLURM {item.job.job_id}]: {item.outcome}"
        for item in failed
    )
    hints = sorted({REMEDIES[item.outcome] for item in failed if item.outcome in REMEDIES})
    extra = f" ({'; '.join(hints)})" if hints else ""
    return (
        f"{len(failed)} of {total} runs did not finish: {named}. Finished records are kept; "
        f"run the same command again to run only the missing ones{extra}"
    )


def journal_skipped(journal: Any, number: int) -> None:
    """The progress journal's events of a run not submitted because its record is complete."""
    now = time.time()
    journal.append({"event": "start", "job": number, "run": "", "time": now})
    journal.append(
        {"event": "end", "job": number, "status": "skipped", "seconds": 0.0, "time": now}
    )


def journal_end(journal: Any, item: Tracked) -> None:
    """The progress journal's end event of a job that ended without returning (cancelled,
    timed out, lost): the job could not write it itself."""
    if item.failed and item.result is None:
        now = time.time()
        event = {"event": "end", "job": item.number, "status": "failed", "seconds": 0.0}
        journal.append({**event, "time": now})


def queued(ids: list[str]) -> set[str]:
    """Which of the job ids squeue still lists (an array task as '123_4')."""
    if not ids or shutil.which("squeue") is None:
        return set(ids)  # cannot tell: assume still there
    done = subprocess.run(
        ["squeue", "-h", "-o", "%i", "-j", ",".join(ids)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 and "Invalid job id" not in done.stderr:
        return set(ids)
    listed = set(done.stdout.split())
    # a pending array range is listed once, as '123_[4-7]'
    ranges = [entry for entry in listed if "[" in entry]
    return {i for i in ids if i in listed or any(in_range(i, r) for r in ranges)}


def in_range(job_id: str, entry: str) -> bool:
    """Whether array task '123_5' is in squeue's '123_[4-7,9]' (an optional '%limit' too)."""
    array, _, task = job_id.partition("_")
    head, _, spec = entry.partition("_[")
    if head != array or not task.isdigit():
        return False
    for part in spec.rstrip("]").split("%")[0].split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and int(low) <= int(task) <= int(high or low):
            return True
    return False


def partition_usable(name: str | None) -> bool:
    try:
        return partition_info(name).usable()
    except (ConfigError, subprocess.SubprocessError, OSError):
        return True  # cannot tell: keep waiting


def cancel(ids: list[str]) -> None:
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60, check=False)

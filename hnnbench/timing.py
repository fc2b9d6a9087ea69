"""The timed region of a run: wall and process CPU clocks, repeats of short fits, contention.

Timing rules (the same for every trainer; the runner applies them around ``trainer.fit``):

* **Clocks.** Wall time is ``time.perf_counter``; CPU time is the process's user and system time
  (``resource.getrusage``, all threads), so ``cpu_utilisation = CPU / (wall × threads)`` says how
  much of the cores it asked for the fit really used.
* **Short fits are repeated** (timeit's autorange idea): a first fit shorter than
  ``MIN_TOTAL_S`` becomes a warm-up, then the fit is repeated until at least ``MIN_REPEATS``
  repeats and ``MIN_TOTAL_S`` seconds in total; the median is the fit's time, min–max its spread.
  A longer first fit is timed once.
* **Contention.** Over the counted region the machine's CPU time (``/proc/stat``) minus this
  process's is what *other* processes used. The region is ``contended`` when they used more than
  the cores this run left free plus ``SLACK_CORES``, or when the hypervisor stole more than
  ``STEAL_CORES`` (``CONTENTION_RULE`` says it in words; the report and the verdicts read the flag).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

MIN_TOTAL_S = 1.0
MIN_REPEATS = 5
MAX_REPEATS = 1000
#: other processes may use this many cores beyond those the run left free (noise: daemons, ssh)
SLACK_CORES = 0.25
#: hypervisor steal above this many cores on average contends the run
STEAL_CORES = 0.1

CONTENTION_RULE = (
    "contended: during the timed fit other processes used on average more than the cores the "
    f"run left free (cores − threads) + {SLACK_CORES} cores, or the hypervisor stole more than "
    f"{STEAL_CORES} cores (/proc/stat minus the process's own CPU time)"
)

T = TypeVar("T")


@dataclass(frozen=True)
class MachineSample:
    """One reading of the clocks: wall, this process's CPU, the whole machine's CPU."""

    wall: float
    own_cpu: float  # user + system seconds of this process (all threads)
    own_user: float
    own_sys: float
    busy: float | None  # seconds all CPUs spent busy since boot (None: no /proc/stat)
    steal: float | None
    load1: float | None  # 1-minute load average

    @classmethod
    def now(cls) -> MachineSample:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, steal = proc_stat_seconds()
        return cls(
            wall=time.perf_counter(),
            own_cpu=usage.ru_utime + usage.ru_stime,
            own_user=usage.ru_utime,
            own_sys=usage.ru_stime,
            busy=busy,
            steal=steal,
            load1=load_average(),
        )


def proc_stat_seconds(path: Path = Path("/proc/stat")) -> tuple[float | None, float | None]:
    """(busy, steal) CPU seconds of all CPUs since boot; (None, None) off Linux."""
    try:
        fields = path.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None, None
    if fields[0] != "cpu":
        return None, None
    ticks = [int(v) for v in fields[1:]]
    ticks += [0] * (8 - len(ticks))
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    hertz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hertz, steal / hertz


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


@dataclass(frozen=True)
class Contention:
    """What other processes and the hypervisor took while a region ran, and the verdict."""

    others_cores: float | None  # average cores busy with other processes
    steal_cores: float | None
    free_cores: float  # cores the run left free: cpu count − its threads (≥ 0)
    contended: bool
    reason: str


def contention_of(
    start: MachineSample, end: MachineSample, threads: int, cores: int | None = None
) -> Contention:
    """Apply the contention rule to a region between two samples."""
    cores = cores or os.cpu_count() or 1
    wall = max(end.wall - start.wall, 1e-9)
    free = float(max(cores - threads, 0))
    if start.busy is None or end.busy is None or start.steal is None or end.steal is None:
        return Contention(None, None, free, False, "not measurable: no /proc/stat")
    own = end.own_cpu - start.own_cpu
    others = max(end.busy - start.busy - own, 0.0) / wall
    steal = max(end.steal - start.steal, 0.0) / wall
    reasons = []
    if others > free + SLACK_CORES:
        reasons.append(f"other processes used {others:.2f} cores (free: {free:g})")
    if steal > STEAL_CORES:
        reasons.append(f"hypervisor steal {steal:.2f} cores")
    return Contention(others, steal, free, bool(reasons), "; ".join(reasons))


@dataclass
class TimedFits(Generic[T]):
    """The counted fits of a region: the last result, per-fit walls and the region's clocks."""

    result: T
    walls: list[float]
    own_clocks: list[float | None] = field(default_factory=list)
    start: MachineSample | None = None
    end: MachineSample | None = None
    warmup_wall: float | None = None  # the first fit, when it became the warm-up

    @property
    def repeats(self) -> int:
        return len(self.walls)

    @property
    def wall(self) -> float:
        """The fit's time: the median over the counted repeats."""
        return statistics.median(self.walls)

    @property
    def own_clock(self) -> float | None:
        """The median of the trainer's own clock, when it keeps one."""
        clocks = [c for c in self.own_clocks if c is not None]
        return statistics.median(clocks) if len(clocks) == len(self.own_clocks) else None

    def summary(self, threads: int) -> dict[str, Any]:
        """The record's timing fields (per fit: region totals divided by the repeats)."""
        assert self.start is not None and self.end is not None
        n = self.repeats
        user = (self.end.own_user - self.start.own_user) / n
        system = (self.end.own_sys - self.start.own_sys) / n
        region_wall = self.end.wall - self.start.wall
        contention = contention_of(self.start, self.end, threads)
        return {
            "cpu_time_s": user + system,
            "cpu_utilisation": (user + system) * n / (region_wall * threads)
            if region_wall > 0
            else None,
            "contended": contention.contended,
            "timing": {
                "repeats": n,
                "walls_s": self.walls,
                "wall_min_s": min(self.walls),
                "wall_max_s": max(self.walls),
                "warmup_wall_s": self.warmup_wall,
                "region_wall_s": region_wall,
                "cpu_user_s": user,
                "cpu_sys_s": system,
                "load1_start": self.start.load1,
                "load1_end": self.end.load1,
                **{k: v for k, v in asdict(contention).items() if k != "contended"},
                "rule": CONTENTION_RULE,
            },
        }


def autorange(
    fit: Callable[[], tuple[T, float | None]],
    min_total: float = MIN_TOTAL_S,
    min_repeats: int = MIN_REPEATS,
    max_repeats: int = MAX_REPEATS,
    before_counted: Callable[[], None] | None = None,
) -> TimedFits[T]:
    """Time ``fit`` (returning its result and the trainer's own clock, or None) by the rules in
    the module docstring. ``before_counted`` runs (untimed) when a short first fit became the
    warm-up, before the counted repeats: e.g. to restart an energy meter."""
    start = MachineSample.now()
    begin = time.perf_counter()
    result, own = fit()
    first = time.perf_counter() - begin
    if first >= min_total:
        return TimedFits(result, [first], [own], start, MachineSample.now())
    if before_counted is not None:
        before_counted()
    walls: list[float] = []
    clocks: list[float | None] = []
    start = MachineSample.now()
    while len(walls) < max_repeats and (len(walls) < min_repeats or sum(walls) < min_total):
        begin = time.perf_counter()
        result, own = fit()
        walls.append(time.perf_counter() - begin)
        clocks.append(own)
    return TimedFits(result, walls, clocks, start, MachineSample.now(), warmup_wall=first)

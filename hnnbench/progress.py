"""Where a long sweep is: runs done of the total, the run going now, elapsed time, what is left.

``Progress`` is a Hydra callback (``hydra.callbacks`` in ``conf/config.yaml``). In a multirun it
prints one plain line per run to stderr (Hydra's log lines share the terminal, so no bar):

    [run 14/24] system=pendulum trainer=adam seed=1 | elapsed 3m12s | ~2m40s left

and appends the same events to a journal of JSON lines: ``$HNNBENCH_PROGRESS_FILE`` when set,
else ``progress.jsonl`` in the sweep's Hydra folder. ``sweeps.py`` sets that variable for each
sub-experiment, whose output goes to a log file, and reads the journal to show where it is. An
append of one short line is atomic, so the jobs of the joblib launcher, whose callbacks run in
the worker processes, share one journal and one count.

The estimate sums, over the runs left, the mean time of the finished runs of the same kind (the
``trainer=`` choice: a sampled fit and a 20-s Adam run are not averaged together); the run going
now is counted less the time it has had. A kind not timed yet is guessed: its trainer's time cap
(``max_seconds``, e.g. ``adam_max_seconds``) when it has one, else the mean of every finished
run, and the line says so: ``~40s left (adam not timed yet)``. A run skipped because its record
exists (a resumed sweep) counts as done but in no mean. Runs of a parallel launcher are summed as
if they ran one after another.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hnnbench.jobs import sweep_jobs

#: the journal's path, when the caller wants it somewhere known (``sweeps.py``)
JOURNAL_ENV = "HNNBENCH_PROGRESS_FILE"
#: at most this many characters describe the run going now
WHAT_CHARS = 120


def duration(seconds: float) -> str:
    """'42s', '3m12s', '2h05m': short, and exact enough for a progress line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def line(
    unit: str, position: int, total: int | None, what: str, elapsed: float, left: float | None
) -> str:
    """'[run 14/24] system=pendulum seed=1 | elapsed 3m12s | ~2m40s left' (no estimate yet:
    no '~… left'; no total known: '[run 14]')."""
    where = f"{position}/{total}" if total is not None else str(position)
    text = f"[{unit} {where}]" + (f" {what}" if what else "") + f" | elapsed {duration(elapsed)}"
    return text + (f" | ~{duration(left)} left" if left is not None else "")


def kind_of(overrides: Sequence[str], default: str | None) -> str | None:
    """A job's kind: its ``trainer=`` override, else the sweep's trainer choice ``default``."""
    for override in overrides:
        key, _, value = override.partition("=")
        if key == "trainer":
            return value
    return default


@dataclass
class SweepState:
    """A sweep as its journal tells it."""

    total: int | None
    started: float
    kinds: list[str | None] | None = None  # each job's kind, by job number (None: unknown)
    caps: dict[str, float] = field(default_factory=dict)  # kind → its trainer's time cap [s]
    done: int = 0
    skipped: int = 0
    failed: int = 0
    ran: dict[str | None, list[float]] = field(default_factory=dict)  # kind → seconds per run
    ended: set[int] = field(default_factory=set)  # jobs finished (skipped ones included)
    running: dict[int, tuple[str, float]] = field(default_factory=dict)  # job → (what, start)

    def kind(self, job: int) -> str | None:
        return self.kinds[job] if self.kinds is not None and 0 <= job < len(self.kinds) else None

    def apply(self, event: dict[str, Any]) -> None:
        if event["event"] == "start":
            self.running[event["job"]] = (event.get("run", ""), event["time"])
        elif event["event"] == "end":
            self.running.pop(event["job"], None)
            self.ended.add(event["job"])
            self.done += 1
            if event["status"] == "skipped":
                self.skipped += 1
            else:
                self.failed += event["status"] == "failed"
                self.ran.setdefault(self.kind(event["job"]), []).append(event["seconds"])

    def expected(self, kind: str | None) -> tuple[float | None, bool]:
        """(seconds one run of ``kind`` is expected to take, whether that is measured): the
        mean of its finished runs; else its time cap; else the mean of every finished run;
        None when nothing is known."""
        if self.ran.get(kind):
            return statistics.fmean(self.ran[kind]), True
        if kind in self.caps:
            return self.caps[kind], False
        every = [seconds for runs in self.ran.values() for seconds in runs]
        return (statistics.fmean(every), False) if every else (None, False)

    def estimate(self, now: float) -> tuple[float | None, list[str]]:
        """(seconds left, the kinds left that are not timed yet); None before anything is known
        of every kind left (no total, or no run finished and no cap)."""
        if self.total is None:
            return None, []
        left, guessed = 0.0, []
        for job in range(self.total):
            if job in self.ended:
                continue
            kind = self.kind(job)
            seconds, measured = self.expected(kind)
            if seconds is None:
                return None, []
            if not measured and kind is not None and kind not in guessed:
                guessed.append(kind)
            if job in self.running:
                seconds = max(0.0, seconds - (now - self.running[job][1]))
            left += seconds
        return left, guessed

    def left(self, now: float) -> float | None:
        """The estimate of the seconds left (``estimate``)."""
        return self.estimate(now)[0]

    def current(self) -> tuple[int, str] | None:
        """(1-based position, description) of the run started last and still going."""
        if not self.running:
            return None
        job = max(self.running, key=lambda j: self.running[j][1])
        return job + 1, self.running[job][0]

    def line(self, now: float) -> str:
        """Where the sweep is now, as one ``line``."""
        elapsed, (left, guessed) = now - self.started, self.estimate(now)
        current = self.current()
        if current is None:  # between runs, or before the first
            text = line("runs done", self.done, self.total, "", elapsed, left)
        else:
            position, what = current
            text = line("run", position, self.total, what, elapsed, left)
        return text + (f" ({', '.join(guessed)} not timed yet)" if guessed else "")

    def summary(self, now: float) -> str:
        """'3/3 runs done in 12s (1 skipped, 1 failed)'."""
        total = self.total if self.total is not None else self.done
        notes = [f"{n} {word}" for n, word in ((self.skipped, "skipped"), (self.failed, "failed"))]
        notes = [note for note in notes if not note.startswith("0 ")]
        extra = f" ({', '.join(notes)})" if notes else ""
        return f"{self.done}/{total} runs done in {duration(now - self.started)}{extra}"


def parse_journal(lines: Sequence[str]) -> SweepState | None:
    """The state after the last 'sweep' event; None when there is none. A line cut short (a
    writer in the middle of its append) is skipped."""
    state: SweepState | None = None
    for text in lines:
        try:
            event = json.loads(text)
        except ValueError:
            continue
        if event.get("event") == "sweep":
            caps = {k: float(v) for k, v in (event.get("caps") or {}).items()}
            state = SweepState(event.get("total"), event["time"], event.get("kinds"), caps)
        elif state is not None:
            state.apply(event)
    return state


def read_journal(path: Path) -> SweepState | None:
    try:
        return parse_journal(path.read_text().splitlines())
    except OSError:
        return None


class Journal:
    """Events appended to a file, one JSON line each; in memory only when the file cannot be
    written (progress must never stop a sweep)."""

    def __init__(self, path: Path) -> None:
        self.path: Path | None = path
        self.memory: list[str] = []

    def start(self, event: dict[str, Any]) -> None:
        """Begin a new journal with ``event`` (the sweep's)."""
        self.memory = []
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text("")
            except OSError:
                self.path = None
        self.append(event)

    def append(self, event: dict[str, Any]) -> None:
        text = json.dumps(event) + "\n"
        self.memory.append(text)
        if self.path is None:
            return
        try:  # one write() in append mode: concurrent writers never interleave a line
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(handle, text.encode())
            finally:
                os.close(handle)
        except OSError:
            self.path = None

    def state(self) -> SweepState | None:
        if self.path is not None:
            state = read_journal(self.path)
            if state is not None:
                return state
        return parse_journal(self.memory)


def swept_keys(jobs: Sequence[Sequence[str]]) -> set[str]:
    """Keys whose value differs between jobs: what tells one run from another."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for override in job:
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    return {key for key, seen in values.items() if len(seen) > 1}


def describe(overrides: Sequence[str], swept: set[str]) -> str:
    what = " ".join(o for o in overrides if o.partition("=")[0] in swept)
    return what if len(what) <= WHAT_CHARS else what[: WHAT_CHARS - 1] + "…"


def time_caps(
    config: DictConfig, jobs: Sequence[Sequence[str]], kinds: Sequence[str | None]
) -> dict[str, float]:
    """Kind → ``trainer.max_seconds`` of its first job, for the kinds whose trainer has a time
    cap (one composition per kind; a kind that cannot be composed here gets none)."""
    caps: dict[str, float] = {}
    seen: set[str | None] = {None}
    for job, kind in zip(jobs, kinds, strict=True):
        if kind in seen:
            continue
        seen.add(kind)
        try:
            cap = GlobalHydra.instance().config_loader().load_sweep_config(config, list(job))
            seconds = OmegaConf.select(cap, "trainer.max_seconds")
        except Exception:  # progress must never stop a sweep
            continue
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0:
            caps[kind] = float(seconds)
    return caps


def journal_path(config: DictConfig) -> Path:
    """A multirun's journal: ``$HNNBENCH_PROGRESS_FILE``, else ``progress.jsonl`` in its
    Hydra sweep folder."""
    return Path(os.environ.get(JOURNAL_ENV) or Path(config.hydra.sweep.dir) / "progress.jsonl")


class Progress(Callback):
    """Prints where a multirun is and keeps its journal (module docstring); silent for one run."""

    def __init__(self) -> None:
        self.journal: Journal | None = None  # None until a multirun starts
        self.swept: set[str] = set()
        self.job_started = 0.0

    def _print(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        jobs = sweep_jobs(config)
        total = len(jobs) if jobs is not None else None
        self.swept = swept_keys(jobs or [])
        self.journal = Journal(journal_path(config))
        event: dict[str, Any] = {"event": "sweep", "total": total, "time": time.time()}
        if jobs is not None:
            default = OmegaConf.select(config, "hydra.runtime.choices.trainer")
            kinds = [kind_of(job, default) for job in jobs]
            event.update(kinds=kinds, caps=time_caps(config, jobs, kinds))
        self.journal.start(event)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.journal is None:  # a single run: nothing to count
            return
        self.job_started = time.time()
        job = int(config.hydra.job.num)
        overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
        what = describe(overrides, self.swept) if isinstance(overrides, list) else ""
        self.journal.append({"event": "start", "job": job, "run": what, "time": self.job_started})
        state = self.journal.state()
        if state is not None:
            self._print(state.line(time.time()))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self.journal is None:
            return
        if job_return.status == JobStatus.COMPLETED:
            status = str(job_return.return_value)  # the runner's: ok, diverged or skipped
        else:
            status = "failed"
        now = time.time()
        event = {"event": "end", "job": int(config.hydra.job.num), "status": status}
        self.journal.append({**event, "seconds": now - self.job_started, "time": now})
        state = self.journal.state()
        if state is not None and state.total is not None and state.done >= state.total:
            self._print(f"[sweep] {state.summary(now)}")


def fit(text: str, width: int) -> str:
    """``text`` in ``width`` characters, cut in the middle: the head says what, the tail how far
    (elapsed, estimate)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


class StatusLine:
    """One status line: rewritten in place on a terminal; elsewhere (a log, a pipe) printed as
    a plain line each time its ``key`` changes, so the log shows every step once."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.key: Any = None

    def show(self, text: str, key: Any = None) -> None:
        if self.tty:
            self.stream.write("\r" + fit(text, shutil.get_terminal_size().columns - 1) + "\x1b[K")
            self.stream.flush()
        elif key is None or key != self.key:
            print(text, file=self.stream, flush=True)
        self.key = key

    def end(self, text: str) -> None:
        """The final line, kept (on a terminal it replaces the status line)."""
        if self.tty:
            self.stream.write("\r\x1b[K")
        print(text, file=self.stream, flush=True)
        self.key = None

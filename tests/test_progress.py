"""Long work says where it is: runs done / total, the current run, elapsed and an estimate left."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from conftest import run_hnnbench
from hnnbench import sweeps
from hnnbench.progress import (
    Journal,
    StatusLine,
    duration,
    fit,
    line,
    parse_journal,
    read_journal,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (60, "1m00s"), (192, "3m12s"), (3600, "1h00m"), (7500, "2h05m")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_line_format() -> None:
    text = line("run", 14, 24, "system=pendulum trainer=adam seed=1", 192, 160)
    assert text == "[run 14/24] system=pendulum trainer=adam seed=1 | elapsed 3m12s | ~2m40s left"
    assert line("run", 1, None, "", 5, None) == "[run 1] | elapsed 5s"


def events(*items: dict) -> list[str]:
    return [json.dumps(item) for item in items]


def test_journal_state_counts_skipped_runs_as_done_but_not_in_the_mean() -> None:
    journal = events(
        {"event": "sweep", "total": 99, "time": 0.0},  # an earlier sweep: forgotten
        {"event": "sweep", "total": 5, "time": 100.0},
        {"event": "start", "job": 0, "run": "seed=0", "time": 100.0},
        {"event": "end", "job": 0, "status": "skipped", "seconds": 0.1, "time": 100.1},
        {"event": "start", "job": 1, "run": "seed=1", "time": 100.1},
        {"event": "end", "job": 1, "status": "ok", "seconds": 10.0, "time": 110.1},
        {"event": "start", "job": 2, "run": "seed=2", "time": 110.1},
        {"event": "end", "job": 2, "status": "failed", "seconds": 20.0, "time": 130.1},
        {"event": "start", "job": 3, "run": "seed=3", "time": 130.1},
    ) + ['{"event": "end", "job": 3, "sta']  # a writer caught mid-line
    state = parse_journal(journal)
    assert state is not None
    assert (state.total, state.done, state.skipped, state.failed) == (5, 3, 1, 1)
    assert state.current() == (4, "seed=3")
    # mean of the runs that ran, 15 s, × 2 runs left, less the 5 s the current one has had
    assert state.left(135.1) == pytest.approx(25.0)
    assert state.line(135.1) == "[run 4/5] seed=3 | elapsed 35s | ~25s left"
    assert state.summary(135.1) == "3/5 runs done in 35s (1 skipped, 1 failed)"
    state.apply({"event": "end", "job": 3, "status": "ok", "seconds": 5.0, "time": 135.1})
    assert state.line(135.1) == "[runs done 4/5] | elapsed 35s | ~12s left"
    assert parse_journal(events({"event": "start", "job": 0, "time": 1.0})) is None


def test_the_estimate_is_per_kind_so_a_backprop_run_is_not_priced_as_a_sampled_one() -> None:
    """Bench's case: fast sampled fits, then 20-s Adam runs; the mean of all runs undercounts."""
    kinds = ["aswim", "aswim", "adam", "adam", "adam"]
    journal = events(
        {"event": "sweep", "total": 5, "time": 0.0, "kinds": kinds, "caps": {}},
        {"event": "start", "job": 0, "run": "trainer=aswim seed=0", "time": 0.0},
        {"event": "end", "job": 0, "status": "ok", "seconds": 2.0, "time": 2.0},
        {"event": "start", "job": 1, "run": "trainer=aswim seed=1", "time": 2.0},
        {"event": "end", "job": 1, "status": "ok", "seconds": 2.0, "time": 4.0},
        {"event": "start", "job": 2, "run": "trainer=adam seed=0", "time": 4.0},
    )
    state = parse_journal(journal)
    assert state is not None
    # Adam not timed yet and no cap: guessed from the mean run (2 s), and the line says so
    assert state.estimate(5.0) == (pytest.approx(5.0), ["adam"])  # 1 s + 2 s + 2 s
    assert state.line(5.0).endswith("| elapsed 5s | ~5s left (adam not timed yet)")
    state.apply({"event": "end", "job": 2, "status": "ok", "seconds": 20.0, "time": 24.0})
    # two Adam runs left at Adam's 20 s each, not at the 8 s mean of all three runs
    assert state.estimate(24.0) == (pytest.approx(40.0), [])
    assert state.line(24.0) == "[runs done 3/5] | elapsed 24s | ~40s left"


def test_a_kind_not_timed_yet_is_guessed_from_its_time_cap() -> None:
    journal = events(
        {
            "event": "sweep",
            "total": 3,
            "time": 0.0,
            "kinds": ["elm", "lbfgs", "lbfgs"],
            "caps": {"lbfgs": 30},
        },  # fmt: skip
        {"event": "start", "job": 0, "run": "", "time": 0.0},
    )
    state = parse_journal(journal)
    assert state is not None
    assert state.estimate(1.0) == (None, [])  # elm: nothing known yet
    state.apply({"event": "end", "job": 0, "status": "ok", "seconds": 1.0, "time": 1.0})
    assert state.estimate(1.0) == (pytest.approx(60.0), ["lbfgs"])
    state.apply({"event": "start", "job": 1, "run": "", "time": 1.0})
    assert state.left(11.0) == pytest.approx(50.0)  # 20 s to its cap, then 30 s


def test_journal_file_is_shared_and_falls_back_to_memory(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "progress.jsonl"
    Journal(path).start({"event": "sweep", "total": 2, "time": 0.0})
    other = Journal(path)  # as another process would append
    other.append({"event": "start", "job": 0, "run": "", "time": 1.0})
    state = read_journal(path)
    assert state is not None and state.current() == (1, "")
    unwritable = Journal(tmp_path / "a_file" / "progress.jsonl")
    (tmp_path / "a_file").write_text("")
    unwritable.start({"event": "sweep", "total": 1, "time": 0.0})
    state = unwritable.state()
    assert unwritable.path is None and state is not None and state.total == 1


def test_fit_cuts_the_middle() -> None:
    assert fit("abcdef", 6) == "abcdef"
    assert fit("[experiment 1/2 name: run 3/9] | elapsed 5s | ~9s left", 30) == (
        "[experiment 1/…d 5s | ~9s left"
    )
    assert len(fit("x" * 100, 79)) == 79


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_plain_lines_off_a_terminal_and_in_place_on_one() -> None:
    plain = io.StringIO()
    status = StatusLine(plain)
    status.show("a 1", key=1)
    status.show("a 1 later", key=1)  # same step: not repeated
    status.show("b", key=2)
    status.end("done")
    assert plain.getvalue() == "a 1\nb\ndone\n"
    terminal = FakeTerminal()
    status = StatusLine(terminal)
    status.show("a 1", key=1)
    status.show("a 1 later", key=1)
    status.end("done")
    text = terminal.getvalue()
    assert text.startswith("\ra 1\x1b[K\ra 1 later\x1b[K") and text.endswith("\r\x1b[Kdone\n")


def sweep(args: list[str], tmp_path: Path) -> tuple[str, Path]:
    """(stderr, progress journal) of a sweep that must succeed (``tiny_args``: name t)."""
    result = run_hnnbench(args, tmp_path)
    assert result.returncode == 0, result.stderr
    (journal,) = (tmp_path / "results" / "t" / "hydra").glob("*/progress.jsonl")
    return result.stderr, journal


def test_a_sweep_prints_one_line_per_run_and_counts_a_resumed_run_as_done(
    tmp_path: Path, tiny_args: list[str]
) -> None:
    args = ["-m", "system=spring", "trainer=aswim", "seed=0,1,2", *tiny_args]
    stderr, journal = sweep(args, tmp_path)
    progress = [text for text in stderr.splitlines() if text.startswith("[")]
    assert re.fullmatch(r"\[run 1/3\] seed=0 \| elapsed \d+s", progress[0]), progress
    assert re.fullmatch(r"\[run 2/3\] seed=1 \| elapsed \d+s \| ~\d+s left", progress[1])
    assert re.fullmatch(r"\[run 3/3\] seed=2 \| elapsed \d+s \| ~\d+s left", progress[2])
    assert re.fullmatch(r"\[sweep\] 3/3 runs done in \d+s", progress[3])
    assert read_journal(journal).done == 3
    again = run_hnnbench(args, tmp_path)  # every record exists: all three are skipped
    assert again.returncode == 0, again.stderr
    assert re.search(r"^\[sweep\] 3/3 runs done in \d+s \(3 skipped\)$", again.stderr, re.M)


def test_a_mixed_sweep_journals_each_jobs_kind_and_the_backprop_time_cap(
    tmp_path: Path, tiny_args: list[str]
) -> None:
    args = ["-m", "system=spring", "trainer=aswim,adam", "adam_max_seconds=7", *tiny_args]
    stderr, journal = sweep(args, tmp_path)
    first = json.loads(journal.read_text().splitlines()[0])
    assert (first["kinds"], first["caps"]) == (["aswim", "adam"], {"adam": 7.0})
    progress = [text for text in stderr.splitlines() if text.startswith("[run 2/2]")]
    assert re.fullmatch(r"\[run 2/2\] trainer=adam \| elapsed \d+s \| ~[67]s left "
                        r"\(adam not timed yet\)", progress[0]), progress  # fmt: skip


FAKE_SWEEP = """
import os, sys, time
from hnnbench.progress import Journal
journal = Journal(__import__("pathlib").Path(os.environ["HNNBENCH_PROGRESS_FILE"]))
journal.start({"event": "sweep", "total": 2, "time": time.time()})
for job in range(2):
    start = time.time()
    journal.append({"event": "start", "job": job, "run": f"seed={job}", "time": start})
    time.sleep(0.4)
    end = time.time()
    journal.append({"event": "end", "job": job, "status": "ok", "seconds": end - start,
                    "time": end})
"""


def test_pipeline_shows_where_each_sub_experiment_is(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sweeps, "hnnbench_command", lambda: [sys.executable, "-c", FAKE_SWEEP])
    monkeypatch.setattr(sweeps, "POLL_SECONDS", 0.05)
    plan = [("one", []), ("two", [])]
    results = sweeps.run_all(plan, tmp_path, tmp_path / "logs", tmp_path / "runs.json", "t")
    assert [r.returncode for r in results] == [0, 0]
    lines = capsys.readouterr().err.splitlines()
    one = [text for text in lines if text.startswith("[t] experiment 1/2 one: ")]
    assert one[0] == f"[t] experiment 1/2 one: started, log {tmp_path / 'logs' / 'one'}.log"
    assert any(re.search(r": \[run 1/2\] seed=0 \| elapsed 0s$", text) for text in one), one
    assert any(re.search(r": \[run 2/2\] seed=1 \| elapsed 0s \| ~0s left$", text) for text in one)
    assert re.fullmatch(r".*: exit 0 after \d+s; 2/2 runs done in \d+s", one[-1]), one
    assert len(one) == len(set(one))  # one line per step, not one per look
    assert any(text.startswith("[t] experiment 2/2 two: exit 0 after") for text in lines)


@pytest.mark.slow
def test_parallel_launcher_shares_one_count(tmp_path: Path, tiny_args: list[str]) -> None:
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "system=spring",
            "trainer=aswim", "seed=0,1,2,3", *tiny_args]  # fmt: skip
    result = run_hnnbench(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\[sweep\] 4/4 runs done in \d+s$", result.stderr, re.M), result.stderr

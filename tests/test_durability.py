"""Records survive bad endings: a truncated record is redone, a full disk loses nothing earlier."""

from __future__ import annotations

import json
import re
import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_hnnbench
from hnnbench.record import find_records, read_record

RECORD_PATH = r"\S*/results/t/[0-9a-f]{16}/record\.json"


@pytest.fixture(autouse=True)
def _git_leaves_the_index_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # the runner's `git status` (commit provenance) would refresh this checkout's index under
    # the file-size limit, fail, and leave a stale index.lock that blocks every later git command
    monkeypatch.setenv("GIT_OPTIONAL_LOCKS", "0")


def file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: writes past ``limit`` bytes fail with EFBIG, as on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def no_temporary_files(folder: Path) -> bool:
    return not list(folder.rglob(".record-*.tmp"))


def test_rerun_replaces_a_truncated_record(tmp_path: Path, tiny_args: list[str]) -> None:
    args = ["system=spring", "trainer=aswim", "save_model=false", *tiny_args]
    assert run_hnnbench(args, tmp_path).returncode == 0
    (path,) = find_records(tmp_path / "results")
    first = json.loads(path.read_text())
    path.write_text(path.read_text()[:200])  # as a crash in a non-atomic copy would leave it
    assert read_record(path) is None
    result = run_hnnbench(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stdout + result.stderr  # redone, not taken as complete
    (again,) = find_records(tmp_path / "results")
    record = json.loads(again.read_text())
    assert again == path and record["run_id"] == first["run_id"] and record["status"] == "ok"
    assert record["started_at"] > first["finished_at"]
    assert no_temporary_files(tmp_path / "results")


# ≈ 14 s (three sweeps in subprocesses): in make test-slow; a record that cannot be written is
# also covered in make test by test_failed_run_whose_record_cannot_be_written_reports_both
@pytest.mark.slow
def test_full_disk_during_a_sweep_keeps_earlier_records(
    tmp_path: Path, tiny_args: list[str]
) -> None:
    results = tmp_path / "results"
    args = ["trainer=aswim", "save_model=true", *tiny_args]
    first = run_hnnbench(["-m", "system=spring", *args], tmp_path)
    assert first.returncode == 0, first.stderr
    (kept,) = find_records(results)
    kept_bytes = kept.read_bytes()
    hydra_files = max(p.stat().st_size for p in (results / "t" / "hydra").rglob("*") if p.is_file())
    # a limit that Hydra's own files, the model and codecarbon's CSV fit under, but not a record
    assert hydra_files + 1000 < len(kept_bytes)
    limit = (hydra_files + len(kept_bytes)) // 2

    sweep = ["-m", "system=spring,pendulum", *args]
    full = run_hnnbench(sweep, tmp_path, preexec_fn=file_size_limit(limit))
    assert full.returncode != 0
    message = re.compile(rf"could not write {RECORD_PATH}: .*the file-size limit .* was hit")
    lines = [line for line in full.stderr.splitlines() if message.search(line)]
    assert lines, full.stderr
    assert str(kept) not in lines[0]  # the new run's record, not the skipped earlier one
    assert kept.read_bytes() == kept_bytes and read_record(kept)["status"] == "ok"
    assert find_records(results) == [kept]
    assert no_temporary_files(results)

    # with room again, the same sweep redoes only the run whose record was lost
    again = run_hnnbench(sweep, tmp_path)
    assert again.returncode == 0, again.stderr
    assert kept.read_bytes() == kept_bytes
    records = [read_record(p) for p in find_records(results)]
    assert sorted(r["system"] for r in records if r["status"] == "ok") == ["pendulum", "spring"]


def test_failed_run_whose_record_cannot_be_written_reports_both(
    tmp_path: Path, tiny_args: list[str]
) -> None:
    # a single run without Hydra's .hydra/ files, so the limit can sit below a failed record;
    # width 200 makes the model's .npz the first write past the limit (the run fails there)
    args = [*tiny_args, "system=spring", "save_model=true", "hidden_width=200"]
    result = run_hnnbench(
        [*args, "hydra.output_subdir=null"], tmp_path, preexec_fn=file_size_limit(2000)
    )
    assert result.returncode != 0
    failed = [line for line in result.stderr.splitlines() if line.startswith("hnnbench.runner")]
    assert len(failed) == 1, result.stderr
    assert re.search(
        rf"RunFailed: run [0-9a-f]{{16}} failed: OSError: .*File too large; its record not "
        rf"written: .*could not write {RECORD_PATH}: .*the file-size limit",
        failed[0],
    ), failed[0]
    assert not find_records(tmp_path / "results") and no_temporary_files(tmp_path / "results")

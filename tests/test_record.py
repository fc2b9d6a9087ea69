import errno
import json
import os

import pandas as pd
import pytest

from hnnbench.record import (
    FIELDS,
    collect,
    collect_main,
    is_complete,
    load_records,
    read_record,
    run_id_of,
    scan_records,
    write_atomic,
)


def make_record(**fields):
    return {**dict.fromkeys(FIELDS), "schema_version": 1, **fields}


def test_run_id_ignores_output_paths_only():
    base = {"hidden_width": 10, "results_dir": "a", "name": "x"}
    assert run_id_of(base) == run_id_of({**base, "results_dir": "b", "name": "y"})
    assert run_id_of(base) != run_id_of({**base, "hidden_width": 11})


def test_atomic_write_and_completion(tmp_path):
    path = tmp_path / "r" / "record.json"
    write_atomic(path, make_record(run_id="a", status="failed", test_H_rel_l2=float("nan")))
    assert not is_complete(path)
    assert json.loads(path.read_text())["test_H_rel_l2"] == "nan"
    write_atomic(path, make_record(run_id="a", status="ok"))
    assert is_complete(path)
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]


def test_incomplete_record_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks schema fields"):
        write_atomic(tmp_path / "record.json", {"run_id": "a"})


def test_collect_makes_a_tidy_table(tmp_path):
    for i, status in enumerate(["ok", "failed"]):
        write_atomic(
            tmp_path / str(i) / "record.json",
            make_record(
                run_id=str(i),
                status=status,
                test_H_rel_l2=1e-3 if i == 0 else "inf",
                system_params={"m": 1.0},
                environment={"cpu_model": "x"},
            ),
        )
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "record.json").write_text("{broken")
    table = collect(tmp_path)
    assert len(table) == 2
    assert table["test_H_rel_l2"].dtype.kind == "f"
    assert table.loc[table.status == "failed", "test_H_rel_l2"].iloc[0] == float("inf")
    assert "env_cpu_model" in table.columns


def test_unreadable_records_are_scanned_with_reasons(tmp_path):
    good = tmp_path / "good" / "record.json"
    write_atomic(good, make_record(run_id="g", status="ok"))
    text = good.read_text()
    bad = {
        "truncated": (text[: len(text) // 2], "invalid JSON: "),
        "empty": ("", "empty file"),
        "list": ("[1, 2]", "not a JSON object but a list"),
        "binary": (b"\xff\xfe\x00", "not UTF-8 text (byte 0)"),
    }
    for name, (content, _) in bad.items():
        path = tmp_path / name / "record.json"
        path.parent.mkdir()
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    scan = scan_records(tmp_path)
    assert [r["run_id"] for r in scan.records] == ["g"] and load_records(tmp_path) == scan.records
    reasons = {b.path.parent.name: b.reason for b in scan.bad}
    assert set(reasons) == set(bad)
    for name, (_, reason) in bad.items():
        assert reasons[name].startswith(reason)
        path = tmp_path / name / "record.json"
        assert read_record(path) is None and not is_complete(path)  # '[1, 2]' used to crash
    assert reasons["truncated"].endswith("(the file looks truncated)")


def test_collect_main_warns_about_unreadable_records(tmp_path, capsys):
    write_atomic(tmp_path / "a" / "record.json", make_record(run_id="a", status="ok"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "record.json").write_text('{"run_id": "b", "sta')
    assert collect_main([str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert f"warning: skipped unreadable run record {tmp_path / 'b' / 'record.json'}" in err
    assert len(pd.read_csv(tmp_path / "runs.csv")) == 1


def test_failed_write_names_the_record_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "r" / "record.json"
    write_atomic(path, make_record(run_id="a", status="ok"))
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match=r"could not write .*record\.json: .*the disk is full") as err:
        write_atomic(path, make_record(run_id="a", status="failed"))
    assert err.value.errno == errno.ENOSPC and str(path) in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__  # one error, not three
    assert path.read_bytes() == before  # the old record survives a failed replacement
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]

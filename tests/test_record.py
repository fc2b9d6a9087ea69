import json

import pytest

from hnnbench.record import FIELDS, collect, is_complete, run_id_of, write_atomic


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

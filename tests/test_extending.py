"""The docs' "Adding a trainer" example, run exactly as shown, from outside the checkout.

The page (docs/extending.md) includes the example's files from docs/examples/extending/ at build
time, so what a reader sees is what this test copies and runs.
"""

import json
from pathlib import Path

from conftest import ROOT, run_hnnbench
from hnnbench.record import find_records

EXAMPLE = ROOT / "docs" / "examples" / "extending"
PAGE = ROOT / "docs" / "extending.md"


def example_files() -> dict[str, str]:
    """The example's files by their path inside the example folder."""
    files = sorted(p for p in EXAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {p.relative_to(EXAMPLE).as_posix(): p.read_text() for p in files}


def test_the_page_shows_every_example_file():
    page = PAGE.read_text()
    for name in example_files():
        assert f'--8<-- "docs/examples/extending/{name}"' in page, name
        assert f'title="{name}"' in page, name


def test_docs_trainer_example_runs_and_nulls_the_h_metrics(tmp_path, tiny_args, monkeypatch):
    files = example_files()
    assert set(files) == {"my_trainers.py", "my_conf/trainer/linear.yaml"}
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # run_hnnbench prepends the checkout
    result = run_hnnbench(
        ["hydra.searchpath=[file://my_conf]", "trainer=linear", "system=spring", *tiny_args],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (path,) = find_records(tmp_path / "results")
    record = json.loads(Path(path).read_text())
    assert record["status"] == "ok" and record["method"] == "linear"
    assert record["trainer"] == "sampled"
    assert record["test_H_rel_l2"] is None and record["test_grad_rel_l2"] is None
    assert record["test_xdot_rel_l2"] < 1e-12  # the spring's vector field is linear
    assert record["rollout_rel_error_final"] < 1e-9 and record["energy_drift"] is not None

"""The README's "Adding a trainer" example, run exactly as written, from outside the checkout."""

import json
import re
from pathlib import Path

from conftest import ROOT, run_hnnbench
from hnnbench.record import find_records


def readme_files() -> dict[str, str]:
    """Fenced blocks of the README's "Adding a trainer" section whose first line names a file."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Adding a trainer", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\w*\n# (\S+)\n(.*?)```", section, flags=re.S)
    return {name: body for name, body in blocks}


def test_readme_trainer_example_runs_and_nulls_the_h_metrics(tmp_path, tiny_args, monkeypatch):
    files = readme_files()
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

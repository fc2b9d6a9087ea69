"""A built wheel works anywhere: fresh virtual environment, run from a folder outside the checkout.

The new environment reuses the test environment's dependencies through a .pth line (so nothing is
downloaded), but hnnbench itself comes only from the wheel: the test checks where it imports from.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "results", "build", "dist", "*.egg-info", ".*cache"
)


def run(command: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("src") / "hnnbench"
    shutil.copytree(ROOT, source, symlinks=True, ignore=IGNORED)
    out = source.parent / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
         str(source)],
        cwd=source.parent,
    )  # fmt: skip
    (built,) = out.glob("hnnbench-*.whl")
    return built


def test_wheel_ships_configs_and_systems_inside_the_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "hnnbench/conf/config.yaml" in names
    assert "hnnbench/conf/experiment/smoke.yaml" in names
    assert "hnnbench/conf/trainer/aswim.yaml" in names
    assert "hnnbench/systems/pendulum.py" in names
    assert "hnnbench/data/paper_tables.csv" in names
    assert "hydra_plugins/hnnbench_sweeper/__init__.py" in names  # the grid sweeper
    assert "hnnbench/data/hnn_tasks_tables.csv" in names
    tops = {name.split("/")[0] for name in names if not name.startswith("hnnbench-")}
    # no bare top-level `systems` or `conf`; Hydra finds plugins only in hydra_plugins
    assert tops == {"hnnbench", "hydra_plugins"}


def test_wheel_in_fresh_venv_runs_smoke_and_report_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp_path,
    ).stdout.strip()
    # the test environment's dependencies, after the new environment's own site-packages
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        cwd=tmp_path,
    )  # fmt: skip
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = run([str(python), "-c", "import hnnbench; print(hnnbench.__file__)"], cwd=work)
    assert where.stdout.startswith(str(venv)), where.stdout
    run(
        [str(venv / "bin" / "hnnbench"), "-m", "experiment=smoke", "results_dir=out",
         "progress=false", "adam_steps=20"],
        cwd=work,
    )  # fmt: skip
    records = sorted((work / "out" / "smoke").rglob("record.json"))
    assert len(records) == 4
    report = run([str(venv / "bin" / "hnnbench-report"), "out/smoke"], cwd=work)
    assert "4 records" in report.stdout
    assert "## Summary" in (work / "out" / "smoke" / "report" / "report.md").read_text()

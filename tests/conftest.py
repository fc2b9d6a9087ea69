import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "hnnbench" / "conf"


def hnnbench_command() -> list[str]:
    """The console script when installed next to this Python, else ``python -m hnnbench``."""
    script = Path(sys.executable).with_name("hnnbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hnnbench"]


def run_hnnbench(args: list[str], tmp_path: Path, **kwargs) -> subprocess.CompletedProcess:
    return run_command([*hnnbench_command(), *args], tmp_path, **kwargs)


def run_python(args: list[str], tmp_path: Path, **kwargs) -> subprocess.CompletedProcess:
    """``python ARGS`` with this interpreter (e.g. ``-m hnnbench.claims …``)."""
    return run_command([sys.executable, *args], tmp_path, **kwargs)


def run_command(command: list[str], tmp_path: Path, **kwargs) -> subprocess.CompletedProcess:
    # the checkout under test first, so subprocesses import the same code as the tests
    paths = [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    return subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def markdown_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table row (unescaped pipes split cells; padding stripped)."""
    return [
        [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in markdown.splitlines()
        if line.startswith("|")
    ]


@pytest.fixture
def tiny_args(tmp_path):
    """Overrides that make a run take about a second."""
    return [
        f"results_dir={tmp_path / 'results'}",
        "name=t",
        "hidden_width=16",
        "train_points=200",
        "test_points=100",
        "evaluation.rollouts=2",
        "evaluation.horizon=1.0",
        "evaluation.dt=0.05",
        "adam_steps=30",
        "progress=false",
        "timing.min_total_s=0",  # time each fit once: the repeat rule has its own tests
    ]


@pytest.fixture(autouse=True, scope="session")
def _no_stray_codecarbon_files():
    yield
    for leftover in (ROOT / "emissions.csv", ROOT / ".codecarbon.config.lock"):
        if leftover.exists() and leftover.is_file():
            leftover.unlink()
    shutil.rmtree(ROOT / "outputs", ignore_errors=True)

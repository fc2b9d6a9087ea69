"""A throwaway one-node SLURM cluster for the tests in this folder (``make test-cluster``).

The session fixture ``slurm`` brings it up with ``slurm.sh up`` (installing the Debian packages
on a fresh machine), points ``SLURM_CONF`` at it and brings it down afterwards, asserting that
none of the daemons it started still runs. Its own folder and ports (``CLUSTER_DIR``,
``CLUSTER_PORT``) keep it apart from a cluster started by hand with the script's defaults.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "slurm.sh"
CLUSTER_DIR = os.environ.get("HNNBENCH_TEST_SLURM_DIR", "/tmp/hnnbench-slurm-test")
CLUSTER_PORT = os.environ.get("HNNBENCH_TEST_SLURM_PORT", "6827")


def script(action: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HNNBENCH_SLURM_DIR": CLUSTER_DIR, "HNNBENCH_SLURM_PORT": CLUSTER_PORT}
    return subprocess.run(
        ["bash", str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def slurm() -> Iterator[dict[str, str]]:
    """The cluster's environment (``SLURM_CONF``), for the commands the tests run."""
    if os.geteuid() != 0:
        pytest.skip("the cluster tests start munged, MariaDB and SLURM daemons: run as root")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("SLURM is not installed and there is no apt-get to install it")
    up = script("up")
    if up.returncode != 0:
        script("down", timeout=120)
        pytest.fail(f"slurm.sh up failed:\n{up.stderr[-3000:]}")
    env = {**os.environ, "SLURM_CONF": f"{CLUSTER_DIR}/slurm.conf"}
    try:
        yield env
    finally:
        down = script("down", timeout=120)
        status = script("status", timeout=60)
        running = [line for line in status.stdout.splitlines() if not line.endswith(" -")]
        assert down.returncode == 0, down.stderr
        assert not running, f"daemons still running after slurm.sh down: {running}"

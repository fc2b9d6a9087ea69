"""Device, threads and dtype set-up, and capture of the environment a run ran in."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from hnnbench.checks import ConfigError, choice, integer

DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")


def check_hardware(device: Any, dtype: Any, threads: Any) -> None:
    """Reject bad hardware settings (``hardware.*``) with a ConfigError before any work starts."""
    choice("hardware.device", device, DEVICES)
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "hardware.device='cuda' was asked for but no CUDA GPU is available; use hardware=cpu"
        )
    choice("hardware.dtype", dtype, DTYPES)
    integer("hardware.threads", threads, 1, null="all cores")


def threads_for(threads: int | None) -> int:
    """The threads a run uses: ``hardware.threads``, else the cores it may use (the SLURM
    allocation's, else this process's CPU affinity)."""
    if threads:
        return int(threads)
    allocated = os.environ.get("SLURM_CPUS_PER_TASK")
    if allocated and allocated.isdigit() and int(allocated) > 0:
        return int(allocated)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def apply_threads(threads: int | None) -> int:
    """Set torch's and the BLAS libraries' thread counts (null: ``threads_for``); return the
    count in effect."""
    count = threads_for(threads)
    torch.set_num_threads(count)
    # threadpoolctl is the one place the native pools are set (BLAS and OpenMP, numpy's and
    # torch's alike): no environment variables, which only act before a library loads
    threadpool_limits(count)
    return torch.get_num_threads()


def threadpools() -> list[dict[str, Any]]:
    """The native thread pools loaded in this process and their thread counts in effect
    (threadpoolctl): which BLAS and OpenMP libraries really ran, with how many threads."""
    keys = ("user_api", "internal_api", "version", "num_threads", "filepath")
    pools = [{k: lib.get(k) for k in keys} for lib in threadpool_info()]
    pools.append({"user_api": "torch", "internal_api": "intra-op", "num_threads":
                  torch.get_num_threads()})  # fmt: skip
    return pools


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Temporarily run torch with ``count`` threads (restored afterwards)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The hnnbench checkout's commit (with '-dirty' when it has uncommitted changes)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():  # an installed wheel, not a checkout
        return None
    # `git status` may refresh the index and take its lock; a benchmark must never write there
    # (parallel sweeps would fight over the lock, a full disk would leave a stale one)
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def blas_info() -> dict[str, Any]:
    info: dict[str, Any] = {"torch": "mkl" if torch.backends.mkl.is_available() else "other"}
    info["numpy"] = [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    return info


#: the size of the matrices of the DGEMM rate (2·n³ flops: ≈ 0.15 s at 100 GFLOP/s)
DGEMM_N = 2000


@cache
def dgemm_gflops(threads: int, n: int = DGEMM_N) -> float:
    """This machine's float64 matrix-multiply rate in GFLOP/s (numpy's BLAS, the one the sampled
    solvers use) at ``threads`` BLAS threads: one n×n product after a small warm-up product.
    Measured once per process and thread count, outside every timed region; the paper report
    prints it beside the paper's hardware, so that times from other machines can be read."""
    a = np.full((n, n), 1.0 / n)  # the values do not change a DGEMM's speed; filling is cheap
    b = a.copy()
    with threadpool_limits(threads):
        a[:256, :256] @ b[:256, :256]  # the first call starts the thread pool: not the rate
        start = time.perf_counter()
        a @ b
        seconds = time.perf_counter() - start
    return 2.0 * n**3 / seconds / 1e9


def dgemm_rate(threads: int) -> dict[str, Any]:
    """The record's ``environment`` entries of the DGEMM rate at ``threads`` threads."""
    return {"dgemm_gflops": dgemm_gflops(int(threads)), "dgemm_n": DGEMM_N}


def environment() -> dict[str, Any]:
    """Versions, CPU, GPU, BLAS and commit, stored in every run record."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cuda": torch.version.cuda,
        "blas": blas_info(),
        "hnnbench_commit": git_commit(),
        **{
            name: package_version(name)
            for name in ("torch", "numpy", "scipy", "hydra-core", "omegaconf", "codecarbon")
        },
    }


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that a clock read means what it says."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)

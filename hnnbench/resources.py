"""What one run needs before it starts: its peak memory and its run time, estimated from the
configuration alone.

``estimate_peak_bytes(cfg)`` is the peak resident memory of one ``hnnbench`` run (the
process's VmHWM: interpreter and libraries, the data, then the larger of the training and the
evaluation, which never overlap). Its terms follow the arrays the code allocates; their
coefficients were fitted to peak RSS measured with ``benchmarks/memory.py`` (sizes, measured
and estimated peaks in docs/cluster.md): the estimate is meant to be at or a little above the
measured peak, within about 30 % where the run is large enough for the base to be a small part.

On CUDA only the host's share (the libraries and the data) is estimated; the GPU's memory is
not checked.

``estimate_seconds(cfg)`` is a generous guess of the run's wall time, for a cluster job's time
limit: a backprop trainer's time budget (``max_seconds``) when it has one, else a flop count at
a deliberately low rate, plus the evaluation and the start-up.

``check_memory(cfg)`` refuses (one ``ConfigError`` line) a run whose estimated peak exceeds the
memory of this machine, or of the SLURM allocation the run is in; ``runner.check`` calls it, so
``hnnbench train_points=100000000000`` stops before any work instead of failing with a
MemoryError after the run started.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hnnbench.checks import ConfigError
from hnnbench.hardware import threads_for

GiB = 2**30
MiB = 2**20

#: a tiny run's peak: interpreter, torch, numpy, scipy, Hydra and codecarbon loaded, the
#: configuration composed (431 MiB measured on this machine's CPU torch build)
BASE_PEAK_BYTES = 460 * MiB
#: what stays of it under the data and the solves: transient start-up memory is reused by
#: them (the measured peaks of larger runs exceed their arrays by 310–410 MiB)
FLOOR_BYTES = 420 * MiB
#: bytes a training point keeps: x, ẋ (2n each) and H, float64
DATA_COORD_BYTES, DATA_POINT_BYTES = 16, 8
#: bytes per candidate pair of U-SWIM / SWIM / A-SWIM: two indices, a probability and,
#: for A-SWIM's second draw, the pair differences
PAIR_BYTES, PAIR_COORD_BYTES = 24, 24
#: the chunk memory of the streamed QR (``lstsq/problem.py``: CHUNK_BYTES); A-SWIM evaluates
#: Ĥ at every point in chunks of this size too (``sampled.predict_in_chunks``)
CHUNK_BYTES = 384 * MiB
#: A-SWIM's Ĥ at every point: (chunk × M) tensors alive at once (hidden layer, tanh)
PREDICT_TENSORS = 2.35
#: gelsd: the dense 2nN × M matrix (HNN) or N × (M + 1 + 2n) features (S-MLP), times this:
#: the slopes it is built from and LAPACK's copy (1.44–1.86 measured, larger for larger A)
DENSE_FACTOR = 1.9
#: the streamed QR through torch (float32, CUDA): chunks alive at once (the chunk and the
#: packed factor geqrf returns; 1.8 measured)
GEQRF_CHUNKS = 2.0
#: streamed solvers: (M + 2n)² triangles alive while the ranges' factors and the 2n blocks
#: are merged (beyond one per thread during the QR)
MERGE_TRIANGLES = 4
#: backprop: (batch × M) tensors alive at the peak of a loss and its gradient, by grad_mode
#: (autograd keeps the graph of ∇Ĥ for the second backward pass: 10.8–10.9 measured; analytic
#: keeps every intermediate of (s ⊙ c) W: 15.7; fused writes its own backward: 2.8)
BACKPROP_TENSORS = {"autograd": 11.5, "analytic": 16.5, "fused": 3.5}
#: evaluation: (points × M) tensors alive while Ĥ, ∇Ĥ and ẋ̂ are evaluated on the test set.
#: Measured 2.9 to 9.7 for the same sizes in different processes (glibc's heap under the
#: evaluation's malloc tuning, ``trainers/malloc.py``): the estimate takes the high end
EVAL_TENSORS = 9.0

#: floating-point operations a second and core assumed for the time estimate: well below
#: what a current core does in LAPACK, so that the estimate errs long
FLOPS_PER_CORE = 2e9
#: seconds a run spends outside its fit and evaluation: start-up, configuration, the DGEMM
#: rate, codecarbon, writing the record (10–14 s measured on the shared 2-core machine)
START_SECONDS = 30.0
#: seconds per right-hand-side evaluation of a rollout step (small batches: call overhead)
STEP_SECONDS = 1e-4


@dataclass(frozen=True)
class RunShape:
    """The sizes of a run that decide its memory and time."""

    dim: int  # phase-space dimension 2n
    train_points: int
    validation_points: int  # held out beside the training data (the backprop plateau rule)
    test_points: int
    outside_points: int
    width: int  # hidden_width M
    itemsize: int  # bytes of the training dtype
    eval_itemsize: int  # bytes of the run's dtype (the evaluated model's)
    threads: int
    device: str  # 'cpu' or 'cuda': host memory only is estimated
    kind: str  # 'sampled' or 'backprop'
    trainer: dict[str, Any] = field(default_factory=dict)  # the trainer's knobs that matter
    rollout_steps: int = 0  # right-hand-side evaluations of the evaluation's rollouts


def shape_of(cfg: DictConfig, system: Any, trainer: Any) -> RunShape:
    """The run's sizes from its configuration and its built system and trainer."""
    evaluation = cfg.evaluation
    steps = 4 * (evaluation.rollouts + evaluation.boundary_rollouts) * evaluation.horizon
    steps = steps / evaluation.dt
    trajectory = evaluation.trajectory
    if trajectory.state is not None:
        steps += 4 * trajectory.horizon / trajectory.dt
    dtype = getattr(trainer, "train_dtype", None) or cfg.hardware.dtype
    knobs = {
        key: getattr(trainer, key, None)
        for key in (
            "sampler", "solver", "first_pass_solver", "first_pass_points", "batch_size",
            "steps", "max_seconds", "eval_every", "grad_mode", "learns_hamiltonian",
        )
    }  # fmt: skip
    return RunShape(
        dim=len(system.domain),
        train_points=int(cfg.train_points),
        validation_points=int(cfg.get("validation_points") or 0),
        test_points=int(cfg.test_points),
        outside_points=int(evaluation.outside_points),
        width=int(cfg.hidden_width),
        itemsize=4 if dtype == "float32" else 8,
        eval_itemsize=4 if cfg.hardware.dtype == "float32" else 8,
        threads=threads_for(cfg.hardware.threads),
        device=str(cfg.hardware.device),
        kind=trainer.kind,
        trainer=knobs,
        rollout_steps=int(steps),
    )


def _built(cfg: DictConfig, system: Any, trainer: Any) -> RunShape:
    if system is None or trainer is None:
        # imported here: the runner checks runs with this module
        from hnnbench.run_spec import seeds_of
        from hnnbench.runner import build

        system, trainer = build(cfg, seeds_of(cfg))
    return shape_of(cfg, system, trainer)


def memory_terms(shape: RunShape) -> dict[str, float]:
    """The estimate's parts in bytes: ``base``, ``data``, and the larger of ``training`` and
    ``evaluation`` counts (they run one after the other; ``peak_of``)."""
    n, m, d, size = shape.train_points, shape.width, shape.dim, shape.itemsize
    terms = {
        "base": float(FLOOR_BYTES),
        "data": float((n + shape.validation_points) * (DATA_POINT_BYTES + DATA_COORD_BYTES * d)),
    }
    if shape.kind == "sampled":
        terms["training"] = sampled_bytes(shape)
    else:
        batch = min(shape.trainer.get("batch_size") or n, n)
        tensors = BACKPROP_TENSORS.get(shape.trainer.get("grad_mode") or "", 11.5)
        terms["training"] = tensors * batch * m * size + 2.0 * n * d * size
    evaluated = max(shape.test_points, shape.outside_points)
    terms["evaluation"] = EVAL_TENSORS * evaluated * m * shape.eval_itemsize
    if shape.device != "cpu":  # the solves and the evaluation run in GPU memory, not counted
        terms["training"] = terms["evaluation"] = 0.0
    return terms


def sampled_bytes(shape: RunShape) -> float:
    """A sampled trainer's peak beyond the data: candidate pairs, A-SWIM's Ĥ at every point,
    the final solve (whichever is largest; the pairs stay alive throughout)."""
    n, m, d, size = shape.train_points, shape.width, shape.dim, shape.itemsize
    knobs = shape.trainer
    sampler = knobs.get("sampler") or "elm"
    pairs = 0.0
    if sampler != "elm":
        pairs = n * max(1, math.ceil(m / n)) * (PAIR_BYTES + PAIR_COORD_BYTES * d)
    predict = PREDICT_TENSORS * min(CHUNK_BYTES, n * m * size) if sampler == "aswim" else 0.0
    hnn = knobs.get("learns_hamiltonian", True)
    cols = m + d if hnn else m + 1 + d
    solver = knobs.get("solver") or "qr_ridge"
    if solver == "gelsd":
        dense = d * n * m if hnn else n * cols
        solve = DENSE_FACTOR * dense * size
    elif shape.itemsize == 8 and shape.device == "cpu":
        # streamed by LAPACK in place: the chunks and a triangle a thread, then the merges
        triangle = cols * cols * size
        chunks = min(CHUNK_BYTES, n * cols * size) + shape.threads * triangle
        solve = max(chunks, (shape.threads + MERGE_TRIANGLES) * triangle)
    else:  # streamed by torch.geqrf: one chunk, its packed factor and R (float32, CUDA)
        solve = GEQRF_CHUNKS * min(CHUNK_BYTES, n * cols * size) + 3 * cols * cols * size
    return pairs + max(predict, solve)


def estimate_peak_bytes(cfg: DictConfig, system: Any = None, trainer: Any = None) -> int:
    """The estimated peak resident memory of the run ``cfg`` in bytes (module docstring);
    ``system`` and ``trainer`` are built from ``cfg`` unless given."""
    return peak_of(memory_terms(_built(cfg, system, trainer)))


def peak_of(terms: dict[str, float]) -> int:
    """The peak from ``memory_terms``: never below a tiny run's."""
    work = terms["data"] + max(terms["training"], terms["evaluation"])
    return int(max(BASE_PEAK_BYTES, terms["base"] + work))


def sampled_flops(shape: RunShape) -> float:
    """Floating-point operations of a sampled fit (the solves dominate)."""
    n, m, d = shape.train_points, shape.width, shape.dim
    solver = shape.trainer.get("solver") or "qr_ridge"
    cols = m + d
    if solver == "gelsd":
        rows = d * n
        flops = 12.0 * rows * m * m + 20.0 * m**3  # bidiagonalisation and the SVD
    elif solver == "normal":
        flops = n * cols * cols + m**3 / 3
    else:
        flops = 2.0 * n * cols * cols + d * (2 / 3) * (m + 1) ** 3
    if shape.trainer.get("sampler") == "aswim":  # the first pass and Ĥ at every point
        points = min(n, 2 * m)
        flops += points * cols * cols + m**3 / 3 + 2.0 * n * m * d
    return flops + 30.0 * n * m * d  # the hidden layer and its slopes


def backprop_seconds(shape: RunShape) -> float:
    """A backprop fit: its steps at the assumed rate, cut at its time budget when it has one,
    plus the learning-curve evaluations outside the budget."""
    knobs = shape.trainer
    n, m, d = shape.train_points, shape.width, shape.dim
    rate = FLOPS_PER_CORE * shape.threads
    batch = min(knobs.get("batch_size") or n, n)
    # forward, ∇Ĥ and the backward pass of both, plus a millisecond of overhead a step
    step = 40.0 * batch * m * d / rate + 1e-3
    steps = float(knobs.get("steps") or 1)
    budget = knobs.get("max_seconds")
    if budget:
        steps = min(steps, float(budget) / step)
    curve_point = 10.0 * shape.test_points * m * d / rate + 1e-3
    return steps * step + steps / int(knobs.get("eval_every") or 1) * curve_point


def seconds_of(shape: RunShape) -> float:
    """The estimated wall time of a run of this shape (module docstring)."""
    rate = FLOPS_PER_CORE * shape.threads
    if shape.kind == "sampled":
        fit = sampled_flops(shape) / rate
    else:
        fit = backprop_seconds(shape)
    evaluated = shape.test_points + shape.outside_points
    evaluation = 20.0 * evaluated * shape.width * shape.dim / rate
    rollouts = shape.rollout_steps * (STEP_SECONDS + 4.0 * shape.width * shape.dim / rate)
    data = shape.train_points * 2e-6  # vectorised fields; flows of snapshot data cost more
    return START_SECONDS + data + fit + evaluation + rollouts


def estimate_seconds(cfg: DictConfig, system: Any = None, trainer: Any = None) -> float:
    """The estimated wall time of the run ``cfg`` in seconds (module docstring)."""
    return seconds_of(_built(cfg, system, trainer))


def machine_memory_bytes() -> int | None:
    """The memory this process may use: the least of the machine's RAM, its cgroup's limit
    and a SLURM allocation's (``SLURM_MEM_PER_NODE``); None when none can be read."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 2**60:  # 'max' or a huge number: no limit
            limits.append(int(value))
    allocated = os.environ.get("SLURM_MEM_PER_NODE", "")
    if allocated.isdigit() and int(allocated) > 0:
        limits.append(int(allocated) * MiB)
    return min(limits) if limits else None


def size_text(count: float) -> str:
    """Bytes as '512 MB', '3.2 GB', '4.4 TB' (binary units, two significant digits or more)."""
    for unit, scale in (("TB", 2**40), ("GB", GiB), ("MB", MiB)):
        if count >= scale or unit == "MB":
            value = count / scale
            return f"{value:.2g} {unit}" if value < 10 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


#: which setting to lower for each part of the estimate
REMEDIES = {
    "data": "train_points",
    "training": "train_points or hidden_width",
    "evaluation": "test_points / evaluation.outside_points or hidden_width",
    "base": "nothing (the libraries alone)",
}


def memory_problem(cfg: DictConfig, shape: RunShape, available: int, where: str) -> str | None:
    """One line when the run's estimated peak exceeds ``available`` bytes, else None."""
    terms = memory_terms(shape)
    peak = peak_of(terms)
    if peak <= available:
        return None
    counted = {
        key: value
        for key, value in terms.items()
        if key in ("base", "data") or value == max(terms["training"], terms["evaluation"])
    }
    largest = max(counted, key=lambda key: counted[key])
    solver = shape.trainer.get("solver")
    hint = " (or trainer.solver=qr_ridge, which streams)" if solver == "gelsd" else ""
    sizes = f"train_points={cfg.train_points}, hidden_width={cfg.hidden_width}"
    return (
        f"{sizes} needs an estimated {size_text(peak)} of memory at its peak "
        f"({largest}: {size_text(counted[largest])}), more than {where}'s {size_text(available)}; "
        f"lower {REMEDIES[largest]}{hint}"
    )


def check_memory(
    cfg: DictConfig,
    system: Any = None,
    trainer: Any = None,
    available: int | None = None,
    where: str = "this machine",
) -> None:
    """Raise a one-line ConfigError when the run's estimated peak memory exceeds ``available``
    bytes (default: ``machine_memory_bytes()``; unknown: no check)."""
    available = machine_memory_bytes() if available is None else available
    if available is None:
        return
    problem = memory_problem(cfg, _built(cfg, system, trainer), available, where)
    if problem:
        raise ConfigError(problem)


def peak_rss_mb() -> float:
    """Peak RSS of this process in MiB: VmHWM of /proc/self/status (Linux), else ru_maxrss.

    Not ru_maxrss where /proc exists: Linux carries the pre-exec peak RSS into it, so a child
    spawned by a large parent (vfork + exec) reports the parent's peak instead of its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

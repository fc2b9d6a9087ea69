"""Datasets: uniform box sampling, exact targets ẋ = J∇H, optional noise, rollout initial states,
and the points outside the box (a shell around it) and near its boundary.

Training data come from one of five sources (``DataSource``, Hydra group ``data/``):
``derivatives`` (exact ẋ at uniform points), ``snapshots`` (pairs x_n → Φ_h(x_n) from uniform
x_n) and ``trajectories`` (R orbits of L observations, cut into consecutive pairs). A pair
becomes one training point: the finite-difference quotient (x_{n+1} − x_n)/h attached at
(q_{n+1}, p_n), where the symplectic Euler step of Ĥ reproduces it exactly. Test points are
uniform with exact H, ∇H and ẋ for these three. The standard HNN tasks bring their own
protocol, training AND test data (``Dataset.task`` says which; docs/standard-tasks.md):
``published`` (spring, pendulum, two_body, three_body: ``tasks.py``, the task is the system's
name) and ``real_pendulum`` (the measured pendulum: ``real_pendulum.py``, no H or ∇H known).

Seeds are separate: the data seed draws train and test points, the evaluation seed draws the
rollout initial conditions, the outside points and the boundary initial states (each from its
own stream of that seed), and the model seed (used by the trainers) draws the network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hnnbench.ground_truth import stays_inside, true_trajectories
from hnnbench.real_pendulum import locate, published_split, read_measurements
from hnnbench.systems import HamiltonianSystem
from hnnbench.tasks import task_arrays


@dataclass(frozen=True)
class TaskInfo:
    """What a standard HNN task's data carry besides the points (``Dataset.task``)."""

    name: str  # spring, pendulum, two_body, three_body, real_pendulum
    train_trajectories: int
    test_trajectories: int
    min_separation: float | None = None  # n-body: the closest approach in the clean data
    t_test: np.ndarray | None = None  # measured data: the test rows' times


@dataclass(frozen=True)
class Dataset:
    """Training and test points with exact (training: possibly noisy) targets."""

    x_train: np.ndarray  # (N, 2n)
    xdot_train: np.ndarray  # (N, 2n), J∇H plus noise
    H_train: np.ndarray | None  # (N,), true H: only the SWIM oracle may look at it
    x_test: np.ndarray  # (N_test, 2n)
    xdot_test: np.ndarray  # (N_test, 2n)
    grad_test: np.ndarray | None  # (N_test, 2n); None for measured data
    H_test: np.ndarray | None  # (N_test,); None for measured data
    anchor: np.ndarray  # (2n,)
    anchor_H: float
    domain: np.ndarray  # (2n, 2) box the points were drawn from (tasks: the system's box)
    task: TaskInfo | None = None  # a standard HNN task's protocol; None for box data

    def head(self, count: int) -> Dataset:
        """The first ``count`` training and test points (a tiny copy for warm-up fits)."""
        train, test = slice(0, count), slice(0, count)
        return replace(
            self,
            x_train=self.x_train[train],
            xdot_train=self.xdot_train[train],
            H_train=None if self.H_train is None else self.H_train[train],
            x_test=self.x_test[test],
            xdot_test=self.xdot_test[test],
            grad_test=None if self.grad_test is None else self.grad_test[test],
            H_test=None if self.H_test is None else self.H_test[test],
        )


def sample_box(domain: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points i.i.d. uniform in the box ``domain`` of shape (dim, 2)."""
    low, high = domain[:, 0], domain[:, 1]
    return low + (high - low) * rng.random((count, len(low)))


def scaled_box(domain: np.ndarray, scale: float) -> np.ndarray:
    """The box scaled about its centre by ``scale`` (each half-width times ``scale``)."""
    centre = domain.mean(axis=1)
    half = (domain[:, 1] - domain[:, 0]) / 2
    return np.column_stack([centre - scale * half, centre + scale * half])


def sample_shell(
    domain: np.ndarray, scale: float, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` points i.i.d. uniform in the shell (box scaled by ``scale`` > 1) minus (box).

    By rejection: uniform points of the scaled box that fall inside the box are dropped, which
    leaves exactly the uniform distribution on the shell. The acceptance rate is 1 − scale^(−d)
    (d = 2n; 36 % at scale 1.25 in 2 dimensions, ≈ 1 beyond 20), so a few rounds suffice. In
    high dimension a shell point is typically outside the box in several coordinates at once
    (each coordinate is outside with probability 1 − 1/scale), not just beyond one face.
    """
    if not scale > 1:
        raise ValueError(f"shell scale={scale!r} must be > 1")
    if count < 1:
        raise ValueError(f"shell count={count} must be >= 1")
    outer = scaled_box(domain, scale)
    accept = 1.0 - float(scale) ** (-len(domain))
    batch = min(int(1.2 * count / accept) + 16, 1_000_000)
    kept: list[np.ndarray] = []
    found = 0
    while found < count:
        candidates = sample_box(outer, batch, rng)
        outside = candidates[~inside(domain, candidates)]
        kept.append(outside)
        found += len(outside)
    return np.concatenate(kept)[:count]


@dataclass(frozen=True)
class OutsideSet:
    """Points in the shell (box × ``scale``) minus (box) with their exact H and ∇H."""

    x: np.ndarray  # (N_out, 2n)
    H: np.ndarray  # (N_out,)
    grad: np.ndarray  # (N_out, 2n)
    scale: float


def make_outside_set(
    system: HamiltonianSystem, count: int, scale: float, eval_seed: int
) -> OutsideSet:
    """``count`` shell points around the system's domain (evaluation seed, stream 1)."""
    x = sample_shell(system.domain, scale, count, np.random.default_rng([eval_seed, 1]))
    return OutsideSet(x=x, H=system.H(x), grad=system.grad_H(x), scale=float(scale))


def boundary_initial_states(
    system: HamiltonianSystem, count: int, eval_seed: int, fraction: float = 0.1
) -> np.ndarray:
    """``count`` states in the outer ``fraction`` of the box: inside the box, outside the box
    shrunk about its centre by 1 − fraction (evaluation seed, stream 2).

    Unlike ``rollout_initial_states`` nothing is rejected: their true trajectories may leave
    the training box, which is what the boundary rollouts measure.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"boundary fraction={fraction!r} must be in (0, 1)")
    inner = scaled_box(system.domain, 1 - fraction)
    rng = np.random.default_rng([eval_seed, 2])
    states = sample_shell(inner, 1 / (1 - fraction), count, rng)
    # the rescaled outer box is the domain up to rounding: keep every state inside it exactly
    return np.clip(states, system.domain[:, 0], system.domain[:, 1])


#: the standard HNN tasks' sources: their own points, counts and split (``task_dataset``)
TASK_SOURCES = ("published", "real_pendulum")
SOURCES = ("derivatives", "snapshots", "trajectories", *TASK_SOURCES)
#: tolerance (rtol and atol) of the exact flow Φ_h behind snapshot and trajectory data
FLOW_TOL = 1e-13
#: states integrated together as one stacked ODE: DOP853's error norm is an RMS over the whole
#: stack, so a bounded stack keeps every state's own error near the tolerance
FLOW_CHUNK = 1000


@dataclass(frozen=True)
class DataSource:
    """Where the training data come from (the ``data`` config group)."""

    source: str = "derivatives"
    dt_obs: float | None = None  # h, snapshots and trajectories
    observations: int | None = None  # L, trajectories
    trajectories: int | None = None  # R, trajectories (None: from train_points)
    state_noise_std: float = 0.0  # Gaussian noise on observed states
    path: str | None = None  # real_pendulum: the data file (None: environment, cache, download)

    @property
    def is_task(self) -> bool:
        """A standard HNN task (its protocol fixes the points and the split)."""
        return self.source in TASK_SOURCES

    def start_count(self, train_points: int) -> int:
        """How many uniform states are drawn: one per training point (derivatives, snapshots);
        R for trajectories, the explicit value, else enough orbits of L − 1 pairs."""
        if self.source != "trajectories":
            return train_points
        if self.trajectories is not None:
            return int(self.trajectories)
        return -(-train_points // (int(self.observations) - 1))


def flow(
    system: HamiltonianSystem, states: np.ndarray, times: np.ndarray, tol: float = FLOW_TOL
) -> np.ndarray:
    """The exact flow (DOP853) from each state to each of ``times`` (first 0): (T, N, 2n).

    Vectorised: ``FLOW_CHUNK`` states at a time form one stacked ODE."""
    parts = [
        true_trajectories(system, states[start : start + FLOW_CHUNK], times, tol)
        for start in range(0, len(states), FLOW_CHUNK)
    ]
    return np.concatenate(parts, axis=1)


def pair_targets(before: np.ndarray, after: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Training inputs (q_{n+1}, p_n) and targets (x_{n+1} − x_n)/h of snapshot pairs: there
    one symplectic Euler step q⁺ = q + h ∂Ĥ/∂p, p⁺ = p − h ∂Ĥ/∂q of Ĥ reproduces the pair."""
    dof = before.shape[1] // 2
    inputs = np.concatenate([after[:, :dof], before[:, dof:]], axis=1)
    return inputs, (after - before) / h


def observed_pairs(
    system: HamiltonianSystem,
    source: DataSource,
    train_points: int,
    starts: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(x_n, x_{n+1}) pairs, ``train_points`` of them, observed from ``starts`` (noisy states
    when ``state_noise_std`` > 0): one step per start (snapshots) or L − 1 (trajectories)."""
    h = float(source.dt_obs)
    steps = 1 if source.source == "snapshots" else int(source.observations) - 1
    states = flow(system, starts, h * np.arange(steps + 1))  # (L, R, 2n)
    if source.state_noise_std > 0:
        states = states + source.state_noise_std * rng.standard_normal(states.shape)
    dim = states.shape[-1]
    # trajectory by trajectory: (R, L − 1, 2n) → (R·(L − 1), 2n), the first train_points
    before = states[:-1].transpose(1, 0, 2).reshape(-1, dim)[:train_points]
    after = states[1:].transpose(1, 0, 2).reshape(-1, dim)[:train_points]
    return before, after


def make_dataset(
    system: HamiltonianSystem,
    train_points: int,
    test_points: int,
    data_seed: int,
    noise_std: float = 0.0,
    noise_relative: bool = False,
    source: DataSource | None = None,
) -> Dataset:
    """Draw the training starts then the test points from one generator seeded by
    ``data_seed`` (so every source has the same test points), then any noise.

    Derivatives: the starts are the training points, targets the exact ẋ; noise on the
    targets ẋ + σ·N(0, 1) per component, σ = ``noise_std`` (absolute), or with
    ``noise_relative`` σ = noise_std × RMS of the exact training targets (all components).
    Snapshots / trajectories: the starts are flowed exactly and cut into pairs
    (``pair_targets``); ``noise_std`` must be 0 (their noise is on the states).
    """
    source = source or DataSource()
    if source.is_task:
        return task_dataset(system, source, data_seed)
    if train_points < 2:
        raise ValueError(f"train_points={train_points} must be >= 2")
    if test_points < 1:
        raise ValueError(f"test_points={test_points} must be >= 1")
    if noise_std < 0:
        raise ValueError(f"noise_std={noise_std} must be >= 0")
    if source.source not in SOURCES:
        raise ValueError(f"unknown data source {source.source!r}; allowed: {list(SOURCES)}")
    if source.source != "derivatives" and noise_std > 0:
        raise ValueError(f"noise_std={noise_std} is target noise: use data.state_noise_std")
    rng = np.random.default_rng(data_seed)
    x_train = sample_box(system.domain, source.start_count(train_points), rng)
    x_test = sample_box(system.domain, test_points, rng)
    if source.source == "derivatives":
        xdot_train = system.vector_field(x_train)
    else:
        before, after = observed_pairs(system, source, train_points, x_train, rng)
        x_train, xdot_train = pair_targets(before, after, float(source.dt_obs))
    if noise_std > 0:
        scale = float(np.sqrt(np.mean(xdot_train**2))) if noise_relative else 1.0
        xdot_train = xdot_train + noise_std * scale * rng.standard_normal(xdot_train.shape)
    grad_test = system.grad_H(x_test)
    return Dataset(
        x_train=x_train,
        xdot_train=xdot_train,
        H_train=system.H(x_train),
        x_test=x_test,
        xdot_test=system.vector_field(x_test),
        grad_test=grad_test,
        H_test=system.H(x_test),
        anchor=system.anchor,
        anchor_H=system.anchor_H,
        domain=system.domain,
    )


def task_dataset(system: HamiltonianSystem, source: DataSource, data_seed: int) -> Dataset:
    """A standard HNN task's data (``published``: the task is the system's name; or the
    measured ``real_pendulum``), training rows shuffled once by the data seed (stream 1), Ĥ's
    constant fixed at the first of them (the measured pendulum: at rest, E = 0)."""
    if source.source == "real_pendulum":
        split = published_split(*read_measurements(locate(source.path)))
        x_train, xdot_train = split.x_train, split.xdot_train
        x_test, xdot_test = split.x_test, split.xdot_test
        info = TaskInfo("real_pendulum", 1, 1, t_test=split.t_test)
    else:
        arrays = task_arrays(system, system.name, data_seed)
        x_train, xdot_train = arrays.x_train, arrays.xdot_train
        x_test, xdot_test = arrays.x_test, arrays.xdot_test
        info = TaskInfo(
            system.name,
            arrays.train_trajectories,
            arrays.test_trajectories,
            arrays.min_separation,
        )
    order = np.random.default_rng([data_seed, 1]).permutation(len(x_train))
    x_train, xdot_train = x_train[order], xdot_train[order]
    measured = info.t_test is not None
    anchor = np.zeros(x_train.shape[1]) if measured else x_train[0].copy()
    return Dataset(
        x_train=x_train,
        xdot_train=xdot_train,
        H_train=None if measured else system.H(x_train),
        x_test=x_test,
        xdot_test=xdot_test,
        grad_test=None if measured else system.grad_H(x_test),
        H_test=None if measured else system.H(x_test),
        anchor=anchor,
        anchor_H=float(system.H(anchor[None, :])[0]),
        domain=system.domain,
        task=info,
    )


def inside(domain: np.ndarray, states: np.ndarray) -> np.ndarray:
    """Which states (..., R, 2n) lie inside the box, reduced over the last axis."""
    return np.all((states >= domain[:, 0]) & (states <= domain[:, 1]), axis=-1)


def rollout_initial_states(
    system: HamiltonianSystem,
    count: int,
    horizon: float,
    eval_seed: int,
    shrink: float = 0.5,
    max_rounds: int = 8,
) -> np.ndarray:
    """Initial states whose TRUE trajectory stays inside the domain over ``[0, horizon]``.

    Rule: candidates are drawn uniformly from the domain box shrunk about its centre by the
    factor ``shrink``; a candidate is kept only if its reference trajectory (DOP853, stopped
    at the first exit) stays inside the domain over the whole horizon. Each round draws 4·count
    candidates; after a round that keeps fewer than needed, ``shrink`` is halved. Deterministic
    per ``eval_seed``. Raises if ``max_rounds`` rounds do not find enough. In high dimension
    (fput, toda at n ≥ 16) most states come from the second round, shrink ¼: all 2n coordinates
    must stay inside, which few states of the ½-box manage (README, Datasets and rollouts).
    """
    if count < 1:
        raise ValueError(f"rollout count={count} must be >= 1")
    if horizon <= 0:
        raise ValueError(f"horizon={horizon} must be > 0")
    rng = np.random.default_rng(eval_seed)
    centre = system.domain.mean(axis=1)
    half = (system.domain[:, 1] - system.domain[:, 0]) / 2
    kept: list[np.ndarray] = []
    for _ in range(max_rounds):
        box = np.column_stack([centre - shrink * half, centre + shrink * half])
        candidates = sample_box(box, 4 * count, rng)
        for candidate in candidates:
            if stays_inside(system, candidate, system.domain, horizon):
                kept.append(candidate)
                if len(kept) == count:
                    return np.array(kept)
        shrink /= 2
    raise RuntimeError(
        f"found only {len(kept)} of {count} rollout initial states of {system.name} that stay "
        f"in the domain for horizon {horizon}; use a shorter horizon"
    )

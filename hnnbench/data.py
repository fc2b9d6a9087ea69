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

Seeds are separate: the data seed draws train and test points, and the validation points from
a stream of its own (so adding them changes neither); the evaluation seed draws the rollout
initial conditions, the outside points and the boundary initial states (each from its own
stream of that seed), and the model seed (used by the trainers) draws the network.

Validation points (``validation_points``, uniform with exact targets like the test points) are
for the backprop trainers' plateau rule (``trainers/plateau.py``): no trainer trains on them, so
both sides still see identical training data, and the test set never decides when a run ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq

from hnnbench.checks import ConfigError
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
    # held-out validation points with exact targets (None: none drawn)
    x_val: np.ndarray | None = None  # (N_val, 2n)
    xdot_val: np.ndarray | None = None
    grad_val: np.ndarray | None = None
    H_val: np.ndarray | None = None

    @property
    def validation_points(self) -> int:
        return 0 if self.x_val is None else len(self.x_val)

    def head(self, count: int) -> Dataset:
        """The first ``count`` training, test and validation points (a tiny copy for warm-up
        fits)."""
        cut = slice(0, count)

        def first(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[cut]

        return replace(
            self,
            x_train=self.x_train[cut],
            xdot_train=self.xdot_train[cut],
            H_train=first(self.H_train),
            x_test=self.x_test[cut],
            xdot_test=self.xdot_test[cut],
            grad_test=first(self.grad_test),
            H_test=first(self.H_test),
            x_val=first(self.x_val),
            xdot_val=first(self.xdot_val),
            grad_val=first(self.grad_val),
            H_val=first(self.H_val),
        )

    def validation(self) -> Dataset | None:
        """The validation points in the test points' place, so every test metric can be
        computed on them; None when there are none."""
        if self.x_val is None:
            return None
        return replace(
            self,
            x_test=self.x_val,
            xdot_test=self.xdot_val,
            grad_test=self.grad_val,
            H_test=self.H_val,
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
    validation_points: int = 0,
) -> Dataset:
    """Draw the training starts then the test points from one generator seeded by
    ``data_seed`` (so every source has the same test points), then any noise; the
    ``validation_points`` from stream 1 of the data seed, uniform in the box with exact targets.

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
    if validation_points < 0:
        raise ValueError(f"validation_points={validation_points} must be >= 0")
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
    validation = {}
    if validation_points > 0:
        x_val = sample_box(system.domain, validation_points, np.random.default_rng([data_seed, 1]))
        validation = {
            "x_val": x_val,
            "xdot_val": system.vector_field(x_val),
            "grad_val": system.grad_H(x_val),
            "H_val": system.H(x_val),
        }
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
        **validation,
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
    must stay inside, which few states of the ½-box manage (docs/data.md, Rollout initial states).
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


#: how the rollout initial states are drawn (``evaluation.initial_states``)
INITIAL_RULES = ("auto", "box", "shells")
#: points per ray at which H is evaluated to bracket the first crossing of a shell
RAY_POINTS = 1024


def shell_energies(system: HamiltonianSystem, fractions: Sequence[float]) -> np.ndarray | None:
    """The shell energies ``fraction × escape energy`` (ascending), or None when the system has
    no escape energy or its well at the highest of them does not lie inside the domain."""
    escape = system.escape_energy()
    if escape is None:
        return None
    energies = np.sort(np.asarray(fractions, dtype=float)) * escape
    well = system.well_box(float(energies[-1]))
    if well is None or not np.all(
        (well[:, 0] >= system.domain[:, 0]) & (well[:, 1] <= system.domain[:, 1])
    ):
        return None
    return energies


def initial_rule(system: HamiltonianSystem, rule: str, fractions: Sequence[float]) -> str:
    """``box`` or ``shells``: ``auto`` is shells where ``shell_energies`` exist (Hénon–Heiles
    with α ≠ 0 and its well inside the box), else box. ConfigError for shells without them."""
    possible = shell_energies(system, fractions) is not None
    if rule == "auto":
        return "shells" if possible else "box"
    if rule == "shells" and not possible:
        escape = system.escape_energy()
        why = (
            "has no escape energy"
            if escape is None
            else f"has its well at H = {max(fractions) * escape:.4g} reaching beyond the domain"
        )
        raise ConfigError(
            f"evaluation.initial_states=shells: {system!r} {why}; allowed here: auto, box"
        )
    return rule


def shell_crossing(
    system: HamiltonianSystem, direction: np.ndarray, energy: float
) -> np.ndarray | None:
    """The first state on the ray anchor + s·direction (s > 0) where H reaches ``energy``;
    None when the ray leaves the domain first."""
    anchor = system.anchor
    low, high = system.domain[:, 0] - anchor, system.domain[:, 1] - anchor
    with np.errstate(divide="ignore", invalid="ignore"):
        exits = np.where(
            direction > 0, high / direction, np.where(direction < 0, low / direction, np.inf)
        )
    reach = float(np.min(exits))
    steps = np.linspace(0.0, reach, RAY_POINTS + 1)[1:]
    above = np.nonzero(system.H(anchor + steps[:, None] * direction) >= energy)[0]
    if not above.size:
        return None
    first = above[0]
    start = steps[first - 1] if first else 0.0

    def gap(s: float) -> float:
        return float(system.H((anchor + s * direction)[None, :])[0]) - energy

    return anchor + brentq(gap, start, steps[first], xtol=1e-14, rtol=1e-14) * direction


def shell_initial_states(
    system: HamiltonianSystem,
    count: int,
    horizon: float,
    eval_seed: int,
    energies: Sequence[float],
    tries_per_state: int = 64,
) -> np.ndarray:
    """``count`` states on the energy shells H = E (state k on ``energies[k mod len]``), each
    the first point where H reaches E on the ray from the anchor (the minimum of H) in a
    direction uniform on the unit sphere, kept, as in the box rule, only if its TRUE orbit
    stays in the domain over ``horizon`` (evaluation seed, stream 3). Below the escape energy
    the crossing lies on the bounded well around the anchor, whose orbits never leave it.
    """
    if count < 1:
        raise ValueError(f"rollout count={count} must be >= 1")
    if horizon <= 0:
        raise ValueError(f"horizon={horizon} must be > 0")
    rng = np.random.default_rng([eval_seed, 3])
    states = []
    for k in range(count):
        energy = float(energies[k % len(energies)])
        for _ in range(tries_per_state):
            direction = rng.standard_normal(system.dim)
            state = shell_crossing(system, direction / np.linalg.norm(direction), energy)
            if state is not None and stays_inside(system, state, system.domain, horizon):
                states.append(state)
                break
        else:
            raise RuntimeError(
                f"no state on the shell H = {energy:.4g} of {system.name} stays in the domain "
                f"for horizon {horizon} in {tries_per_state} tries; "
                "use evaluation.initial_states=box"
            )
    return np.array(states)


def rollout_states(
    system: HamiltonianSystem,
    count: int,
    horizon: float,
    eval_seed: int,
    rule: str = "box",
    fractions: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
) -> tuple[np.ndarray, str]:
    """The rollout initial states by ``rule`` (``INITIAL_RULES``; ``initial_rule``) and the
    rule used: ``box`` (``rollout_initial_states``) or ``shells`` at ``fractions`` of the
    escape energy (``shell_initial_states``)."""
    used = initial_rule(system, rule, fractions)
    if used == "box":
        return rollout_initial_states(system, count, horizon, eval_seed), used
    energies = shell_energies(system, fractions)
    return shell_initial_states(system, count, horizon, eval_seed, energies), used

"""The standard HNN tasks (Greydanus, Dzamba & Yosinski, NeurIPS 2019) as their authors coded them:
data protocol per task and the initial states of the published energy metric.

Tasks (``PROTOCOLS``; the system of each is a preset of an hnnbench system, ``conf/system``):

========== =============================================== ======== ====== ======== ===========
task       initial states                                  points   span   orbits   split
========== =============================================== ======== ====== ======== ===========
spring     direction ~ U[−1,1]², radius ~ U[0.1, 1.0]      30       [0,3]  50       first ½ train
pendulum   the same, radius ~ U[1.3, 2.3]                  45       [0,3]  50       first ½ train
two_body   body 1 at U[0.5,1.5]², circular speed × (1 +    50       [0,20] 1000     first ⅕ test
           0.05·N(0,1)), body 2 = −body 1
three_body on a circle of radius U[0.9,1.2] at 120°,       20       [0,5]  5000     first ⅕ test
           equilateral circular speeds × (1 + 0.2·U(−1,1))
========== =============================================== ======== ====== ======== ===========

Targets are the exact ẋ = J∇H at the clean states; spring and pendulum then get N(0, 0.1²) noise
on q and p (after the targets). The split is by trajectory. hnnbench draws everything from its
own data seed (numpy ``default_rng``), integrates with its own tight reference integrator
(``ground_truth.true_trajectories``, DOP853) instead of RK45 at rtol 1e-10 / 1e-9, and shuffles
the training rows once (the published two- and three-body training drew a random batch per step;
``Batches`` takes consecutive slices of the shuffled array). The test rows stay in trajectory
order. Ĥ's constant is fixed at the first (shuffled) training state, a state the data cover.

Energy metric (``energy_setup``): 15 initial states, their horizon and time points, E = q² + p²
for spring and pendulum (the published proxy; the pendulum's own H is scored beside it), the true
total energy for the n-body tasks. The two- and three-body states are the published ones: the
training sampler under numpy's legacy seeds 0 … 14 (``RandomState``, the authors' draws in their
order); the spring and pendulum states came from an unseeded generator, so hnnbench draws them
(each component ±U(0.2, 1.0)) from the run's evaluation seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hnnbench import systems
from hnnbench.ground_truth import true_trajectories
from hnnbench.systems import HamiltonianSystem

#: a random source with the draws the samplers need: numpy's Generator and legacy RandomState
Draws = np.random.Generator | np.random.RandomState


@dataclass(frozen=True)
class EnergyProtocol:
    """The published energy metric of a task: rollouts of truth and model from ``states``
    initial states to ``points`` times on [0, ``horizon``], scipy RK45 at ``rtol`` (atol 1e-6,
    scipy's default, as published)."""

    horizon: float
    points: int
    rtol: float
    states: int = 15
    proxy: bool = False  # E = q² + p² (spring, pendulum) instead of the system's H
    legacy_seeds: bool = False  # initial states: the training sampler under RandomState(0..14)


@dataclass(frozen=True)
class Protocol:
    """One task's published data protocol and energy metric."""

    task: str
    trajectories: int
    points: int  # per trajectory
    t_end: float
    noise_std: float  # on q and p after the targets
    test_first: bool  # the first test_fraction of trajectories are test (else the last)
    test_fraction: float
    tol: float  # hnnbench's reference integration of the data
    energy: EnergyProtocol


def _circle_sampler(low: float, high: float) -> Callable[[Draws], np.ndarray]:
    """(q, p): direction ~ U[−1,1]² normalised, radius ~ U[low, high] (spring, pendulum)."""

    def sample(rng: Draws) -> np.ndarray:
        direction = rng.random(2) * 2 - 1
        radius = rng.random() * (high - low) + low
        return direction / np.sqrt(np.sum(direction**2)) * radius

    return sample


def _two_body(rng: Draws) -> np.ndarray:
    """Body 1 at pos ~ U[0.5,1.5]², the circular-orbit velocity (−y, x)/(2 r^1.5) times one
    factor 1 + 0.05·N(0,1); body 2 = −body 1. State (x1, x2, y1, y2, vx1, vx2, vy1, vy2)."""
    pos = rng.random(2) + 0.5
    r = np.sqrt(np.sum(pos**2))
    vel = np.array([-pos[1], pos[0]]) / (2 * r**1.5)
    vel = vel * (1 + 0.05 * rng.standard_normal())
    return np.array([pos[0], -pos[0], pos[1], -pos[1], vel[0], -vel[0], vel[1], -vel[1]])


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


#: the speed factor of a circular equilateral three-body orbit at radius 1, as published
EQUILATERAL_SPEED = np.sqrt(np.sin(np.pi / 3) / (2 * np.cos(np.pi / 6) ** 2))


def _three_body(rng: Draws) -> np.ndarray:
    """Body 1 at a direction ~ U[−1,1]² scaled to radius r ~ U[0.9, 1.2], bodies 2 and 3 rotated
    by 120° and 240°, velocities of the circular equilateral orbit, each component of each body
    times 1 + 0.2·U(−1,1). State (x1, x2, x3, y1, y2, y3, vx1, vx2, vx3, vy1, vy2, vy3)."""
    p1 = 2 * rng.random(2) - 1
    r = rng.random() * 0.3 + 0.9
    p1 = p1 * r / np.sqrt(np.sum(p1**2))
    third = 2 * np.pi / 3
    positions = [p1, _rotate(p1, third), _rotate(p1, 2 * third)]
    v1 = _rotate(p1, np.pi / 2) / r**1.5 * EQUILATERAL_SPEED
    velocities = [v1, _rotate(v1, third), _rotate(v1, 2 * third)]
    velocities = [v * (1 + 0.2 * (2 * rng.random(2) - 1)) for v in velocities]
    pos, vel = np.array(positions), np.array(velocities)  # (3, 2) each
    return np.concatenate([pos[:, 0], pos[:, 1], vel[:, 0], vel[:, 1]])


SAMPLERS: dict[str, Callable[[Draws], np.ndarray]] = {
    "spring": _circle_sampler(0.1, 1.0),
    "pendulum": _circle_sampler(1.3, 2.3),
    "two_body": _two_body,
    "three_body": _three_body,
}

PROTOCOLS: dict[str, Protocol] = {
    "spring": Protocol(
        "spring", 50, 30, 3.0, 0.1, False, 0.5, 1e-12, EnergyProtocol(20.0, 100, 1e-12, proxy=True)
    ),
    "pendulum": Protocol(
        "pendulum", 50, 45, 3.0, 0.1, False, 0.5, 1e-12,
        EnergyProtocol(20.0, 100, 1e-12, proxy=True),
    ),
    "two_body": Protocol(
        "two_body", 1000, 50, 20.0, 0.0, True, 0.2, 1e-10,
        EnergyProtocol(25.0, 500, 1e-9, legacy_seeds=True),
    ),
    "three_body": Protocol(
        "three_body", 5000, 20, 5.0, 0.0, True, 0.2, 1e-10,
        EnergyProtocol(3.0, 500, 1e-9, legacy_seeds=True),
    ),
}  # fmt: skip
TASKS = tuple(PROTOCOLS)
#: the Hamiltonians the tasks were published with, as parameters of hnnbench's systems (the
#: presets conf/system/spring_standard, pendulum_standard, pendulum_real carry the same values):
#: data=published on other parameters would not be the published task
PUBLISHED_PARAMS: dict[str, dict[str, float]] = {
    "spring": {"m": 0.5, "k": 2.0},  # q² + p²
    "pendulum": {"m": 0.5, "l": 1.0, "g": 6.0, "frequency": 1.0},  # 3(1 − cos q) + p²
    "two_body": {"G": 1.0, "m": 1.0},
    "three_body": {"G": 1.0, "m": 1.0},
    "real_pendulum": {"m": 0.5, "l": 1.0, "g": 4.8, "frequency": 1.0},  # E = 2.4(1 − cos q) + p²
}
#: the published real-pendulum energy protocol (its initial state and times are the test rows')
REAL_ENERGY = EnergyProtocol(horizon=float("nan"), points=0, rtol=1e-3, states=1)
#: trajectories integrated as one stacked ODE (a close three-body encounter slows only its own
#: stack; DOP853's error norm covers the stack)
DATA_CHUNK = 100


def protocol_of(task: str) -> Protocol:
    """The protocol of ``task``, or a ValueError naming the allowed ones."""
    if task not in PROTOCOLS:
        raise ValueError(f"unknown standard HNN task {task!r}; allowed: {list(TASKS)}")
    return PROTOCOLS[task]


def initial_states(task: str, count: int, rng: Draws) -> np.ndarray:
    """``count`` initial states of ``task``'s training sampler, drawn one after another."""
    sample = SAMPLERS[task]
    return np.array([sample(rng) for _ in range(count)])


def trajectories(
    system: HamiltonianSystem, starts: np.ndarray, times: np.ndarray, tol: float
) -> np.ndarray:
    """The exact flow from each start to each time, (R, T, 2n), ``DATA_CHUNK`` at a time."""
    parts = [
        true_trajectories(system, starts[i : i + DATA_CHUNK], times, tol)
        for i in range(0, len(starts), DATA_CHUNK)
    ]
    return np.concatenate(parts, axis=1).transpose(1, 0, 2)


@dataclass(frozen=True)
class TaskArrays:
    """A task's data before they become a ``Dataset``: rows in trajectory order."""

    x_train: np.ndarray  # noisy inputs
    xdot_train: np.ndarray  # exact ẋ at the clean states
    x_test: np.ndarray
    xdot_test: np.ndarray
    train_trajectories: int
    test_trajectories: int
    min_separation: float | None  # n-body: the closest approach in the clean data


def task_arrays(system: HamiltonianSystem, task: str, data_seed: int) -> TaskArrays:
    """The published protocol of ``task`` on ``system`` from ``data_seed``: initial states, then
    noise, from one generator; trajectory-wise split. Cached per (system name, parameters, task,
    seed) within a process, so the jobs of a Hydra sweep (one process, serial launcher) that
    share a data seed build the data once (the domain does not enter the data)."""
    params = tuple(sorted(system.params.items()))
    return _task_arrays(system.name, params, task, data_seed)


@functools.lru_cache(maxsize=12)
def _task_arrays(
    name: str, params: tuple[tuple[str, float], ...], task: str, data_seed: int
) -> TaskArrays:
    system = systems.get(name, **dict(params))
    protocol = protocol_of(task)
    rng = np.random.default_rng(data_seed)
    starts = initial_states(task, protocol.trajectories, rng)
    times = np.linspace(0.0, protocol.t_end, protocol.points)
    clean = trajectories(system, starts, times, protocol.tol)  # (R, T, 2n)
    dim = clean.shape[-1]
    targets = system.vector_field(clean.reshape(-1, dim)).reshape(clean.shape)
    observed = clean + protocol.noise_std * rng.standard_normal(clean.shape)
    test_count = int(round(protocol.trajectories * protocol.test_fraction))
    test = slice(0, test_count) if protocol.test_first else slice(-test_count, None)
    train = (
        slice(test_count, None) if protocol.test_first else slice(0, -test_count)
    )  # fmt: skip
    separation = getattr(system, "min_separation", None)
    return TaskArrays(
        x_train=observed[train].reshape(-1, dim),
        xdot_train=targets[train].reshape(-1, dim),
        x_test=observed[test].reshape(-1, dim),
        xdot_test=targets[test].reshape(-1, dim),
        train_trajectories=protocol.trajectories - test_count,
        test_trajectories=test_count,
        min_separation=None
        if separation is None
        else float(separation(clean.reshape(-1, dim)).min()),
    )


def point_counts(task: str) -> tuple[int, int]:
    """(training points, test points) of ``task``'s published protocol."""
    protocol = protocol_of(task)
    test = int(round(protocol.trajectories * protocol.test_fraction)) * protocol.points
    return protocol.trajectories * protocol.points - test, test


@dataclass(frozen=True)
class EnergySetup:
    """What the energy metric integrates: initial states (R, 2n), times (K,), the tolerance,
    and for measured data the measured states (K, R, 2n) that replace the true rollout."""

    states: np.ndarray
    times: np.ndarray
    rtol: float
    proxy: bool
    measured: np.ndarray | None = None


def energy_states(task: str, eval_seed: int) -> np.ndarray:
    """The 15 initial states of ``task``'s energy metric (module docstring)."""
    energy = protocol_of(task).energy
    if energy.legacy_seeds:
        return np.array([SAMPLERS[task](np.random.RandomState(i)) for i in range(energy.states)])
    rng = np.random.default_rng([eval_seed, 3])  # stream 3 of the evaluation seed
    magnitude = rng.random((energy.states, 2)) * 0.8 + 0.2
    return magnitude * rng.choice([-1.0, 1.0], size=(energy.states, 2))


def energy_setup(task: str, eval_seed: int) -> EnergySetup:
    """The energy metric of a simulated task."""
    energy = protocol_of(task).energy
    times = np.linspace(0.0, energy.horizon, energy.points)
    return EnergySetup(energy_states(task, eval_seed), times, energy.rtol, energy.proxy)

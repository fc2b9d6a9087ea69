"""A run's configuration checked and parsed once: ``validate`` rejects bad values before any
work, and ``RunSpec`` holds what the runner reads (seeds, data source, rollout shells, the
energy-trajectory study, the built system and trainer), so no fact of the config is parsed twice.
``runner.check`` makes the spec; ``runner.run`` executes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from hnnbench.checks import ConfigError, choice, flag, integer, number, text
from hnnbench.correction import CORRECTIONS
from hnnbench.data import INITIAL_RULES, SOURCES, TASK_SOURCES, DataSource
from hnnbench.evaluate import TrajectoryStudy
from hnnbench.hardware import check_hardware
from hnnbench.integrators import STEPPERS
from hnnbench.real_pendulum import locate, published_split, read_measurements
from hnnbench.tasks import PUBLISHED_PARAMS, TASKS, point_counts
from hnnbench.trainers import Trainer

#: the paper's seeds: run r uses data seed 3943 + r and model seed 992472 + r
DATA_SEED_BASE, MODEL_SEED_BASE, EVAL_SEED_BASE = 3943, 992472, 20241126


@dataclass(frozen=True)
class Seeds:
    data: int
    model: int
    eval: int


def seeds_of(cfg: DictConfig) -> Seeds:
    def pick(explicit: Any, base: int) -> int:
        return int(explicit) if explicit is not None else base + int(cfg.seed)

    return Seeds(
        pick(cfg.data_seed, DATA_SEED_BASE),
        pick(cfg.model_seed, MODEL_SEED_BASE),
        pick(cfg.eval_seed, EVAL_SEED_BASE),
    )


@dataclass(frozen=True)
class RunSpec:
    """One run, checked: its config and everything parsed or built from it."""

    cfg: DictConfig
    seeds: Seeds
    source: DataSource
    #: the rollout energy shells, fractions of the system's escape energy
    shells: tuple[float, ...]
    system: Any
    trainer: Trainer
    #: the energy-trajectory study, None when ``evaluation.trajectory.state`` is null
    trajectory: TrajectoryStudy | None

    @property
    def task(self) -> str | None:
        """The standard HNN task this run is, None for box data."""
        return task_name(self.source, self.system.name) if self.source.is_task else None


def validate(cfg: DictConfig) -> tuple[DataSource, tuple[float, ...]]:
    """Reject a bad top-level value with a ConfigError naming it and what is allowed (no I/O;
    the system's and the trainer's own parameters are checked by their constructors). Returns
    what it parsed on the way: the data source and the rollout energy shells."""
    text("name", cfg.name, folder_name=True)
    text("results_dir", cfg.results_dir)
    integer("hidden_width", cfg.hidden_width, 1)
    integer("train_points", cfg.train_points, 2)
    integer("test_points", cfg.test_points, 1)
    integer("validation_points", cfg.validation_points, 0)
    number("noise_std", cfg.noise_std, minimum=0)
    flag("noise_relative", cfg.noise_relative)
    integer("seed", cfg.seed, 0)
    for key in ("data_seed", "model_seed", "eval_seed"):
        integer(key, cfg[key], 0, null="from seed")
    # top-level so that a mixed sweep can set them; checked here whichever trainer runs
    integer("adam_steps", cfg.adam_steps, 1)
    integer("adam_eval_every", cfg.adam_eval_every, 1)
    number("adam_max_seconds", cfg.adam_max_seconds, above=0, null="no time cap")
    for key in ("save_model", "warmup", "progress"):
        flag(key, cfg[key])
    evaluation = cfg.evaluation
    integer("evaluation.rollouts", evaluation.rollouts, 1)
    number("evaluation.horizon", evaluation.horizon, above=0)
    number("evaluation.dt", evaluation.dt, above=0)
    choice("evaluation.integrator", evaluation.integrator, STEPPERS)
    number("evaluation.threshold", evaluation.threshold, above=0)
    number("evaluation.energy_floor", evaluation.energy_floor, above=0)
    number("evaluation.outside_scale", evaluation.outside_scale, above=1)
    integer("evaluation.outside_points", evaluation.outside_points, 1)
    integer("evaluation.boundary_rollouts", evaluation.boundary_rollouts, 1)
    number("evaluation.boundary_fraction", evaluation.boundary_fraction, above=0, below=1)
    choice("evaluation.initial_states", evaluation.initial_states, INITIAL_RULES)
    shells = shell_fractions(cfg)
    number("evaluation.divergence_scale", evaluation.divergence_scale, above=1)
    source = data_source(cfg)
    correction = choice("evaluation.correction", evaluation.correction, CORRECTIONS)
    if correction != "none" and source.source not in ("snapshots", "trajectories"):
        raise ConfigError(
            f"evaluation.correction={correction!r} corrects an Ĥ learned from snapshot pairs; "
            f"with data={source.source} use correction=none (or data=snapshots / trajectories)"
        )
    trajectory = evaluation.trajectory
    number("evaluation.trajectory.horizon", trajectory.horizon, above=0)
    number("evaluation.trajectory.dt", trajectory.dt, above=0)
    integer("evaluation.trajectory.samples", trajectory.samples, 2)
    number("timing.min_total_s", cfg.timing.min_total_s, minimum=0)
    integer("timing.min_repeats", cfg.timing.min_repeats, 1)
    flag("energy.enabled", cfg.energy.enabled)
    if cfg.energy.output_dir is not None:
        text("energy.output_dir", cfg.energy.output_dir)
    check_hardware(cfg.hardware.device, cfg.hardware.dtype, cfg.hardware.threads)
    return source, shells


def shell_fractions(cfg: DictConfig) -> tuple[float, ...]:
    """``evaluation.shell_fractions``: a non-empty list of numbers in (0, 1), the rollout
    energy shells as fractions of the system's escape energy."""
    node = cfg.evaluation.shell_fractions
    items = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
    if not isinstance(items, list) or not items:
        raise ConfigError(
            f"evaluation.shell_fractions={items!r} must be a non-empty list of numbers in "
            "(0, 1): fractions of the system's escape energy"
        )
    key = "evaluation.shell_fractions entry"
    return tuple(float(number(key, value, above=0, below=1)) for value in items)


def trajectory_of(cfg: DictConfig, dim: int) -> TrajectoryStudy | None:
    """The energy-trajectory study, or None when ``evaluation.trajectory.state`` is null; the
    state must be ``dim`` finite numbers (the system's phase space)."""
    node = cfg.evaluation.trajectory
    if node.state is None:
        return None
    state = OmegaConf.to_container(node.state) if OmegaConf.is_config(node.state) else node.state
    if not isinstance(state, list) or len(state) != dim:
        raise ConfigError(
            f"evaluation.trajectory.state={state!r} must be a list of {dim} numbers "
            f"(q1..qn, p1..pn of the system), or null"
        )
    for value in state:
        number("evaluation.trajectory.state entry", value)
    return TrajectoryStudy(
        np.asarray(state, dtype=float),
        float(node.horizon),
        float(node.dt),
        cfg.evaluation.integrator,
        int(node.samples),
    )


def data_source(cfg: DictConfig) -> DataSource:
    """The checked ``data`` group (derivatives, snapshots, trajectories) as a DataSource."""
    data = cfg.data
    source = choice("data.source", data.source, SOURCES)
    if source == "derivatives":
        return DataSource()
    if source in TASK_SOURCES:
        if cfg.noise_std != 0:
            raise ConfigError(
                f"noise_std={cfg.noise_std!r}: data={source} is a standard HNN task whose "
                "protocol fixes its noise; use noise_std=0"
            )
        path = data.get("path")
        if path is not None:
            text("data.path", path)
        return DataSource(source, path=path)
    if cfg.noise_std != 0:
        raise ConfigError(
            f"noise_std={cfg.noise_std!r} is noise on exact derivatives; with "
            f"data={source} use data.state_noise_std (noise on the observed states)"
        )
    dt_obs = number("data.dt_obs", data.dt_obs, above=0)
    noise = number("data.state_noise_std", data.state_noise_std, minimum=0)
    if source == "snapshots":
        return DataSource(source, float(dt_obs), state_noise_std=float(noise))
    observations = integer("data.observations", data.observations, 2)
    count = integer("data.trajectories", data.trajectories, 1, null="from train_points")
    if count is not None and count * (observations - 1) != cfg.train_points:
        raise ConfigError(
            f"data.trajectories={count} × (data.observations − 1 = {observations - 1}) pairs "
            f"must equal train_points={cfg.train_points} (or data.trajectories=null: "
            "⌈train_points / (observations − 1)⌉ trajectories)"
        )
    return DataSource(source, float(dt_obs), observations, count, float(noise))


def validation_for(validation_points: int, trainer: Trainer, is_task: bool = False) -> None:
    """A trainer that stops on its validation error (a plateau rule) needs validation points."""
    why = trainer.needs_validation()
    if why is not None and is_task:
        raise ConfigError(
            f"the standard HNN tasks have no validation split, and {why} needs one; "
            "use trainer.plateau_tolerance=null (the run then ends at its budget)"
        )
    if why is not None and validation_points < 1:
        raise ConfigError(
            f"validation_points={validation_points} must be >= 1 for {why}; "
            "or switch the rule off (trainer.plateau_tolerance=null)"
        )


def check_task(spec: RunSpec) -> None:
    """A standard HNN task's data source: a system it fits, the point counts its protocol
    fixes (the record's train_points / test_points are then true), the measured file found and
    verified (``real_pendulum.locate``: a download at most, before any work), and no SWIM
    oracle where no true H exists."""
    cfg, source, system, trainer = spec.cfg, spec.source, spec.system, spec.trainer
    if not source.is_task:
        return
    if source.source == "published":
        if system.name not in TASKS:
            raise ConfigError(
                f"data=published runs the standard HNN task named like the system; system "
                f"{system.name!r} has none; allowed systems: {list(TASKS)} (e.g. task=spring)"
            )
        counts = point_counts(system.name)
    else:
        if system.name != "pendulum":
            raise ConfigError(
                f"data=real_pendulum is a measured pendulum: use system=pendulum_real "
                f"(got system {system.name!r}), or task=real_pendulum"
            )
        counts = real_counts(source.path)
        if getattr(trainer, "method", None) == "swim":
            raise ConfigError(
                "trainer method 'swim' samples with the true H at the training points, which "
                "measured data do not have; allowed: elm, uswim, aswim"
            )
    task = task_name(source, system.name)
    if system.params != PUBLISHED_PARAMS[task]:
        raise ConfigError(
            f"data={source.source}: the published {task} task has {system.name} parameters "
            f"{PUBLISHED_PARAMS[task]}, not {system.params}; use task={task} (its system preset)"
        )
    if (cfg.train_points, cfg.test_points) != counts:
        raise ConfigError(
            f"train_points={cfg.train_points}, test_points={cfg.test_points} do not match "
            f"the protocol of data={source.source} on {system.name} ({counts[0]} training, "
            f"{counts[1]} test points); set train_points={counts[0]} test_points={counts[1]} "
            "(task=… sets them)"
        )


def real_counts(path: str | None) -> tuple[int, int]:
    """(training, test) rows of the measured pendulum's published split (the file is located and
    verified first: a ConfigError when it cannot be)."""
    split = published_split(*read_measurements(locate(path)))
    return len(split.x_train), len(split.x_test)


def no_hamiltonian(correction: str, trainer: Trainer) -> None:
    """A correction rewrites Ĥ: refused for a trainer whose model has none (S-MLP, Adam-MLP)."""
    if correction != "none" and not trainer.learns_hamiltonian:
        raise ConfigError(
            f"evaluation.correction={correction!r} corrects a learned Ĥ, and trainer "
            f"{trainer.method!r} learns ẋ without one; use evaluation.correction=none"
        )


def task_name(source: DataSource, system: str) -> str:
    """The standard HNN task of a task source: the measured pendulum, else the system's."""
    return "real_pendulum" if source.source == "real_pendulum" else system

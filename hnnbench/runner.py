"""One benchmark run: validate → build → train (timed, energy) → evaluate → write the record.

Timing boundary (identical for every trainer): ``fit_wall_time_s`` is the wall clock of
``trainer.fit(dataset)`` alone (data generation, rollout set-up and evaluation excluded; CUDA
synchronised before both clock reads). ``train_time_s`` is the trainer's own clock
(``Trainer.train_time_s_``, e.g. Adam's, which also excludes the learning-curve evaluations
inside ``fit``) when it keeps one, else the wall clock. Energy is tracked over the same ``fit``
call (learning-curve evaluations included). Generating the training data (``data/`` group:
derivatives, snapshots, trajectories) is outside that boundary; its wall clock is ``data_time_s``.

The runner only talks to the ``Trainer`` interface (``trainers/base.py``) and the model
interface (``model.py``): no trainer-specific code here.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from hnnbench.checks import (
    ConfigError,
    choice,
    flag,
    integer,
    number,
    one_line,
    text,
    writable_folder,
)
from hnnbench.correction import CORRECTIONS, corrected
from hnnbench.data import (
    INITIAL_RULES,
    SOURCES,
    TASK_SOURCES,
    DataSource,
    boundary_initial_states,
    initial_rule,
    make_dataset,
    make_outside_set,
    rollout_states,
    scaled_box,
)
from hnnbench.energy import EnergyMeter
from hnnbench.evaluate import (
    TRAJECTORY_FILE,
    RolloutSettings,
    TrajectoryStudy,
    evaluate,
    trajectory_study,
    write_trajectory,
)
from hnnbench.hardware import (
    apply_threads,
    check_hardware,
    dgemm_rate,
    environment,
    synchronize,
    threadpools,
)
from hnnbench.integrators import STEPPERS
from hnnbench.model import is_hamiltonian
from hnnbench.real_pendulum import locate, published_split, read_measurements
from hnnbench.record import (
    FIELDS,
    FROM_FIT_INFO,
    RECORD_NAME,
    SCHEMA_VERSION,
    is_complete,
    run_id_of,
    write_atomic,
)
from hnnbench.resources import check_memory
from hnnbench.task_evaluation import evaluate_task
from hnnbench.tasks import PUBLISHED_PARAMS, TASKS, point_counts
from hnnbench.timing import autorange
from hnnbench.trainers import Trainer
from hnnbench.trainers.malloc import tuned_malloc

log = logging.getLogger("hnnbench")

#: the paper's seeds: run r uses data seed 3943 + r and model seed 992472 + r
DATA_SEED_BASE, MODEL_SEED_BASE, EVAL_SEED_BASE = 3943, 992472, 20241126


class RunFailed(RuntimeError):
    """Raised after a failed run's record is written, so the process exit code says so."""


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


def validate(cfg: DictConfig) -> None:
    """Reject a bad top-level value with a ConfigError naming it and what is allowed (no I/O;
    the system's and the trainer's own parameters are checked by their constructors)."""
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
    shell_fractions(cfg)
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


def check_task(cfg: DictConfig, system: Any, trainer: Trainer) -> None:
    """A standard HNN task's data source: a system it fits, the point counts its protocol
    fixes (the record's train_points / test_points are then true), the measured file found and
    verified (``real_pendulum.locate``: a download at most, before any work), and no SWIM
    oracle where no true H exists."""
    source = data_source(cfg)
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


def check(
    cfg: DictConfig, memory: int | None = None, where: str = "this machine"
) -> tuple[Any, Trainer]:
    """Everything that can be rejected before any work: the values, a results folder that can
    be written, the system and trainer their constructors accept, and an estimated peak
    memory within ``memory`` bytes (default: this machine's; ``resources.py``). Returns the
    system and trainer built; raises ConfigError (a missing interpolation such as ``${nope}``
    is one too)."""
    try:
        validate(cfg)
        built = build(cfg, seeds_of(cfg))
        trajectory_of(cfg, len(built[0].domain))
        initial_rule(built[0], cfg.evaluation.initial_states, shell_fractions(cfg))
        no_hamiltonian(cfg.evaluation.correction, built[1])
        validation_for(cfg.validation_points, built[1], data_source(cfg).is_task)
        check_task(cfg, *built)
        check_memory(cfg, *built, available=memory, where=where)
        writable_folder("results_dir", cfg.results_dir)  # last: bad values leave no folder
        return built
    except OmegaConfBaseException as err:
        raise ConfigError(one_line(err)) from err


def _instantiate(group: str, node: DictConfig, **kwargs: Any) -> Any:
    """Hydra's instantiate; a constructor's refusal of a value becomes a ConfigError."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        # ValueError (ConfigError included): a refused value; TypeError: an unknown parameter
        message = str(cause) if isinstance(cause, (ValueError, TypeError)) else one_line(err)
        raise ConfigError(f"{group}: {message}") from err


def build(cfg: DictConfig, seeds: Seeds) -> tuple[Any, Trainer]:
    """The system and the trainer; the shared knobs go to whichever trainer is configured."""
    system = _instantiate("system", cfg.system)
    trainer = _instantiate(
        "trainer",
        cfg.trainer,
        hidden_width=cfg.hidden_width,
        model_seed=seeds.model,
        device=cfg.hardware.device,
        dtype=cfg.hardware.dtype,
    )
    if not isinstance(trainer, Trainer):
        raise ConfigError(
            f"trainer._target_={cfg.trainer.get('_target_')!r} built a "
            f"{type(trainer).__name__}, which does not implement hnnbench.trainers.Trainer"
        )
    trainer.progress = bool(cfg.progress)
    return system, trainer


def warm_up(trainer: Trainer, data: Any) -> None:
    """One tiny untimed fit, so one-time start-up (thread pools, lazy init) is never timed."""
    trainer.warmup_copy().fit(data.head(32))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def empty_record(
    cfg: DictConfig, resolved: dict[str, Any], run_id: str, seeds: Seeds, trainer: Trainer
) -> dict[str, Any]:
    """Every schema field, filled with what is known before the run starts."""
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    source = data_source(cfg)
    record.update(
        schema_version=SCHEMA_VERSION,
        run_id=run_id,
        name=cfg.name,
        system=cfg.system.name,
        system_params={
            k: v for k, v in cfg.system.items() if k not in ("_target_", "name", "domain")
        },
        hidden_width=cfg.hidden_width,
        train_points=cfg.train_points,
        test_points=cfg.test_points,
        validation_points=cfg.validation_points,
        noise_std=cfg.noise_std,
        noise_relative=cfg.noise_relative,
        data_source=source.source,
        task=None if not source.is_task else task_name(source, cfg.system.name),
        dt_obs=source.dt_obs,
        observations=source.observations,
        trajectories=None
        if source.source != "trajectories"
        else source.start_count(cfg.train_points),
        state_noise_std=None
        if source.source == "derivatives" or source.is_task
        else source.state_noise_std,
        correction=cfg.evaluation.correction,
        seed=cfg.seed,
        data_seed=seeds.data,
        model_seed=seeds.model,
        eval_seed=seeds.eval,
        device=cfg.hardware.device,
        dtype=cfg.hardware.dtype,
        started_at=now(),
        config=resolved,
    )
    record.update(trainer.record_fields())  # may name the dtype it trained in (train_dtype)
    return record


def task_name(source: DataSource, system: str) -> str:
    """The standard HNN task of a task source: the measured pendulum, else the system's."""
    return "real_pendulum" if source.source == "real_pendulum" else system


def resolved_task(cfg: DictConfig) -> dict[str, Any]:
    """The run's configuration resolved, without Hydra's own node (a sweep's job config has
    one; the run's own config has not): what the record holds and its run_id is made from."""
    task = copy.deepcopy(cfg)
    with open_dict(task):
        task.pop("hydra", None)
    resolved = OmegaConf.to_container(task, resolve=True)
    assert isinstance(resolved, dict)
    return resolved


def record_path(cfg: DictConfig) -> Path:
    """Where the run ``cfg`` writes its record (``run`` below; the SLURM launcher skips the
    runs whose record there is complete)."""
    return Path(cfg.results_dir) / cfg.name / run_id_of(resolved_task(cfg)) / RECORD_NAME


def run(cfg: DictConfig) -> str:
    """Run one configuration and write its record; return the status (``skipped`` when a
    complete record exists). A bad configuration raises ConfigError before any work and
    writes no record."""
    system, trainer = check(cfg)
    seeds = seeds_of(cfg)
    resolved = resolved_task(cfg)
    run_id = run_id_of(resolved)
    out_dir = Path(cfg.results_dir) / cfg.name / run_id
    record_path = out_dir / RECORD_NAME
    if is_complete(record_path):
        log.info("run %s already has a complete record at %s: skipped", run_id, record_path)
        return "skipped"
    record = empty_record(cfg, resolved, run_id, seeds, trainer)
    record["domain"] = system.domain.tolist()
    record["environment"] = environment()
    try:
        record.update(execute(cfg, seeds, system, trainer, out_dir))
    except Exception as err:
        record.update(status="failed", error=f"{type(err).__name__}: {err}")
        record["fit_info"] = {"traceback": traceback.format_exc()}
        record["finished_at"] = now()
        try:
            write_atomic(record_path, record)
        except OSError as write_err:  # e.g. the disk is full: report both, the run's error first
            message = f"run {run_id} failed: {record['error']}; its record not written: {write_err}"
            log.error(message)
            raise RunFailed(message) from err
        log.error("run %s failed: %s (record: %s)", run_id, record["error"], record_path)
        raise RunFailed(f"run {run_id} failed: {record['error']}") from err
    # after the timed fit: this machine's DGEMM rate at the run's threads (once per process)
    record["environment"].update(dgemm_rate(record["threads"]), threadpools=threadpools())
    record["finished_at"] = now()
    write_atomic(record_path, record)
    log.info(
        "run %s %s: %s/%s on %s, train %.3g s, test rel-L2(H) %s, rel-L2(ẋ) %s → %s",
        run_id,
        record["status"],
        record["trainer"],
        record["method"],
        record["system"],
        record["train_time_s"],
        _short(record["test_H_rel_l2"]),
        _short(record["test_xdot_rel_l2"]),
        record_path,
    )
    return record["status"]


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def execute(
    cfg: DictConfig, seeds: Seeds, system: Any, trainer: Trainer, out_dir: Path
) -> dict[str, Any]:
    """Data (untimed) → fit (timed, energy) → evaluation; the record fields it produced."""
    threads = apply_threads(cfg.hardware.threads)
    source = data_source(cfg)
    start = time.perf_counter()
    data = make_dataset(
        system,
        cfg.train_points,
        cfg.test_points,
        seeds.data,
        cfg.noise_std,
        cfg.noise_relative,
        source,
        cfg.validation_points,
    )
    data_time = time.perf_counter() - start
    evaluation = cfg.evaluation
    if data.task is None:  # box data: rollout, outside and boundary sets from the domain
        initial_states, rule = rollout_states(
            system,
            evaluation.rollouts,
            evaluation.horizon,
            seeds.eval,
            evaluation.initial_states,
            shell_fractions(cfg),
        )
        outside = make_outside_set(
            system, evaluation.outside_points, evaluation.outside_scale, seeds.eval
        )
        boundary = boundary_initial_states(
            system, evaluation.boundary_rollouts, seeds.eval, evaluation.boundary_fraction
        )
    device = torch.device(cfg.hardware.device)
    if cfg.warmup:
        warm_up(trainer, data)
    energy_dir = Path(cfg.energy.output_dir) if cfg.energy.output_dir else out_dir / "codecarbon"

    def fit_once() -> tuple[Any, float | None]:
        synchronize(device)
        model = trainer.fit(data)
        synchronize(device)
        return model, trainer.train_time_s_

    with EnergyMeter(energy_dir, cfg.energy.country_iso_code, cfg.energy.enabled) as meter:
        fits = autorange(  # timing.py: the rules
            fit_once,
            float(cfg.timing.min_total_s),
            int(cfg.timing.min_repeats),
            before_counted=meter.restart,
        )
    model = fits.result
    reading = meter.reading.per_fit(fits.repeats)
    fields: dict[str, Any] = {
        "threads": threads,
        "hamiltonian": is_hamiltonian(model),  # False: an MLP, whose H metrics are null
        "fit_wall_time_s": fits.wall,
        "data_time_s": data_time,
        **fits.summary(threads),
        **reading.as_dict(),
    }
    fields.pop("hardware")
    fit_info = dict(trainer.fit_info_, energy_hardware=reading.hardware)
    fields["fit_info"] = fit_info
    for key in FROM_FIT_INFO:  # null for a trainer whose fit_info lacks them
        fields[key] = fit_info.get(key)
    if fit_info.get("rcond_mode") == "auto":  # the record holds the value GCV chose
        fields["rcond"] = fit_info.get("rcond")
    fields["learning_curve"] = trainer.learning_curve_ or None  # None: no iterations
    own_clock = fits.own_clock
    fields["train_time_s"] = fits.wall if own_clock is None else own_clock
    if trainer.status_ != "ok":
        fields.update(status=trainer.status_, error=trainer.status_message_)
        return fields
    if data.task is not None:  # a standard HNN task: its own metrics and rollouts
        fields.update(evaluate_task(model, data, system, seeds.eval, evaluation.threshold,
                                    evaluation.energy_floor))  # fmt: skip
        return finish(cfg, model, system, data, fields, out_dir)
    settings = RolloutSettings(
        initial_states,
        evaluation.horizon,
        evaluation.dt,
        evaluation.integrator,
        evaluation.threshold,
        evaluation.energy_floor,
        boundary,
        scaled_box(system.domain, evaluation.divergence_scale),
        rule,
    )
    # the backward-error correction changes Ĥ for the H metrics only (correction.py)
    scored = corrected(model, evaluation.correction, source.dt_obs, data.anchor, data.anchor_H)
    # same bits, less kernel time: at width 5000 the (20 000 × M) temporaries of the test
    # errors were mapped and page-faulted afresh on every call (7.0 s → 5.0 s measured)
    with tuned_malloc():
        fields.update(evaluate(scored, data, system, settings, outside))
    return finish(cfg, model, system, data, fields, out_dir)


def finish(
    cfg: DictConfig, model: Any, system: Any, data: Any, fields: dict[str, Any], out_dir: Path
) -> dict[str, Any]:
    """After the evaluation: the energy-trajectory study (when asked for), the status, the
    saved model; returns ``fields``."""
    study = trajectory_of(cfg, data.x_train.shape[1])
    if study is not None:  # written before the record, so a complete record has its file
        fields["trajectory"], arrays = trajectory_study(model, system, study)
        write_trajectory(out_dir / TRAJECTORY_FILE, arrays)
    fields["status"] = "ok"
    if cfg.save_model:
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save(
            out_dir / "model",
            metadata={"run_id": out_dir.name, "method": fields["fit_info"].get("method")},
        )
    return fields

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
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from hnnbench.checks import ConfigError, one_line, writable_folder
from hnnbench.correction import corrected
from hnnbench.data import (
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
    evaluate,
    trajectory_study,
    write_trajectory,
)
from hnnbench.hardware import apply_threads, dgemm_rate, environment, synchronize, threadpools
from hnnbench.model import is_hamiltonian
from hnnbench.record import (
    FIELDS,
    RECORD_NAME,
    SCHEMA_VERSION,
    is_complete,
    run_id_of,
    write_atomic,
)
from hnnbench.resources import check_memory
from hnnbench.run_spec import (
    RunSpec,
    Seeds,
    check_task,
    no_hamiltonian,
    seeds_of,
    trajectory_of,
    validate,
    validation_for,
)
from hnnbench.task_evaluation import evaluate_task
from hnnbench.timing import autorange
from hnnbench.trainers import Trainer
from hnnbench.trainers.malloc import tuned_malloc

log = logging.getLogger("hnnbench")


class RunFailed(RuntimeError):
    """Raised after a failed run's record is written, so the process exit code says so."""


def check(cfg: DictConfig, memory: int | None = None, where: str = "this machine") -> RunSpec:
    """Everything that can be rejected before any work: the values, a results folder that can
    be written, the system and trainer their constructors accept, and an estimated peak
    memory within ``memory`` bytes (default: this machine's; ``resources.py``). Returns the
    run's spec (``run_spec.py``); raises ConfigError (a missing interpolation such as
    ``${nope}`` is one too)."""
    try:
        source, shells = validate(cfg)
        seeds = seeds_of(cfg)
        system, trainer = build(cfg, seeds)
        trajectory = trajectory_of(cfg, len(system.domain))
        spec = RunSpec(cfg, seeds, source, shells, system, trainer, trajectory)
        initial_rule(system, cfg.evaluation.initial_states, shells)
        no_hamiltonian(cfg.evaluation.correction, trainer)
        validation_for(cfg.validation_points, trainer, source.is_task)
        check_task(spec)
        check_memory(cfg, system, trainer, available=memory, where=where)
        writable_folder("results_dir", cfg.results_dir)  # last: bad values leave no folder
        return spec
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


def empty_record(spec: RunSpec, resolved: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Every schema field, filled with what is known before the run starts."""
    cfg, seeds, source = spec.cfg, spec.seeds, spec.source
    record: dict[str, Any] = dict.fromkeys(FIELDS)
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
        task=spec.task,
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
    record.update(spec.trainer.record_fields())  # may name the dtype it trained in (train_dtype)
    return record


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
    spec = check(cfg)
    resolved = resolved_task(cfg)
    run_id = run_id_of(resolved)
    out_dir = Path(cfg.results_dir) / cfg.name / run_id
    record_path = out_dir / RECORD_NAME
    if is_complete(record_path):
        log.info("run %s already has a complete record at %s: skipped", run_id, record_path)
        return "skipped"
    record = empty_record(spec, resolved, run_id)
    record["domain"] = spec.system.domain.tolist()
    record["environment"] = environment()
    try:
        record.update(execute(spec, out_dir))
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


def execute(spec: RunSpec, out_dir: Path) -> dict[str, Any]:
    """Data (untimed) → fit (timed, energy) → evaluation; the record fields it produced."""
    cfg = spec.cfg
    threads = apply_threads(cfg.hardware.threads)
    start = time.perf_counter()
    data = make_dataset(
        spec.system,
        cfg.train_points,
        cfg.test_points,
        spec.seeds.data,
        cfg.noise_std,
        cfg.noise_relative,
        spec.source,
        cfg.validation_points,
    )
    data_time = time.perf_counter() - start
    # box data: the rollout, outside and boundary sets are made before the fit, so a rule
    # that cannot be met fails in seconds, not after the training
    settings = None if data.task is not None else rollout_settings(spec)
    if cfg.warmup:
        warm_up(spec.trainer, data)
    model, fields = timed_fit(spec, data, threads, out_dir)
    fields["data_time_s"] = data_time
    if spec.trainer.status_ != "ok":
        fields.update(status=spec.trainer.status_, error=spec.trainer.status_message_)
        return fields
    if settings is None:  # a standard HNN task: its own metrics and rollouts
        evaluation = cfg.evaluation
        fields.update(evaluate_task(model, data, spec.system, spec.seeds.eval,
                                    evaluation.threshold, evaluation.energy_floor))  # fmt: skip
        return finish(spec, model, data, fields, out_dir)
    # the backward-error correction changes Ĥ for the H metrics only (correction.py)
    scored = corrected(
        model, cfg.evaluation.correction, spec.source.dt_obs, data.anchor, data.anchor_H
    )
    # same bits, less kernel time: at width 5000 the (20 000 × M) temporaries of the test
    # errors were mapped and page-faulted afresh on every call (7.0 s → 5.0 s measured)
    with tuned_malloc():
        fields.update(evaluate(scored, data, spec.system, *settings))
    return finish(spec, model, data, fields, out_dir)


def rollout_settings(spec: RunSpec) -> tuple[RolloutSettings, Any]:
    """The evaluation's rollout settings and outside-the-box set, from the domain."""
    system, evaluation, seed = spec.system, spec.cfg.evaluation, spec.seeds.eval
    initial_states, rule = rollout_states(
        system,
        evaluation.rollouts,
        evaluation.horizon,
        seed,
        evaluation.initial_states,
        spec.shells,
    )
    outside = make_outside_set(system, evaluation.outside_points, evaluation.outside_scale, seed)
    boundary = boundary_initial_states(
        system, evaluation.boundary_rollouts, seed, evaluation.boundary_fraction
    )
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
    return settings, outside


def timed_fit(spec: RunSpec, data: Any, threads: int, out_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The timed fit, repeated when short (``timing.py``), under the energy meter; the model
    and the record fields of the training (clocks, energy, what the trainer reports)."""
    cfg, trainer = spec.cfg, spec.trainer
    device = torch.device(cfg.hardware.device)
    energy_dir = Path(cfg.energy.output_dir) if cfg.energy.output_dir else out_dir / "codecarbon"

    def fit_once() -> tuple[Any, float | None]:
        synchronize(device)
        model = trainer.fit(data)
        synchronize(device)
        return model, trainer.train_time_s_

    with EnergyMeter(energy_dir, cfg.energy.country_iso_code, cfg.energy.enabled) as meter:
        fits = autorange(
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
        **fits.summary(threads),
        **reading.as_dict(),
    }
    fields.pop("hardware")
    fields["fit_info"] = dict(trainer.fit_info_, energy_hardware=reading.hardware)
    fields.update(trainer.fitted_fields())
    fields["learning_curve"] = trainer.learning_curve_ or None  # None: no iterations
    own_clock = fits.own_clock
    fields["train_time_s"] = fits.wall if own_clock is None else own_clock
    return model, fields


def finish(
    spec: RunSpec, model: Any, data: Any, fields: dict[str, Any], out_dir: Path
) -> dict[str, Any]:
    """After the evaluation: the energy-trajectory study (when asked for), the status, the
    saved model; returns ``fields``."""
    if spec.trajectory is not None:  # written before the record, so a complete record has it
        fields["trajectory"], arrays = trajectory_study(model, spec.system, spec.trajectory)
        write_trajectory(out_dir / TRAJECTORY_FILE, arrays)
    fields["status"] = "ok"
    if spec.cfg.save_model:
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save(
            out_dir / "model",
            metadata={"run_id": out_dir.name, "method": fields["fit_info"].get("method")},
        )
    return fields

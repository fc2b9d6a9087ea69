"""One benchmark run: validate → build → train (timed, energy) → evaluate → write the record.

Timing boundary (identical for every trainer): ``fit_wall_time_s`` is the wall clock of
``trainer.fit(dataset)`` alone (data generation, rollout set-up and evaluation excluded; CUDA
synchronised before both clock reads). ``train_time_s`` equals it for sampled trainers; for Adam
it is the trainer's own clock, which also excludes the learning-curve evaluations inside ``fit``.
Energy is tracked over the same ``fit`` call (learning-curve evaluations included).
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

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from hnnbench.data import make_dataset, rollout_initial_states
from hnnbench.energy import EnergyMeter
from hnnbench.evaluate import RolloutSettings, rollout_metrics, test_errors
from hnnbench.hardware import apply_threads, check_hardware, environment
from hnnbench.integrators import check_integrator
from hnnbench.record import (
    FIELDS,
    RECORD_NAME,
    SCHEMA_VERSION,
    is_complete,
    run_id_of,
    write_atomic,
)
from hnnbench.trainers import AdamTrainer
from hnnbench.trainers.adam import synchronize

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
    """Reject bad input with a message naming the value and what is allowed, before any work."""
    checks = [
        (cfg.hidden_width >= 1, f"hidden_width={cfg.hidden_width} must be >= 1"),
        (cfg.train_points >= 2, f"train_points={cfg.train_points} must be >= 2"),
        (cfg.test_points >= 1, f"test_points={cfg.test_points} must be >= 1"),
        (cfg.noise_std >= 0, f"noise_std={cfg.noise_std} must be >= 0"),
        (cfg.evaluation.horizon > 0, f"evaluation.horizon={cfg.evaluation.horizon} must be > 0"),
        (cfg.evaluation.dt > 0, f"evaluation.dt={cfg.evaluation.dt} must be > 0"),
        (
            cfg.evaluation.rollouts >= 1,
            f"evaluation.rollouts={cfg.evaluation.rollouts} must be >= 1",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    check_integrator(cfg.evaluation.integrator)
    check_hardware(cfg.hardware.device, cfg.hardware.dtype, cfg.hardware.threads)


def build(cfg: DictConfig, seeds: Seeds) -> tuple[Any, Any]:
    """The system and the trainer; the shared knobs go to whichever trainer is configured."""
    system = instantiate(cfg.system)
    trainer = instantiate(
        cfg.trainer,
        hidden_width=cfg.hidden_width,
        model_seed=seeds.model,
        device=cfg.hardware.device,
        dtype=cfg.hardware.dtype,
    )
    if isinstance(trainer, AdamTrainer):
        trainer.progress = bool(cfg.progress)
    return system, trainer


def warm_up(trainer: Any, data: Any) -> None:
    """One tiny untimed fit, so one-time start-up (thread pools, lazy init) is never timed."""
    tiny = copy.copy(trainer)
    tiny.hidden_width = min(trainer.hidden_width, 8)
    if isinstance(tiny, AdamTrainer):
        tiny.steps, tiny.eval_every, tiny.progress = 2, 1, False
    tiny.fit(data.head(32))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def empty_record(
    cfg: DictConfig, resolved: dict[str, Any], run_id: str, seeds: Seeds, trainer: Any
) -> dict[str, Any]:
    """Every schema field, filled with what is known before the run starts."""
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record.update(
        schema_version=SCHEMA_VERSION,
        run_id=run_id,
        name=cfg.name,
        system=cfg.system.name,
        system_params={
            k: v for k, v in cfg.system.items() if k not in ("_target_", "name", "domain")
        },
        trainer="adam" if isinstance(trainer, AdamTrainer) else "sampled",
        method=cfg.trainer.get("method", "adam"),
        solver=cfg.trainer.get("solver"),
        rcond=cfg.trainer.get("rcond"),
        hidden_width=cfg.hidden_width,
        train_points=cfg.train_points,
        test_points=cfg.test_points,
        noise_std=cfg.noise_std,
        seed=cfg.seed,
        data_seed=seeds.data,
        model_seed=seeds.model,
        eval_seed=seeds.eval,
        device=cfg.hardware.device,
        dtype=cfg.hardware.dtype,
        started_at=now(),
        config=resolved,
    )
    return record


def run(cfg: DictConfig) -> str:
    """Run one configuration and write its record; return the status."""
    validate(cfg)
    seeds = seeds_of(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    run_id = run_id_of(resolved)
    out_dir = Path(cfg.results_dir) / cfg.name / run_id
    record_path = out_dir / RECORD_NAME
    if is_complete(record_path):
        log.info("run %s already has a complete record at %s: skipped", run_id, record_path)
        return "skipped"
    system, trainer = build(cfg, seeds)  # bad names / parameters / domains fail here, early
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
    record["finished_at"] = now()
    write_atomic(record_path, record)
    log.info(
        "run %s %s: %s/%s on %s, train %.3g s, test rel-L2(H) %.3g → %s",
        run_id,
        record["status"],
        record["trainer"],
        record["method"],
        record["system"],
        record["train_time_s"],
        record["test_H_rel_l2"],
        record_path,
    )
    return record["status"]


def execute(
    cfg: DictConfig, seeds: Seeds, system: Any, trainer: Any, out_dir: Path
) -> dict[str, Any]:
    """Data (untimed) → fit (timed, energy) → evaluation; the record fields it produced."""
    threads = apply_threads(cfg.hardware.threads)
    data = make_dataset(system, cfg.train_points, cfg.test_points, seeds.data, cfg.noise_std)
    evaluation = cfg.evaluation
    initial_states = rollout_initial_states(
        system, evaluation.rollouts, evaluation.horizon, seeds.eval
    )
    device = torch.device(cfg.hardware.device)
    if cfg.warmup:
        warm_up(trainer, data)
    energy_dir = Path(cfg.energy.output_dir) if cfg.energy.output_dir else out_dir / "codecarbon"
    with EnergyMeter(energy_dir, cfg.energy.country_iso_code, cfg.energy.enabled) as meter:
        synchronize(device)
        start = time.perf_counter()
        net = trainer.fit(data)
        synchronize(device)
        fit_wall = time.perf_counter() - start
    fields: dict[str, Any] = {
        "threads": threads,
        "fit_wall_time_s": fit_wall,
        **meter.reading.as_dict(),
    }
    fields.pop("hardware")
    fit_info = dict(trainer.fit_info_, energy_hardware=meter.reading.hardware)
    fields["fit_info"] = fit_info
    fields["effective_rank"] = fit_info.get("effective_rank")
    if isinstance(trainer, AdamTrainer):
        fields["learning_curve"] = trainer.learning_curve_
        fields["train_time_s"] = (
            trainer.learning_curve_[-1]["seconds"] if trainer.learning_curve_ else fit_wall
        )
        if trainer.diverged_:
            fields["status"] = "diverged"
            fields["error"] = f"non-finite loss at step {trainer.steps_done_}"
            return fields
    else:
        fields["train_time_s"] = fit_wall
    fields.update(test_errors(net, data))
    settings = RolloutSettings(
        initial_states,
        evaluation.horizon,
        evaluation.dt,
        evaluation.integrator,
        evaluation.threshold,
        evaluation.energy_floor,
    )
    rollout = rollout_metrics(net, system, settings)
    for key in (
        "rollout_rel_error_final",
        "rollout_rel_error_mean",
        "energy_drift",
        "valid_prediction_time",
    ):
        fields[key] = rollout[key]
    fields["rollout"] = rollout
    fields["status"] = "ok"
    if cfg.save_model:
        out_dir.mkdir(parents=True, exist_ok=True)
        net.save(
            out_dir / "model",
            metadata={"run_id": out_dir.name, "method": fields["fit_info"].get("method")},
        )
    return fields

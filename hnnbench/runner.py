"""One benchmark run: validate → build → train (timed, energy) → evaluate → write the record.

Timing boundary (identical for every trainer): ``fit_wall_time_s`` is the wall clock of
``trainer.fit(dataset)`` alone (data generation, rollout set-up and evaluation excluded; CUDA
synchronised before both clock reads). ``train_time_s`` is the trainer's own clock
(``Trainer.train_time_s_``, e.g. Adam's, which also excludes the learning-curve evaluations
inside ``fit``) when it keeps one, else the wall clock. Energy is tracked over the same ``fit``
call (learning-curve evaluations included).

The runner only talks to the ``Trainer`` interface (``trainers/base.py``) and the model
interface (``model.py``): no trainer-specific code here.
"""

from __future__ import annotations

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
from hnnbench.evaluate import RolloutSettings, evaluate
from hnnbench.hardware import apply_threads, check_hardware, environment, synchronize
from hnnbench.integrators import check_integrator
from hnnbench.record import (
    FIELDS,
    RECORD_NAME,
    SCHEMA_VERSION,
    is_complete,
    run_id_of,
    write_atomic,
)
from hnnbench.trainers import Trainer

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


def build(cfg: DictConfig, seeds: Seeds) -> tuple[Any, Trainer]:
    """The system and the trainer; the shared knobs go to whichever trainer is configured."""
    system = instantiate(cfg.system)
    trainer = instantiate(
        cfg.trainer,
        hidden_width=cfg.hidden_width,
        model_seed=seeds.model,
        device=cfg.hardware.device,
        dtype=cfg.hardware.dtype,
    )
    if not isinstance(trainer, Trainer):
        raise TypeError(
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
    record.update(trainer.record_fields())  # may name the dtype it trained in (train_dtype)
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
        model = trainer.fit(data)
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
    fields["learning_curve"] = trainer.learning_curve_ or None  # None: no iterations
    fields["train_time_s"] = fit_wall if trainer.train_time_s_ is None else trainer.train_time_s_
    if trainer.status_ != "ok":
        fields.update(status=trainer.status_, error=trainer.status_message_)
        return fields
    settings = RolloutSettings(
        initial_states,
        evaluation.horizon,
        evaluation.dt,
        evaluation.integrator,
        evaluation.threshold,
        evaluation.energy_floor,
    )
    fields.update(evaluate(model, data, system, settings))
    fields["status"] = "ok"
    if cfg.save_model:
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save(
            out_dir / "model",
            metadata={"run_id": out_dir.name, "method": fields["fit_info"].get("method")},
        )
    return fields

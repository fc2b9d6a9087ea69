import re

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from conftest import CONF
from hnnbench import systems
from hnnbench.run_spec import seeds_of, validate
from hnnbench.runner import build
from hnnbench.trainers import (
    AdamTrainer,
    AdamTunedTrainer,
    BackpropTrainer,
    LBFGSTrainer,
    SampledTrainer,
)

SYSTEMS = sorted(p.stem for p in (CONF / "system").glob("*.yaml"))
TRAINERS = sorted(p.stem for p in (CONF / "trainer").glob("*.yaml"))
#: parameter presets of a system (spring_standard, ...): composed with two trainers, not all
PRESETS = [name for name in SYSTEMS if name not in systems.names()]
PAIRS = [(s, t) for s in SYSTEMS if s not in PRESETS for t in TRAINERS] + [
    (s, t) for s in PRESETS for t in ("aswim", "hnn_published")
]
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def composed(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize(("system", "trainer"), PAIRS)
def test_every_system_and_trainer_composes_and_instantiates(system, trainer):
    cfg = composed(f"system={system}", f"trainer={trainer}")
    validate(cfg)
    built_system, built_trainer = build(cfg, seeds_of(cfg))
    # a preset (spring_standard, pendulum_real, ...) builds the system it is named after
    assert system.startswith(built_system.name)
    expected = {"backprop": BackpropTrainer, "sampled": SampledTrainer}[built_trainer.kind]
    assert isinstance(built_trainer, expected)
    assert built_trainer.hidden_width == cfg.hidden_width


def sweep_choices(experiment: str) -> list[str]:
    """The first value of every sweeper parameter of an experiment, as overrides."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="config", overrides=[f"experiment={experiment}"], return_hydra_config=True
        )
    params = cfg.hydra.sweeper.params or {}
    return [f"{key}={str(value).split(',')[0]}" for key, value in params.items()]


@pytest.mark.parametrize(
    ("experiment", "cls", "method"),
    [
        ("claims_adam", AdamTrainer, "adam"),
        ("claims_adam_lite", AdamTrainer, "adam"),
        ("claims_adam_tuned", AdamTunedTrainer, "adam_tuned"),
        ("claims_adam_tuned_lite", AdamTunedTrainer, "adam_tuned"),
        ("claims_lbfgs", LBFGSTrainer, "lbfgs"),
        ("claims_lbfgs_lite", LBFGSTrainer, "lbfgs"),
        ("claims_converged_lbfgs", LBFGSTrainer, "lbfgs"),
        ("claims_converged_lbfgs_lite", LBFGSTrainer, "lbfgs"),
        ("claims_converged_adam_tuned", AdamTunedTrainer, "adam_tuned"),
        ("claims_converged_adam_tuned_lite", AdamTunedTrainer, "adam_tuned"),
    ],
)
def test_claims_backprop_experiments_build_their_trainer(experiment, cls, method):
    """Each run of the sweep builds the right trainer with the claims budget."""
    cfg = composed(f"experiment={experiment}", *sweep_choices(experiment))
    validate(cfg)
    _, trainer = build(cfg, seeds_of(cfg))
    assert type(trainer) is cls and trainer.method == method
    assert trainer.max_seconds == cfg.adam_max_seconds and trainer.steps == cfg.adam_steps
    assert trainer.hidden_width == (200 if experiment.endswith("_lite") else 1000)


def test_backprop_presets_extend_adam():
    """adam_tuned, lbfgs and the paper presets inherit adam.yaml's keys (Hydra defaults)."""
    base = composed("trainer=adam").trainer
    for preset in ("adam_tuned", "lbfgs", "adam_lowdim", "adam_chaotic"):
        trainer = composed(f"trainer={preset}").trainer
        assert set(base) <= set(trainer), preset
    tuned = composed("trainer=adam_tuned", "adam_steps=77", "adam_max_seconds=5").trainer
    assert (tuned.steps, tuned.max_seconds, tuned.grad_mode) == (77, 5, "fused")
    lbfgs = composed("trainer=lbfgs").trainer
    assert (lbfgs.lr, lbfgs.batch_size, lbfgs.weight_decay) == (1.0, "full", 0.0)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment):
    cfg = composed(f"experiment={experiment}")
    validate(cfg)
    build(cfg, seeds_of(cfg))


@pytest.mark.parametrize("hardware", ["cpu", "cuda"])
def test_hardware_options(hardware):
    cfg = composed(f"hardware={hardware}")
    if hardware == "cuda" and not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            validate(cfg)
    else:
        validate(cfg)


def test_presets_set_the_paper_values():
    lowdim = composed("trainer=adam_lowdim")
    assert (lowdim.hidden_width, lowdim.trainer.steps, lowdim.trainer.lr) == (1000, 15000, 5e-4)
    chaotic = composed("trainer=adam_chaotic")
    assert (chaotic.hidden_width, chaotic.trainer.steps, chaotic.trainer.lr) == (5000, 180000, 1e-4)
    assert composed("trainer=adam_lowdim", "trainer.steps=50").trainer.steps == 50


def test_seed_rule():
    seeds = seeds_of(composed("seed=2"))
    assert (seeds.data, seeds.model) == (3945, 992474)
    assert seeds_of(composed("seed=2", "data_seed=7")).data == 7


def test_shared_knobs_reach_both_trainers():
    for trainer in ("aswim", "adam"):
        cfg = composed(f"trainer={trainer}", "hidden_width=77", "hardware.dtype=float32")
        _, built = build(cfg, seeds_of(cfg))
        assert (built.hidden_width, built.dtype) == (77, "float32")


def test_instantiate_system_with_domain():
    cfg = composed("system=spring", "system.domain=[[-2,2],[-3,3]]")
    assert instantiate(cfg.system).domain.tolist() == [[-2, 2], [-3, 3]]


@pytest.mark.parametrize(
    "launcher", ["basic", "joblib", "submitit_local", "submitit_slurm", "slurm", "parallel"]
)
def test_launchers_compose(launcher):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True
        )
    assert cfg.hydra.launcher._target_


def test_dimension_sweep_lite_is_its_full_twin_plus_cuts():
    def sweep(experiment):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(
                config_name="config",
                overrides=[f"experiment={experiment}"],
                return_hydra_config=True,
            )
        return cfg, dict(cfg.hydra.sweeper.params)

    full, full_sweep = sweep("dimension_sweep")
    lite, lite_sweep = sweep("dimension_sweep_lite")
    assert full_sweep["system.dof"] == "1,2,4,8,16,32,64"
    assert lite_sweep["system.dof"] == "1,2,4,8,16,32"
    expected = {"system": "fput,toda", "trainer": "elm,uswim,aswim,adam"}
    for key, value in expected.items():  # inherited, not repeated
        assert lite_sweep[key] == full_sweep[key] == value
    assert (full.adam_max_seconds, lite.adam_max_seconds) == (600, 10)
    assert lite.hidden_width < full.hidden_width and lite.train_points < full.train_points
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        compose_adam = compose(
            config_name="config", overrides=["experiment=dimension_sweep_lite", "trainer=adam"]
        )
        adam = compose(config_name="config", overrides=["trainer=adam"])
    assert (compose_adam.trainer.eval_every, adam.trainer.eval_every) == (25, 100)
    cfg = composed("experiment=dimension_sweep_lite", "system=toda", "system.dof=32")
    assert build(cfg, seeds_of(cfg))[0].dim == 64


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["evaluation.outside_scale=1.0"], "evaluation.outside_scale=1.0 must be > 1"),
        (["evaluation.outside_points=0"], "evaluation.outside_points=0 must be >= 1"),
        (["evaluation.boundary_rollouts=0"], "evaluation.boundary_rollouts=0 must be >= 1"),
        (["evaluation.boundary_fraction=1.5"], "boundary_fraction=1.5 must be in (0, 1)"),
        (["system=fput", "system.dof=65"], "dof=65 of 'fput' is out of range; allowed: 1..64"),
        (["system=toda", "system.dof=2.5"], "dof=2.5 of 'toda' must be an integer in 1..64"),
    ],
)
def test_bad_evaluation_and_dof_settings_are_rejected_before_any_work(overrides, message):
    """In process (the runner's validate + build, which run before any data is made); Hydra
    wraps the system's ValueError in its InstantiationException, message kept."""
    cfg = composed(*overrides)
    with pytest.raises((ValueError, InstantiationException), match=re.escape(message)):
        validate(cfg)
        build(cfg, seeds_of(cfg))


def test_noise_and_rcond_sweeps_lite_are_their_full_twins_plus_cuts():
    def sweep(experiment, *overrides):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(
                config_name="config",
                overrides=[f"experiment={experiment}", *overrides],
                return_hydra_config=True,
            )
        return cfg, dict(cfg.hydra.sweeper.params)

    full, full_sweep = sweep("rcond_sweep")
    lite, lite_sweep = sweep("rcond_sweep_lite")
    rconds = "1e-16,1e-15,1e-14,1e-13,1e-12,1e-10,1e-8,auto"
    assert lite_sweep["trainer.rcond"] == full_sweep["trainer.rcond"] == rconds  # inherited
    assert (full_sweep["trainer"], lite_sweep["trainer"]) == ("elm,aswim", "aswim")
    assert lite.hidden_width < full.hidden_width and lite.train_points < full.train_points
    full, full_sweep = sweep("noise_sweep")
    lite, lite_sweep = sweep("noise_sweep_lite", "trainer=aswim_auto")
    assert lite_sweep["noise_std"] == full_sweep["noise_std"] == "0,1e-6,1e-4,1e-2"
    assert lite.noise_relative and full.noise_relative and lite.trainer.rcond == "auto"
    assert (full.adam_max_seconds, lite.adam_max_seconds) == (600, 10)
    assert lite_sweep["system"] == "pendulum,henon_heiles"

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from conftest import CONF
from hnnbench.runner import build, seeds_of, validate
from hnnbench.trainers import (
    AdamTrainer,
    AdamTunedTrainer,
    BackpropTrainer,
    LBFGSTrainer,
    SampledTrainer,
)

SYSTEMS = sorted(p.stem for p in (CONF / "system").glob("*.yaml"))
TRAINERS = sorted(p.stem for p in (CONF / "trainer").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def composed(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("trainer", TRAINERS)
def test_every_system_and_trainer_composes_and_instantiates(system, trainer):
    cfg = composed(f"system={system}", f"trainer={trainer}")
    validate(cfg)
    built_system, built_trainer = build(cfg, seeds_of(cfg))
    assert built_system.name == system
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

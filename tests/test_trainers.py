"""Every trainer config against the one Trainer interface, and the metric registry.

Parametrised over every YAML in conf/trainer/, so a new trainer is covered by adding its YAML.
"""

import copy

import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import (
    boundary_initial_states,
    make_dataset,
    make_outside_set,
    rollout_initial_states,
)
from hnnbench.evaluate import RolloutSettings, evaluate
from hnnbench.metrics import METRICS, names, summarised
from hnnbench.model import VectorFieldModel, is_hamiltonian
from hnnbench.record import FIELDS
from hnnbench.run_spec import seeds_of
from hnnbench.runner import build
from hnnbench.trainers import Trainer
from test_config import TRAINERS, composed


@pytest.fixture(scope="module")
def spring_data():
    # with validation points, as the runner makes it (the plateau rule of adam_tuned / lbfgs)
    return make_dataset(systems.get("spring"), 200, 100, data_seed=3943, validation_points=50)


#: the trainers whose model has no Hamiltonian (an MLP vector field: H metrics null)
WITHOUT_HAMILTONIAN = {"smlp", "smlp_auto", "adam_mlp", "mlp_published"}


def tiny_trainer(name: str) -> Trainer:
    cfg = composed(f"trainer={name}", "hidden_width=12", "adam_steps=20", "progress=false")
    return build(cfg, seeds_of(cfg))[1]


@pytest.mark.parametrize("name", TRAINERS)
def test_trainer_implements_the_interface(name, spring_data):
    trainer = tiny_trainer(name)
    assert isinstance(trainer, Trainer) and trainer.kind in ("sampled", "backprop")
    fields = trainer.record_fields()
    assert fields["trainer"] == trainer.kind and fields["method"] == trainer.method
    model = trainer.fit(spring_data)
    assert isinstance(model, VectorFieldModel)
    assert trainer.status_ == "ok" and trainer.status_message_ is None
    assert trainer.fit_info_["method"] == trainer.method
    assert trainer.train_time_s_ is None or trainer.train_time_s_ > 0
    if trainer.kind == "backprop":  # an iterative trainer keeps a learning curve
        assert trainer.learning_curve_[-1]["step"] > 0
    xdot = model.predict_vector_field(spring_data.x_test)
    assert xdot.shape == spring_data.x_test.shape and np.all(np.isfinite(xdot))
    assert is_hamiltonian(model) is (name not in WITHOUT_HAMILTONIAN)
    np.testing.assert_allclose(model.numpy_field()(spring_data.x_test), xdot, atol=1e-12)


@pytest.mark.parametrize("name", TRAINERS)
def test_warmup_copy_is_tiny_quiet_and_leaves_the_original(name, spring_data):
    trainer = tiny_trainer(name)
    trainer.progress = True
    before = copy.copy(vars(trainer))
    tiny = trainer.warmup_copy()
    assert tiny is not trainer and tiny.hidden_width <= 8 and tiny.progress is False
    tiny.fit(spring_data.head(32))
    assert vars(trainer).keys() == before.keys()
    assert all(vars(trainer)[k] is before[k] for k in before)  # nothing rebound or refitted


class VectorFieldOnly:
    """A model with a vector field but no Hamiltonian (the exact field, for the test)."""

    def __init__(self, system):
        self.system = system

    def predict_vector_field(self, x):
        return self.system.vector_field(x)

    def save(self, path, metadata=None):
        raise AssertionError("not called here")


def test_metrics_are_declared_once_and_fill_the_schema():
    assert set(METRICS) <= set(FIELDS)
    assert all(m.heading.startswith(m.label) for m in METRICS.values())
    assert "test_H_rel_l2" in summarised() and "co2_kg" not in summarised()
    assert not METRICS["valid_prediction_time"].lower_is_better


def full_evaluation(system):
    """Rollout settings and outside set as the runner builds them (boundary rollouts included)."""
    x0, boundary = rollout_initial_states(system, 2, 1.0, 0), boundary_initial_states(system, 2, 0)
    settings = RolloutSettings(x0, 1.0, 0.05, boundary_states=boundary)
    return settings, make_outside_set(system, 200, 1.25, 0)


def test_evaluation_nulls_only_the_hamiltonian_metrics_for_a_plain_vector_field(spring_data):
    spring = systems.get("spring")
    settings, outside = full_evaluation(spring)
    model = VectorFieldOnly(spring)
    assert not is_hamiltonian(model)
    fields = evaluate(model, spring_data, spring, settings, outside)
    evaluated = names("test") + names("rollout")
    assert set(evaluated) <= set(fields)
    for name in evaluated:
        if METRICS[name].needs_hamiltonian:
            assert fields[name] is None, name
        else:
            assert fields[name] is not None, name
    assert fields["test_xdot_rel_l2"] == 0.0 and fields["rollout_rel_error_final"] < 1e-12


def test_evaluation_fills_every_metric_for_a_hamiltonian_model(spring_data):
    spring = systems.get("spring")
    model = tiny_trainer("aswim").fit(spring_data)
    assert is_hamiltonian(model)
    settings, outside = full_evaluation(spring)
    fields = evaluate(model, spring_data, spring, settings, outside)
    assert all(fields[name] is not None for name in names("test") + names("rollout"))

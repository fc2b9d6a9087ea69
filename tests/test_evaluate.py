import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import (
    boundary_initial_states,
    make_dataset,
    make_outside_set,
    rollout_initial_states,
)
from hnnbench.evaluate import (
    RolloutSettings,
    evaluate,
    rel_l2,
    rollout_metrics,
    valid_time,
)
from hnnbench.evaluate import (
    test_errors as errors_of,
)
from hnnbench.integrators import ORDERS, integrate
from hnnbench.trainers import SampledTrainer


@pytest.mark.parametrize("method", sorted(ORDERS))
def test_integrator_convergence_order_on_spring(method):
    spring = systems.get("spring")
    x0 = np.array([[0.5, 0.1], [-0.3, 0.4]])
    horizon = 2.0
    exact = np.stack(
        [  # harmonic oscillator (k = m = 1): rotation in phase space
            x0[:, 0] * np.cos(horizon) + x0[:, 1] * np.sin(horizon),
            -x0[:, 0] * np.sin(horizon) + x0[:, 1] * np.cos(horizon),
        ],
        axis=1,
    )
    errors = []
    steps = (0.1, 0.05, 0.025)
    for dt in steps:
        _, states = integrate(spring.vector_field, x0, horizon, dt, method)
        errors.append(np.max(np.abs(states[-1] - exact)))
    observed = np.log(errors[0] / errors[-1]) / np.log(steps[0] / steps[-1])
    assert observed == pytest.approx(ORDERS[method], abs=0.3)


def test_trained_sampled_model_has_small_rollout_error_on_spring():
    spring = systems.get("spring")
    data = make_dataset(spring, 2000, 500, data_seed=0)
    net = SampledTrainer(200, method="aswim").fit(data)
    x0 = rollout_initial_states(spring, 4, horizon=5.0, eval_seed=0)
    metrics = rollout_metrics(net, spring, RolloutSettings(x0, 5.0, 0.02))
    assert metrics["rollout_rel_error_final"] < 1e-4
    assert metrics["energy_drift"] < 1e-4
    assert metrics["valid_prediction_time"] == pytest.approx(5.0)
    assert metrics["integrator_error_vs_reference"] < 1e-6
    assert len(metrics["rollout_times"]) == len(metrics["rollout_rel_error_curve"]) <= 202


def test_valid_time_and_rel_l2():
    times = np.array([0.0, 1.0, 2.0, 3.0])
    assert valid_time(times, np.array([0.0, 0.05, 0.2, 0.5]), 0.1) == 2.0
    assert valid_time(times, np.zeros(4), 0.1) == 3.0
    assert rel_l2(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    assert rel_l2(np.array([1.0]), np.array([np.nan])) == float("inf")


class FieldOnly:
    """A model with a vector field and no Hamiltonian (the exact field of the spring)."""

    def predict_vector_field(self, x):
        return systems.get("spring").vector_field(x)


def test_outside_errors_and_boundary_time_for_every_model():
    spring = systems.get("spring")
    data = make_dataset(spring, 500, 200, data_seed=0)
    net = SampledTrainer(100, method="aswim").fit(data)
    outside = make_outside_set(spring, 400, 1.25, eval_seed=0)
    x0 = rollout_initial_states(spring, 2, horizon=2.0, eval_seed=0)
    boundary = boundary_initial_states(spring, 3, eval_seed=0)
    settings = RolloutSettings(x0, 2.0, 0.05, boundary_states=boundary)
    fields = evaluate(net, data, spring, settings, outside)
    inside_error, outside_error = fields["test_H_rel_l2"], fields["test_outside_H_rel_l2"]
    assert 0 < inside_error < 1e-3
    assert inside_error < outside_error < 1  # extrapolating is worse, but not nonsense
    assert expected_rel_l2(net, outside) == pytest.approx(outside_error)
    assert fields["test_outside_grad_rel_l2"] > fields["test_grad_rel_l2"]
    assert fields["boundary_valid_prediction_time"] == pytest.approx(2.0)  # spring: easy
    assert len(fields["rollout"]["boundary_initial_states"]) == 3
    # no Hamiltonian: the H metrics, outside ones included, are null; the field ones are not
    errors = errors_of(FieldOnly(), data, outside)
    assert errors["test_outside_H_rel_l2"] is None and errors["test_outside_grad_rel_l2"] is None
    assert errors["test_xdot_rel_l2"] == 0.0
    # no outside set: null, not an error
    assert errors_of(net, data)["test_outside_H_rel_l2"] is None


def expected_rel_l2(net, outside):
    return np.linalg.norm(net.predict_H(outside.x) - outside.H) / np.linalg.norm(outside.H)


def test_boundary_time_is_short_for_a_model_that_is_wrong_outside():
    """A field right inside the box but zero outside it: boundary orbits that leave go wrong."""
    spring = systems.get("spring")

    def clipped(x):
        field = spring.vector_field(x)
        return np.where(np.all(np.abs(x) <= 1, axis=1, keepdims=True), field, 0.0)

    model = FieldOnly()
    model.predict_vector_field = clipped
    x0 = rollout_initial_states(spring, 2, horizon=4.0, eval_seed=0)
    boundary = boundary_initial_states(spring, 4, eval_seed=0)
    metrics = rollout_metrics(
        model, spring, RolloutSettings(x0, 4.0, 0.02, boundary_states=boundary)
    )
    assert metrics["valid_prediction_time"] == pytest.approx(4.0)  # inner orbits never leave
    assert metrics["boundary_valid_prediction_time"] < 2.0

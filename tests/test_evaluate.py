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


class Exploding(FieldOnly):
    """The spring's exact field inside the radius ``r``; outside it, ``outside(x)``."""

    def __init__(self, outside, r: float = 0.5) -> None:
        self.outside, self.r = outside, r

    def predict_vector_field(self, x):
        exact = systems.get("spring").vector_field(x)
        far = np.linalg.norm(x, axis=1, keepdims=True) > self.r
        with np.errstate(all="ignore"):
            return np.where(far, self.outside(x), exact)


@pytest.mark.parametrize(
    "outside",
    [
        lambda x: 5.0 * x,  # grows as e^{5t}: leaves the bound (the box × 2) within ≈ 0.3
        lambda x: np.full_like(x, np.nan),  # not finite after one step
    ],
    ids=["leaves_the_bound", "not_finite"],
)
def test_diverged_rollouts_are_flagged_counted_and_left_out_of_the_error_summaries(outside):
    spring = systems.get("spring")
    # radius 0.2 and 0.3: exact (the spring keeps its radius); 0.8 and 0.9: the model's field
    x0 = np.array([[0.2, 0.0], [0.0, 0.3], [0.8, 0.0], [0.0, 0.9]])
    bound = np.array([[-2.0, 2.0], [-2.0, 2.0]])
    settings = RolloutSettings(x0, 2.0, 0.01, threshold=0.1, bound=bound)
    metrics = rollout_metrics(Exploding(outside), spring, settings)
    assert metrics["rollout_diverged_flags"] == [False, False, True, True]
    assert metrics["rollout_diverged"] == 2 and metrics["rollout_count"] == 4
    at = metrics["rollout_diverged_at"]
    assert at[:2] == [None, None] and 0 < at[2] < 0.5 and 0 < at[3] < 0.5
    # the two that kept the exact field under the same integrator: error 0, drift of RK4 only
    assert metrics["rollout_final_errors"] == [0.0, 0.0, None, None]
    assert metrics["rollout_rel_error_final"] == 0.0 and metrics["rollout_rel_error_mean"] == 0.0
    assert 0 <= metrics["energy_drift"] < 1e-8
    assert metrics["rollout_rel_error_curve"] == [0.0] * len(metrics["rollout_times"])
    # valid time: every rollout's (a diverged one's no later than it diverged), median of four
    valid = metrics["rollout_valid_times"]
    assert valid[:2] == [2.0, 2.0] and valid[2] <= at[2] and valid[3] <= at[3]
    assert metrics["valid_prediction_time"] == pytest.approx(np.median(valid))


def test_every_rollout_diverged_leaves_the_error_summaries_null_not_a_number():
    spring = systems.get("spring")
    x0 = np.array([[0.8, 0.0], [0.0, 0.9]])
    model = Exploding(lambda x: np.full_like(x, np.inf))
    metrics = rollout_metrics(model, spring, RolloutSettings(x0, 1.0, 0.1))
    assert metrics["rollout_diverged"] == 2
    for name in ("rollout_rel_error_final", "rollout_rel_error_mean", "energy_drift"):
        assert metrics[name] is None
    assert metrics["rollout_rel_error_curve"] is None and metrics["energy_drift_curve"] is None
    assert metrics["valid_prediction_time"] == pytest.approx(0.1)  # off at the first step


def test_without_a_bound_only_non_finite_states_diverge():
    spring = systems.get("spring")
    x0 = np.array([[0.8, 0.0]])
    metrics = rollout_metrics(Exploding(lambda x: 5.0 * x), spring, RolloutSettings(x0, 1.0, 0.1))
    assert metrics["rollout_diverged"] == 0  # e^5 ≈ 150 × the start: far, but finite
    assert metrics["rollout_rel_error_final"] > 10

import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import make_dataset, rollout_initial_states
from hnnbench.evaluate import RolloutSettings, rel_l2, rollout_metrics, valid_time
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

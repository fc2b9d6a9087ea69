import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import inside, make_dataset, rollout_initial_states
from hnnbench.ground_truth import true_trajectories


def test_same_seed_same_dataset_different_seed_different():
    system = systems.get("double_pendulum")
    a = make_dataset(system, 100, 50, data_seed=1, noise_std=0.01)
    b = make_dataset(system, 100, 50, data_seed=1, noise_std=0.01)
    c = make_dataset(system, 100, 50, data_seed=2, noise_std=0.01)
    for field in ("x_train", "xdot_train", "x_test", "H_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert not np.array_equal(getattr(a, field), getattr(c, field))


def test_points_in_domain_and_targets_exact():
    system = systems.get("henon_heiles")
    data = make_dataset(system, 500, 200, data_seed=0)
    assert np.all(inside(system.domain, data.x_train))
    assert np.all(inside(system.domain, data.x_test))
    np.testing.assert_array_equal(data.xdot_train, system.vector_field(data.x_train))
    np.testing.assert_array_equal(data.H_test, system.H(data.x_test))


def test_noise_is_added_to_training_targets_only():
    system = systems.get("spring")
    clean = make_dataset(system, 2000, 10, data_seed=0)
    noisy = make_dataset(system, 2000, 10, data_seed=0, noise_std=0.1)
    np.testing.assert_array_equal(clean.x_train, noisy.x_train)
    assert np.std(noisy.xdot_train - clean.xdot_train) == pytest.approx(0.1, rel=0.05)
    np.testing.assert_array_equal(clean.xdot_test, system.vector_field(clean.x_test))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"train_points": 1}, "train_points=1"), ({"noise_std": -0.1}, "noise_std=-0.1")],
)
def test_bad_dataset_arguments(kwargs, message):
    args = {"train_points": 10, "test_points": 10, "data_seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_dataset(systems.get("spring"), **args)


@pytest.mark.parametrize("name", systems.names())
def test_rollout_initial_states_stay_in_domain(name):
    system = systems.get(name)
    x0 = rollout_initial_states(system, 5, horizon=5.0, eval_seed=7)
    again = rollout_initial_states(system, 5, horizon=5.0, eval_seed=7)
    np.testing.assert_array_equal(x0, again)
    states = true_trajectories(system, x0, np.linspace(0, 5.0, 501))
    assert np.all(inside(system.domain, states))


def test_rollout_rejects_bad_horizon():
    with pytest.raises(ValueError, match="horizon=0"):
        rollout_initial_states(systems.get("spring"), 2, horizon=0, eval_seed=0)

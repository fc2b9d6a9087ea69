import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import rollout_initial_states, sample_box
from hnnbench.ground_truth import true_trajectories
from hnnbench.systems import apply_J, symplectic_matrix

ALL = systems.names()


def random_points(system, count=1000, seed=0):
    return sample_box(system.domain, count, np.random.default_rng(seed))


def test_registry_lists_all_designed_systems():
    assert set(ALL) == {"pendulum", "spring", "henon_heiles", "double_pendulum", "lotka_volterra"}


@pytest.mark.parametrize("name", ALL)
def test_grad_matches_central_differences(name):
    system = systems.get(name)
    x = random_points(system)
    grad = system.grad_H(x)
    step = 1e-5
    numeric = np.empty_like(grad)
    for k in range(system.dim):
        shift = np.zeros(system.dim)
        shift[k] = step
        numeric[:, k] = (system.H(x + shift) - system.H(x - shift)) / (2 * step)
    scale = np.linalg.norm(grad, axis=1, keepdims=True) + 1e-12
    assert np.max(np.abs(grad - numeric) / scale) < 1e-6


@pytest.mark.parametrize("name", ALL)
def test_vector_field_is_J_grad(name):
    system = systems.get(name)
    x = random_points(system)
    expected = system.grad_H(x) @ symplectic_matrix(system.dof).T
    np.testing.assert_allclose(system.vector_field(x), expected, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(apply_J(system.grad_H(x)), system.vector_field(x))


@pytest.mark.parametrize("name", ALL)
def test_energy_conserved_along_ground_truth(name):
    system = systems.get(name)
    x0 = rollout_initial_states(system, 4, horizon=10.0, eval_seed=1)
    states = true_trajectories(system, x0, np.linspace(0, 10, 101))
    energy = system.H(states.reshape(-1, system.dim)).reshape(101, 4)
    drift = np.abs(energy - energy[0]) / np.maximum(np.abs(energy[0]), 1e-12)
    assert np.max(drift) < 1e-8


def test_pendulum_formula_and_parameters():
    system = systems.get("pendulum", m=2.0, l=0.5, g=9.81, frequency=3.0)
    x = np.array([[0.3, -0.7]])
    expected = 0.49 / (2 * 2.0 * 0.25) + 2.0 * 9.81 * 0.5 * (1 - np.cos(0.9))
    assert system.H(x)[0] == pytest.approx(expected)
    assert system.anchor_H == 0.0


def test_double_pendulum_reduces_to_known_value_at_rest():
    system = systems.get("double_pendulum")
    assert system.H(np.zeros((1, 4)))[0] == pytest.approx(-3.0)  # −(m1+m2) g l1 − m2 g l2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "pendulumm"}, "unknown system 'pendulumm'; allowed:"),
        ({"name": "pendulum", "mass": 1.0}, "unknown parameter 'mass'"),
        ({"name": "pendulum", "m": -1.0}, "m=-1.0"),
        ({"name": "spring", "k": "stiff"}, "must be a number"),
        ({"name": "spring", "domain": [[1.0, -1.0], [-1, 1]]}, "low 1.0 >= high -1.0"),
        ({"name": "spring", "domain": [[-1.0, 1.0]]}, "expected 2 pairs"),
        ({"name": "henon_heiles", "alpha": float("nan")}, "must be finite"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        systems.get(**kwargs)


def test_custom_domain_is_used():
    system = systems.get("spring", domain=[[-2, 2], [-3, 3]])
    np.testing.assert_array_equal(system.domain, [[-2, 2], [-3, 3]])

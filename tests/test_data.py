import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import (
    boundary_initial_states,
    inside,
    make_dataset,
    make_outside_set,
    rollout_initial_states,
    rollout_states,
    sample_shell,
    scaled_box,
)
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


#: bound gravitational orbits circle the origin and leave every box that keeps the bodies apart:
#: no box rollout states (their task protocol has its own, tests/test_standard_tasks.py)
BOXED = [name for name in systems.names() if name not in ("two_body", "three_body")]


@pytest.mark.parametrize("name", BOXED)
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


def test_henon_heiles_rollouts_start_on_bounded_energy_shells_below_the_escape_energy():
    system = systems.get("henon_heiles")
    x0, rule = rollout_states(system, 8, horizon=5.0, eval_seed=3, rule="auto")
    again, _ = rollout_states(system, 8, horizon=5.0, eval_seed=3, rule="auto")
    np.testing.assert_array_equal(x0, again)
    energies = system.H(x0)
    assert rule == "shells"
    np.testing.assert_allclose(energies, np.tile([0.25, 0.5, 0.75, 0.9], 2) / 6, rtol=1e-9)
    assert len({tuple(np.round(x / np.linalg.norm(x), 6)) for x in x0}) == 8  # 8 directions
    # each is the FIRST point of its ray from the origin at that energy: it lies on the well
    along = np.linspace(0, 1, 200, endpoint=False)[:, None, None] * x0  # (200, 8, 4)
    assert np.all(system.H(along.reshape(-1, 4)).reshape(200, 8) < energies)
    # bounded for ever: long true orbits stay inside the escape triangle (|q_i| <= 1)
    states = true_trajectories(system, x0, np.linspace(0, 200.0, 2001))
    assert np.max(np.abs(states[..., :2])) < 1
    np.testing.assert_allclose(system.H(states.reshape(-1, 4)), np.tile(energies, 2001), atol=1e-8)


def test_the_box_rule_stays_selectable_and_auto_picks_box_without_a_well_inside_the_domain():
    hh = systems.get("henon_heiles")
    x0, rule = rollout_states(hh, 3, horizon=2.0, eval_seed=3, rule="box")
    assert rule == "box"
    np.testing.assert_array_equal(x0, rollout_initial_states(hh, 3, horizon=2.0, eval_seed=3))
    for system in (
        systems.get("pendulum"),  # no escape energy
        systems.get("henon_heiles", alpha=0.0),  # uncoupled oscillators: none either
        systems.get("henon_heiles", alpha=0.1),  # saddles at distance 10, beyond [-5, 5]
    ):
        assert rollout_states(system, 2, horizon=1.0, eval_seed=0, rule="auto")[1] == "box"
    half = systems.get("henon_heiles", alpha=0.5)  # escape energy 2/3, saddles at distance 2
    x0, rule = rollout_states(half, 4, horizon=1.0, eval_seed=0, rule="auto")
    assert rule == "shells"
    np.testing.assert_allclose(half.H(x0), [1 / 6, 1 / 3, 1 / 2, 0.6], rtol=1e-9)


@pytest.mark.parametrize(("dim", "scale"), [(2, 1.25), (2, 1.02), (8, 1.25), (128, 1.25)])
def test_shell_points_are_outside_the_box_and_inside_the_scaled_box(dim, scale):
    rng = np.random.default_rng(0)
    box = np.column_stack([np.linspace(-3, 0, dim), np.linspace(1, 2, dim)])  # off-centre
    points = sample_shell(box, scale, 3000, rng)
    assert points.shape == (3000, dim)
    assert not np.any(inside(box, points))
    assert np.all(inside(scaled_box(box, scale), points))
    # uniform on the shell: in 2-d the box is 4 × 2, the scaled one 5 × 2.5, so the band left
    # of the box (0.5 × 2.5) holds 1.25 / (12.5 − 8) of the shell's area
    if dim == 2 and scale == 1.25:
        assert np.mean(points[:, 0] < box[0, 0]) == pytest.approx(1.25 / 4.5, abs=0.03)


def test_outside_set_has_exact_targets_and_is_seeded():
    system = systems.get("toda", dof=3)
    a = make_outside_set(system, 500, 1.25, eval_seed=4)
    b = make_outside_set(system, 500, 1.25, eval_seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.H, system.H(a.x))
    np.testing.assert_array_equal(a.grad, system.grad_H(a.x))
    assert not np.any(inside(system.domain, a.x))


@pytest.mark.parametrize(("scale", "message"), [(1.0, "scale=1.0 must be > 1"), (0.5, "0.5")])
def test_shell_rejects_scale_not_above_one(scale, message):
    with pytest.raises(ValueError, match=message):
        sample_shell(np.array([[-1.0, 1.0]]), scale, 10, np.random.default_rng(0))


def test_boundary_states_lie_in_the_outer_tenth_of_the_box():
    system = systems.get("fput", dof=4)
    states = boundary_initial_states(system, 50, eval_seed=0, fraction=0.1)
    assert np.all(inside(system.domain, states))
    assert not np.any(inside(scaled_box(system.domain, 0.9), states))
    with pytest.raises(ValueError, match=r"fraction=1.0 must be in \(0, 1\)"):
        boundary_initial_states(system, 5, eval_seed=0, fraction=1.0)

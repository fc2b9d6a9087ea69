import re

import numpy as np
import pytest

from hnnbench import systems, tasks
from hnnbench.data import rollout_initial_states, sample_box
from hnnbench.ground_truth import true_trajectories
from hnnbench.systems import apply_J, symplectic_matrix

ALL = systems.names()
SCALABLE = ("fput", "toda")
FIXED = [name for name in ALL if name not in SCALABLE]
#: gravity: bound orbits circle the origin and leave any box that keeps the bodies apart, so the
#: box-based rollout states of the tests below do not exist for them (their own tests follow)
NBODY = ("two_body", "three_body")
#: every fixed-size system, and each scalable one at a few sizes: (name, keyword arguments)
CASES = [(name, {}) for name in FIXED] + [
    (name, {"dof": dof}) for name in SCALABLE for dof in (1, 3, 16)
]
CASE_IDS = [f"{name}-{kwargs['dof']}" if kwargs else name for name, kwargs in CASES]


def random_points(system, count=1000, seed=0):
    return sample_box(system.domain, count, np.random.default_rng(seed))


def test_registry_lists_all_designed_systems():
    assert set(ALL) == {
        "pendulum",
        "spring",
        "henon_heiles",
        "double_pendulum",
        "lotka_volterra",
        "fput",
        "toda",
        "two_body",
        "three_body",
    }


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_grad_matches_central_differences(name, kwargs):
    system = systems.get(name, **kwargs)
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


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_vector_field_is_J_grad(name, kwargs):
    system = systems.get(name, **kwargs)
    x = random_points(system)
    expected = system.grad_H(x) @ symplectic_matrix(system.dof).T
    np.testing.assert_allclose(system.vector_field(x), expected, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(apply_J(system.grad_H(x)), system.vector_field(x))


BOXED = [(name, kwargs) for name, kwargs in CASES if name not in NBODY]


@pytest.mark.parametrize(("name", "kwargs"), BOXED, ids=[n for n in CASE_IDS if n not in NBODY])
def test_energy_conserved_along_ground_truth(name, kwargs):
    system = systems.get(name, **kwargs)
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


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=CASE_IDS)
def test_domain_and_anchor(name, kwargs):
    system = systems.get(name, **kwargs)
    assert system.domain.shape == (system.dim, 2)
    assert np.all(system.domain[:, 0] < system.domain[:, 1])
    assert system.anchor.shape == (system.dim,)
    assert system.anchor_H == pytest.approx(float(system.H(system.anchor[None])[0]))
    if name in SCALABLE:  # the chain / ring at rest: H = 0, no force
        assert system.dim == 2 * kwargs["dof"]
        assert system.anchor_H == 0.0
        np.testing.assert_array_equal(system.grad_H(system.anchor[None]), 0.0)


@pytest.mark.parametrize("dof", [1, 3, 16])
def test_harmonic_chain_matches_its_normal_modes(dof):
    """β = 0: q(t) = S (a cos ωt + b/ω sin ωt), a = Sᵀq0, b = Sᵀp0 (S the sine modes)."""
    chain = systems.get("fput", dof=dof, beta=0.0)
    j = np.arange(1, dof + 1)
    modes = np.sqrt(2 / (dof + 1)) * np.sin(np.outer(j, j) * np.pi / (dof + 1))  # orthonormal
    omega = 2 * np.sin(j * np.pi / (2 * (dof + 1)))
    np.testing.assert_allclose(modes @ modes.T, np.eye(dof), atol=1e-12)
    x0 = random_points(chain, 3, seed=4)
    times = np.linspace(0, 10, 21)
    a, b = x0[:, :dof] @ modes, x0[:, dof:] @ modes  # modes is symmetric: S = Sᵀ
    phase = np.multiply.outer(times, omega)  # (K, n)
    amplitude = a[None] * np.cos(phase)[:, None] + (b / omega)[None] * np.sin(phase)[:, None]
    velocity = -a[None] * omega * np.sin(phase)[:, None] + b[None] * np.cos(phase)[:, None]
    exact = np.concatenate([amplitude @ modes, velocity @ modes], axis=-1)
    np.testing.assert_allclose(true_trajectories(chain, x0, times), exact, atol=1e-8)


def test_fput_formula_by_hand():
    chain = systems.get("fput", dof=2, beta=0.5)
    x = np.array([[0.3, -0.2, 0.1, 0.4]])
    stretches = np.array([0.3, -0.5, 0.2])  # q1 − 0, q2 − q1, 0 − q2
    expected = (0.01 + 0.16) / 2 + np.sum(stretches**2 / 2 + 0.5 * stretches**4 / 4)
    assert chain.H(x)[0] == pytest.approx(expected)


@pytest.mark.parametrize("dof", [2, 5])
def test_toda_momentum_and_third_integral_are_conserved(dof):
    ring = systems.get("toda", dof=dof)
    x0 = rollout_initial_states(ring, 3, horizon=10.0, eval_seed=2)
    states = true_trajectories(ring, x0, np.linspace(0, 10, 51)).reshape(-1, ring.dim)
    for integral in (ring.momentum, ring.third_integral):
        values = integral(states).reshape(51, 3)
        assert np.max(np.abs(values - values[0])) < 1e-8
    # not trivially constant: the positions do move
    assert np.ptp(states[:, 0]) > 0.05


def test_toda_formula_by_hand():
    ring = systems.get("toda", dof=3)
    q, p = np.array([0.1, -0.3, 0.5]), np.array([0.2, 0.0, -0.4])
    bonds = np.exp([0.4, -0.8, 0.4])  # q1 − q2, q2 − q3, q3 − q1
    expected = np.sum(p**2) / 2 + np.sum(bonds - 1)
    assert ring.H(np.concatenate([q, p])[None])[0] == pytest.approx(expected)


@pytest.mark.parametrize("dof", [32, 64])
def test_rollout_initial_states_found_in_high_dimension(dof):
    chain = systems.get("fput", dof=dof)
    x0 = rollout_initial_states(chain, 4, horizon=10.0, eval_seed=3)
    assert x0.shape == (4, 2 * dof)
    states = true_trajectories(chain, x0, np.linspace(0, 10, 101))
    assert np.all(np.abs(states) <= 1.0)


@pytest.mark.parametrize("name", SCALABLE)
@pytest.mark.parametrize(
    ("dof", "message"),
    [
        (0, "dof=0 of '{}' is out of range; allowed: 1..64"),
        (65, "dof=65 of '{}' is out of range; allowed: 1..64"),
        (2.0, "dof=2.0 of '{}' must be an integer in 1..64, not a float"),
        (True, "dof=True of '{}' must be an integer in 1..64, not a bool"),
        ("4", "dof='4' of '{}' must be an integer in 1..64, not a str"),
    ],
)
def test_bad_dof_is_a_clear_value_error(name, dof, message):
    with pytest.raises(ValueError, match=re.escape(message.format(name))):
        systems.get(name, dof=dof)


def test_dof_is_per_instance_and_fixed_systems_keep_theirs():
    small, large = systems.get("fput", dof=2), systems.get("fput", dof=40)
    assert (small.dof, large.dof) == (2, 40)
    assert (small.domain.shape, large.domain.shape) == ((4, 2), (80, 2))
    assert systems.get("fput").dof == 8 and systems.get("toda").dof == 8
    assert systems.get("henon_heiles").dof == 2 and systems.get("pendulum").dim == 2
    assert systems.get("toda", dof=5).describe()["dof"] == 5
    with pytest.raises(ValueError, match="beta=-1.0 of 'fput' must be >= 0"):
        systems.get("fput", beta=-1.0)
    with pytest.raises(ValueError, match="expected 6 pairs"):
        systems.get("fput", dof=3, domain=[[-1, 1]] * 4)


# ---------------------------------------------------------------- gravity (two_body, three_body)


@pytest.mark.parametrize("name", NBODY)
def test_gravity_conserves_energy_and_angular_momentum_on_the_published_orbits(name):
    system = systems.get(name)
    x0 = tasks.initial_states(name, 4, np.random.default_rng(0))
    times = np.linspace(0, 5, 51)
    states = true_trajectories(system, x0, times).reshape(-1, system.dim)
    energy = system.H(states).reshape(51, 4)
    momentum = system.angular_momentum(states).reshape(51, 4)
    assert np.max(np.abs(energy - energy[0])) < 1e-7
    assert np.max(np.abs(momentum - momentum[0])) < 1e-7
    assert np.all(np.abs(momentum[0]) > 0.1)  # the orbits do turn: the check is not vacuous


def test_two_body_formula_by_hand():
    system = systems.get("two_body", G=2.0, m=3.0)
    # body 1 at (1, 0), body 2 at (-1, 2): r = sqrt(8); momenta (1, 2) and (0, -1)
    x = np.array([[1.0, -1.0, 0.0, 2.0, 1.0, 0.0, 2.0, -1.0]])
    expected = (1 + 4 + 0 + 1) / (2 * 3.0) - 2.0 * 9.0 / np.sqrt(8)
    assert system.H(x)[0] == pytest.approx(expected)
    grad = system.grad_H(x)[0]
    pull = 2.0 * 9.0 / 8**1.5 * np.array([2.0, -2.0])  # G m² (q1 − q2) / r³
    np.testing.assert_allclose(grad[[0, 2]], pull)  # ∂H/∂x1, ∂H/∂y1
    np.testing.assert_allclose(grad[[1, 3]], -pull)
    np.testing.assert_allclose(grad[4:], x[0, 4:] / 3.0)
    assert system.min_separation(x)[0] == pytest.approx(np.sqrt(8))


@pytest.mark.parametrize(
    ("name", "domain"),
    [
        ("two_body", [[-1, 1]] * 8),
        ("two_body", [[0, 1], [0.5, 2], [-1, 1], [-3, 3]] + [[-1, 1]] * 4),
        ("three_body", [[0.6, 1.2], [-1.2, -0.3], [-1.2, 1.2], [-0.6, 0.6], [0.3, 1.2],
                        [-1.2, -0.3]] + [[-1, 1]] * 6),
    ],
)  # fmt: skip
def test_a_domain_where_bodies_can_meet_is_refused_in_one_line(name, domain):
    with pytest.raises(ValueError, match=r"lets bodies \d and \d coincide") as err:
        systems.get(name, domain=domain)
    assert "\n" not in str(err.value) and "r = 0" in str(err.value)


def test_a_domain_that_keeps_the_bodies_apart_is_accepted():
    box = [[0.1, 1], [-1, -0.2], [-5, 5], [-5, 5]] + [[-1, 1]] * 4  # x ranges disjoint
    system = systems.get("two_body", domain=box)
    assert system.min_separation(system.anchor[None])[0] > 0


@pytest.mark.parametrize("name", NBODY)
def test_coinciding_bodies_raise_instead_of_returning_nan(name):
    system = systems.get(name)
    x = system.anchor[None].copy()
    x[0, 1] = x[0, 0]  # body 2 onto body 1 (x and y)
    x[0, system.bodies + 1] = x[0, system.bodies]
    for function in (system.H, system.grad_H):
        with pytest.raises(ValueError, match="bodies 1 and 2 coincide"):
            function(x)

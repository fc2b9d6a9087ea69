"""Every least-squares solver stays honest: reductions are exact, streaming changes nothing."""

import numpy as np
import pytest
import torch

import systems
from hnnbench.data import make_dataset
from hnnbench.evaluate import rel_l2
from hnnbench.trainers import SampledTrainer
from hnnbench.trainers.lstsq import (
    SOLVERS,
    GradientLeastSquares,
    merged_triangular,
    reduced_system,
    solve,
    streamed_R,
    svd_solve,
)
from hnnbench.trainers.sampled import (
    candidate_pairs,
    choose_pairs,
    pair_probabilities,
    pair_weights,
    predict_in_chunks,
)


@pytest.fixture(scope="module")
def data():
    return make_dataset(systems.get("double_pendulum"), 600, 1000, data_seed=3943)


def problem_of(data, width, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    pairs = candidate_pairs(len(data.x_train), width, rng)
    probabilities = pair_probabilities(data.x_train, None, pairs)
    weight, bias = pair_weights(data.x_train, choose_pairs(pairs, probabilities, width, rng))
    tensors = (torch.as_tensor(a) for a in (data.x_train, data.xdot_train, weight, bias))
    return GradientLeastSquares(*tensors, **kwargs)


def well_conditioned(data, width=12):
    """Few neurons: A has full column rank and a modest condition number."""
    problem = problem_of(data, width)
    assert torch.linalg.cond(problem.dense()[0]) < 1e6
    return problem


def test_fill_chunk_equals_slopes(data):
    problem = problem_of(data, 40)
    out = torch.empty(100, 40 + 4, dtype=torch.float64)
    problem.fill_chunk(out, 50)
    assert torch.equal(out[:, :40], problem.slopes(slice(50, 150)))
    assert torch.equal(out[:, 40:], problem.xdot[50:150])


def test_chunks_are_even_and_tall(data):
    problem = problem_of(data, 40, chunk_bytes=10_000)
    assert problem.chunk_points() == 44  # at least M + 2n
    problem = problem_of(data, 40, chunk_bytes=200 * 44 * 8)  # 200 points → 3 chunks of 200
    assert [len(c) for c in problem.chunks()] == [200, 200, 200]


def test_reduced_system_is_exact(data):
    """Same least-squares solution and residual as the dense 2nN × M system."""
    problem = well_conditioned(data)
    matrix, rhs = problem.dense()
    dense = torch.linalg.lstsq(matrix, rhs[:, None], driver="gelsd").solution[:, 0]
    reduced_matrix, reduced_rhs = reduced_system(problem)
    reduced = torch.linalg.lstsq(reduced_matrix, reduced_rhs[:, None], driver="gelsd").solution
    torch.testing.assert_close(reduced[:, 0], dense, rtol=1e-9, atol=1e-9)
    # ‖A c − b‖² = ‖reduced residual‖² + ‖part of b outside the range of Q_S‖² (a constant)
    outside = rhs.norm() ** 2 - reduced_rhs.norm() ** 2
    for coef in (dense, torch.randn_like(dense)):
        full = (matrix @ coef - rhs).norm() ** 2
        part = (reduced_matrix @ coef - reduced_rhs).norm() ** 2
        torch.testing.assert_close(full, part + outside, rtol=1e-9, atol=1e-9)


def test_merged_triangle_equals_stacked_reduction(data):
    problem = problem_of(data, 60)
    triangle, rhs = merged_triangular(problem)
    stacked_matrix, stacked_rhs = reduced_system(problem)
    assert torch.equal(triangle, torch.triu(triangle))
    # same Gram matrix and projected right-hand side: an orthogonal transform of the stack
    torch.testing.assert_close(triangle.T @ triangle, stacked_matrix.T @ stacked_matrix)
    torch.testing.assert_close(triangle.T @ rhs, stacked_matrix.T @ stacked_rhs)


def test_streamed_qr_equals_single_chunk(data):
    single = streamed_R(problem_of(data, 50))
    many = streamed_R(problem_of(data, 50, chunk_bytes=60 * 54 * 8))  # 60 points a chunk
    assert problem_of(data, 50, chunk_bytes=60 * 54 * 8).chunk_points() == 60
    torch.testing.assert_close(many.abs(), single.abs(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_solvers_on_a_well_conditioned_problem(solver, data):
    problem = well_conditioned(data)
    reference = solve("gelsd", problem, 1e-13)
    solution = solve(solver, problem, 1e-13)
    tolerance = 1e-4 if solver == "normal" else 1e-8
    torch.testing.assert_close(solution.coef, reference.coef, rtol=tolerance, atol=tolerance)
    assert solution.effective_rank == reference.effective_rank == problem.width


def test_qr_svd_matches_gelsd_on_a_rank_deficient_problem(data):
    """Many neurons on few points: numerically rank deficient; the same cutoff must hold."""
    problem = problem_of(data, 300)
    matrix, rhs = problem.dense()
    reference = solve("gelsd", problem, 1e-13)
    for chunk_bytes in (None, 310 * 304 * 8):
        if chunk_bytes:
            problem.chunk_bytes = chunk_bytes
        solution = solve("qr_svd", problem, 1e-13)
        assert abs(solution.effective_rank - reference.effective_rank) <= 2
        residual = (matrix @ solution.coef - rhs).norm() / rhs.norm()
        reference_residual = (matrix @ reference.coef - rhs).norm() / rhs.norm()
        assert residual <= 1.5 * reference_residual


def test_svd_solve_drops_small_singular_values():
    matrix = torch.diag(torch.tensor([1.0, 1e-3, 1e-15], dtype=torch.float64))
    solution = svd_solve(matrix, torch.ones(3, dtype=torch.float64), 1e-13)
    assert solution.effective_rank == 2
    torch.testing.assert_close(solution.coef, torch.tensor([1.0, 1e3, 0.0], dtype=torch.float64))


@pytest.fixture(scope="module")
def pendulum():
    return make_dataset(systems.get("pendulum"), 1000, 1000, data_seed=3943)


@pytest.fixture(scope="module")
def exact_first_pass_error(pendulum):
    net = SampledTrainer(150, first_pass_solver=None, first_pass_points=None).fit(pendulum)
    return rel_l2(pendulum.H_test, net.predict_H(pendulum.x_test))


@pytest.mark.parametrize(
    ("first_pass_solver", "first_pass_points"),
    [("normal", None), (None, 400), ("normal", 400), ("normal", "auto")],
)
def test_first_pass_options_keep_accuracy(
    first_pass_solver, first_pass_points, pendulum, exact_first_pass_error
):
    trainer = SampledTrainer(
        150, first_pass_solver=first_pass_solver, first_pass_points=first_pass_points
    )
    net = trainer.fit(pendulum)
    error = rel_l2(pendulum.H_test, net.predict_H(pendulum.x_test))
    assert error <= 3 * exact_first_pass_error
    assert trainer.fit_info_["first_pass_solver"] == (first_pass_solver or "qr_ridge")
    expected = {None: 1000, "auto": 300}.get(first_pass_points, first_pass_points)
    assert trainer.fit_info_["first_pass_points"] == expected
    assert trainer.fit_info_["solver"] == "qr_ridge"


def test_first_pass_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown solver 'fast'"):
        SampledTrainer(10, first_pass_solver="fast")
    for bad in (1, "half"):
        with pytest.raises(ValueError, match=f"first_pass_points={bad!r}"):
            SampledTrainer(10, first_pass_points=bad)


def test_predict_in_chunks_equals_predict(pendulum, monkeypatch):
    import hnnbench.trainers.sampled as sampled

    net = SampledTrainer(30, method="uswim").fit(pendulum)
    monkeypatch.setattr(sampled, "CHUNK_BYTES", 30 * 8 * 100)  # 100 points a chunk
    x = net.as_tensor(pendulum.x_train)
    np.testing.assert_array_equal(predict_in_chunks(net, x), net.predict_H(x))

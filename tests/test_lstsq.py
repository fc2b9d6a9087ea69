"""Every least-squares solver stays honest: reductions are exact, streaming changes nothing."""

import numpy as np
import pytest
import torch

from hnnbench import systems
from hnnbench.data import make_dataset
from hnnbench.evaluate import rel_l2
from hnnbench.hardware import torch_threads
from hnnbench.trainers import SampledTrainer
from hnnbench.trainers.lstsq import (
    SOLVERS,
    GradientLeastSquares,
    data_factor,
    merge_blocks,
    point_ranges,
    reduced_system,
    solve,
    solvers,
    spectral_norm,
    streamed_R,
    streaming,
    svd_solve,
    triangular_system,
    with_ridge,
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


def problem_of(data, width, seed=0, points=None, **kwargs):
    """U-SWIM hidden layer of ``width`` neurons on the first ``points`` points (default: all)."""
    x, xdot = data.x_train[:points], data.xdot_train[:points]
    rng = np.random.default_rng(seed)
    pairs = candidate_pairs(len(x), width, rng)
    probabilities = pair_probabilities(x, None, pairs)
    weight, bias = pair_weights(x, choose_pairs(pairs, probabilities, width, rng))
    tensors = (torch.as_tensor(a) for a in (x, xdot, weight, bias))
    return GradientLeastSquares(*tensors, **kwargs)


#: (points N, width M) on the double pendulum (2n = 4), from tall to far underdetermined
SHAPES = {
    "tall": (40, 12),  # N ≥ M + 2n: square R of [S | ẋ]
    "N>M": (40, 38),  # M < N < M + 2n: R of [S | ẋ] has fewer rows than columns
    "N=M": (40, 40),
    "N<M<2nN": (40, 100),  # more equations than unknowns, but fewer points than neurons
    "2nN<M": (40, 200),  # fewer equations than unknowns
    "2nN<<M": (10, 300),
}
PATHS = ["lapack", "torch"]


def use_torch_path(monkeypatch):
    """From now on take the torch path CUDA takes (streamed geqrf, stacked reduction, geqrf of
    [T; λI]), here on the CPU."""
    for module in (streaming, solvers):
        monkeypatch.setattr(module, "is_cpu_float64", lambda tensor: False)


def underdetermined(problem):
    return problem.outputs * problem.x.shape[0] < problem.width


def merged_triangular(problem):
    """The CPU path's merge of the 2n blocks, whatever the shape."""
    return merge_blocks(data_factor(problem), problem.column_scales())


def stacked_reduction(problem):
    return reduced_system(data_factor(problem), problem.column_scales())


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
    reduced_matrix, reduced_rhs = stacked_reduction(problem)
    reduced = torch.linalg.lstsq(reduced_matrix, reduced_rhs[:, None], driver="gelsd").solution
    torch.testing.assert_close(reduced[:, 0], dense, rtol=1e-9, atol=1e-9)
    # ‖A c − b‖² = ‖reduced residual‖² + ‖part of b outside the range of Q_S‖² (a constant)
    outside = rhs.norm() ** 2 - reduced_rhs.norm() ** 2
    for coef in (dense, torch.randn_like(dense)):
        full = (matrix @ coef - rhs).norm() ** 2
        part = (reduced_matrix @ coef - reduced_rhs).norm() ** 2
        torch.testing.assert_close(full, part + outside, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("parallel", [False, True])
def test_merged_triangle_equals_stacked_reduction(parallel, data, monkeypatch):
    if parallel:  # pairwise merges in threads, as for large widths
        monkeypatch.setattr(streaming, "PARALLEL_FLOPS", 0)
    problem = problem_of(data, 60)
    triangle, rhs = merged_triangular(problem)
    stacked_matrix, stacked_rhs = stacked_reduction(problem)
    assert torch.equal(triangle, torch.triu(triangle))
    # same Gram matrix and projected right-hand side: an orthogonal transform of the stack
    torch.testing.assert_close(triangle.T @ triangle, stacked_matrix.T @ stacked_matrix)
    torch.testing.assert_close(triangle.T @ rhs, stacked_matrix.T @ stacked_rhs)


def test_streamed_qr_equals_single_chunk(data):
    single = streamed_R(problem_of(data, 50))
    many = streamed_R(problem_of(data, 50, chunk_bytes=60 * 54 * 8))  # 60 points a chunk
    assert problem_of(data, 50, chunk_bytes=60 * 54 * 8).chunk_points() == 60
    torch.testing.assert_close(many.abs(), single.abs(), rtol=1e-9, atol=1e-11)


def test_point_ranges_cover_everything_evenly():
    assert point_ranges(1000, 3, least=100) == [slice(0, 333), slice(333, 666), slice(666, 1000)]
    assert point_ranges(1000, 8, least=300) == [slice(0, 333), slice(333, 666), slice(666, 1000)]
    assert point_ranges(50, 4, least=100) == [slice(0, 50)]  # too few points to split


@pytest.fixture
def parallel_small(monkeypatch):
    """Let even these small problems use parallel ranges and merges."""
    monkeypatch.setattr(streaming, "PARALLEL_FLOPS", 0)


@pytest.mark.parametrize(("threads", "chunk_bytes"), [(1, None), (3, None), (3, 40 * 54 * 8)])
def test_parallel_streamed_factor_is_an_exact_R(threads, chunk_bytes, data, parallel_small):
    """Split over threads and chunks, R still satisfies RᵀR = [S | ẋ]ᵀ[S | ẋ]."""
    kwargs = {"chunk_bytes": chunk_bytes} if chunk_bytes else {}
    problem, before = problem_of(data, 50, **kwargs), torch.get_num_threads()
    with torch_threads(threads):
        assert len(streaming.factor_ranges(problem)) == threads
        factor = data_factor(problem)
        assert torch.get_num_threads() == threads  # the worker pool restored its change
    assert torch.get_num_threads() == before
    full = torch.cat([problem.slopes(), problem.xdot], dim=1)
    assert torch.equal(factor, torch.triu(factor)) and factor.shape == (54, 54)
    torch.testing.assert_close(factor.T @ factor, full.T @ full, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(factor.abs(), streamed_R(problem).abs(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", ["tall", "2nN<M"])
def test_ridge_block_adds_lambda_squared_to_the_gram(shape, path, data, monkeypatch):
    """Square or trapezoidal F: the R of [F; λI] has RᵀR = FᵀF + λ²I and Rᵀr = Fᵀf."""
    points, width = SHAPES[shape]
    triangle, rhs = triangular_system(problem_of(data, width, points=points))
    if path == "torch":
        use_torch_path(monkeypatch)
    ridged, ridged_rhs = with_ridge(triangle, rhs, 0.5)
    assert ridged.shape == (width, width) and torch.equal(ridged, torch.triu(ridged))
    expected = triangle.T @ triangle + 0.25 * torch.eye(width, dtype=torch.float64)
    torch.testing.assert_close(ridged.T @ ridged, expected)
    torch.testing.assert_close(ridged.T @ ridged_rhs, triangle.T @ rhs)


def test_spectral_norm_estimate():
    rng = np.random.default_rng(5)
    u, _ = np.linalg.qr(rng.standard_normal((80, 30)))
    v, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    matrix = torch.as_tensor(u @ np.diag(np.logspace(0, -14, 30)) @ v.T)  # decaying spectrum
    assert spectral_norm(matrix) == pytest.approx(1.0, rel=1e-5)
    assert spectral_norm(torch.zeros(5, 3, dtype=torch.float64)) == 0.0


def test_qr_ridge_solves_the_tikhonov_problem(data):
    """With a large rcond the ridge matters: c = argmin ‖Ac − b‖² + λ²‖c‖², λ = rcond·σ_max."""
    problem, rcond = problem_of(data, 30), 1e-3
    matrix, rhs = problem.dense()
    sigma_max = spectral_norm(matrix)  # the estimate the solver uses (AᵀA = TᵀT)
    assert sigma_max == pytest.approx(float(torch.linalg.matrix_norm(matrix, ord=2)), rel=1e-3)
    ridge = rcond * sigma_max
    stacked = torch.cat([matrix, ridge * torch.eye(30, dtype=torch.float64)])
    padded = torch.cat([rhs, rhs.new_zeros(30)])
    expected = torch.linalg.lstsq(stacked, padded[:, None], driver="gelsd").solution[:, 0]
    solution = solve("qr_ridge", problem, rcond)
    torch.testing.assert_close(solution.coef, expected, rtol=1e-6, atol=1e-8)
    assert solution.effective_rank == 30
    unregularised = solve("gelsd", problem, 1e-13).coef
    assert solution.coef.norm() < unregularised.norm()  # the ridge shrinks c


@pytest.mark.parametrize("solver", ["qr_ridge", "qr_svd"])
def test_torch_path_used_on_cuda_agrees_with_the_lapack_path(solver, data, monkeypatch):
    problem = problem_of(data, 40)
    lapack_path = solve(solver, problem, 1e-13)
    use_torch_path(monkeypatch)
    torch_path = solve(solver, problem, 1e-13)
    torch.testing.assert_close(torch_path.coef, lapack_path.coef, rtol=1e-7, atol=1e-9)
    assert torch_path.effective_rank == lapack_path.effective_rank


def test_qr_ridge_on_a_zero_system_returns_zeros(data):
    problem = problem_of(data, 10)
    problem.hidden_weight = torch.zeros_like(problem.hidden_weight)  # G = J Wᵀ = 0, so A = 0
    solution = solve("qr_ridge", problem, 1e-13)
    assert solution.effective_rank == 0 and torch.equal(solution.coef, torch.zeros(10).double())


def test_qr_ridge_in_float32_runs_on_the_torch_path(data):
    problem = problem_of(data, 20)
    single = GradientLeastSquares(*(t.float() for t in (problem.x, problem.xdot,
                                   problem.hidden_weight, problem.hidden_bias)))  # fmt: skip
    matrix, rhs = problem.dense()
    reference = solve("gelsd", problem, 1e-13).coef
    coef = solve("qr_ridge", single, 1e-13).coef
    assert coef.dtype == torch.float32 and torch.isfinite(coef).all()
    best = (matrix @ reference - rhs).norm()
    assert (matrix @ coef.double() - rhs).norm() <= 1.01 * best + 1e-4 * rhs.norm()


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
        reference_residual = (matrix @ reference.coef - rhs).norm() / rhs.norm()
        for coef in (solution.coef, solve("qr_ridge", problem, 1e-13).coef):
            residual = (matrix @ coef - rhs).norm() / rhs.norm()
            assert residual <= 1.5 * reference_residual


@pytest.mark.parametrize("path", PATHS)
def test_factor_of_fewer_points_than_columns_is_an_exact_trapezoid(path, data, monkeypatch):
    """N < M + 2n: R of [S | ẋ] has one row a point (LAPACK geqrt of a wide chunk)."""
    if path == "torch":
        use_torch_path(monkeypatch)
    problem = problem_of(data, 100, points=40)
    factor = data_factor(problem)
    full = torch.cat([problem.slopes(), problem.xdot], dim=1)
    assert factor.shape == (40, 104) and torch.equal(factor, torch.triu(factor))
    torch.testing.assert_close(factor.T @ factor, full.T @ full, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", SHAPES)
def test_triangular_system_is_exact_for_every_shape(shape, path, data, monkeypatch):
    """F (r × M, r = min(2n·min(N, M+2n), M)) upper trapezoidal with FᵀF = AᵀA, Fᵀf = Aᵀb."""
    if path == "torch":
        use_torch_path(monkeypatch)
    points, width = SHAPES[shape]
    problem = problem_of(data, width, points=points)
    matrix, rhs = problem.dense()
    factor, factor_rhs = triangular_system(problem)
    rows = min(problem.outputs * min(points, width + problem.outputs), width)
    assert factor.shape == (rows, width) and factor_rhs.shape == (rows,)
    assert torch.equal(factor, torch.triu(factor))
    scale = float(matrix.norm()) ** 2
    torch.testing.assert_close(factor.T @ factor, matrix.T @ matrix, rtol=0, atol=1e-13 * scale)
    torch.testing.assert_close(factor.T @ factor_rhs, matrix.T @ rhs, rtol=0, atol=1e-13 * scale)


def dense_reference(problem, rcond=1e-13):
    """numpy's gelsd on the dense A: minimum-norm solution, residual and A's null space."""
    matrix, rhs = (t.numpy() for t in problem.dense())
    coef, _, rank, _ = np.linalg.lstsq(matrix, rhs, rcond=rcond)
    null_space = np.linalg.svd(matrix)[2][rank:]
    return matrix, rhs, coef, null_space


@pytest.mark.parametrize(
    ("solver", "path"),
    [("gelsd", "lapack")] + [(s, p) for s in SOLVERS if s != "gelsd" for p in PATHS],
)
@pytest.mark.parametrize("shape", SHAPES)
def test_solvers_on_every_shape(shape, solver, path, data, monkeypatch):
    """A least-squares solution for every shape; minimum norm where it is not unique."""
    points, width = SHAPES[shape]
    problem = problem_of(data, width, points=points)
    matrix, rhs, reference, null_space = dense_reference(problem)
    if path == "torch":
        use_torch_path(monkeypatch)
    coef = solve(solver, problem, 1e-13).coef.numpy()
    assert coef.shape == (width,) and np.isfinite(coef).all()
    residual, best = (np.linalg.norm(matrix @ c - rhs) for c in (coef, reference))
    norm, least = np.linalg.norm(coef), np.linalg.norm(reference)
    off_row_space = np.linalg.norm(null_space @ coef) / norm  # 0 for a minimum-norm solution
    if solver in ("gelsd", "qr_svd"):  # the truncated-SVD solution itself
        np.testing.assert_allclose(coef, reference, rtol=0, atol=1e-8 * least)
        assert off_row_space < 1e-8
    elif solver == "qr_ridge":
        assert residual <= best * (1 + 1e-6) + 1e-10 * np.linalg.norm(rhs)
        if underdetermined(problem):  # λ = 1e-13·σ_max: Tikhonov ≈ minimum norm
            assert least * (1 - 1e-3) <= norm <= least * (1 + 1e-6)
            assert off_row_space < 1e-3
    else:  # normal: a ridge Cholesky, squared condition number
        assert residual <= best + 1e-2 * np.linalg.norm(rhs)


@pytest.mark.parametrize("width", [150, 5000])
def test_fewer_points_than_neurons_end_to_end(width):
    """Pendulum, 100 points (200 equations): every QR solver is within 3× of gelsd's error."""
    data = make_dataset(systems.get("pendulum"), 100, 500, data_seed=3943)
    errors = {}
    for solver in ("gelsd", "qr_svd", "qr_ridge"):
        net = SampledTrainer(width, method="uswim", solver=solver).fit(data)
        errors[solver] = rel_l2(data.H_test, net.predict_H(data.x_test))
    assert all(np.isfinite(e) and e <= 3 * errors["gelsd"] for e in errors.values()), errors


@pytest.mark.parametrize("system", ["pendulum", "spring", "lotka_volterra"])
def test_qr_ridge_is_in_the_accuracy_class_of_gelsd(system):
    """Same sampled network, test rel-L2(H) within 2× of the paper's SVD solver (rcond 1e-13)."""
    data = make_dataset(systems.get(system), 1500, 1000, data_seed=7)
    errors = {}
    for solver in ("gelsd", "qr_ridge"):
        net = SampledTrainer(250, method="uswim", solver=solver).fit(data)
        errors[solver] = rel_l2(data.H_test, net.predict_H(data.x_test))
    assert errors["qr_ridge"] <= 2 * errors["gelsd"], errors


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


def test_normal_equations_factor_a_singular_float32_gram() -> None:
    """A-SWIM's first pass on 2 float32 points at width 2 used to stop with a Cholesky error: the
    default ridge (1e-12 of the diagonal) is below float32's resolution."""
    from hnnbench.trainers.lstsq.solvers import ridged_cholesky

    row = torch.tensor([[1.0, 2.0]], dtype=torch.float32)
    gram = row.T @ row  # rank 1
    assert int(torch.linalg.cholesky_ex(gram + 1e-12 * gram.diagonal().mean() * torch.eye(2))[1])
    chol = ridged_cholesky(gram, 1e-12)
    assert torch.allclose(chol @ chol.T, gram, atol=1e-4 * float(gram.max()))
    # where the first try factors, the result is the former in-place ridge's, bit for bit
    gram64 = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    former = gram64.clone()
    former.diagonal().add_(1e-12 * former.diagonal().mean())
    assert torch.equal(ridged_cholesky(gram64, 1e-12), torch.linalg.cholesky(former))

"""The four last-layer solvers behind one signature: ``solve(name, problem, rcond)`` →
coefficients c and the effective rank.

* ``gelsd``      the paper's approach: dense A, SVD-based least squares with cutoff
                 rcond·σ_max (LAPACK gelsd on CPU; an explicit SVD on CUDA, where torch has no
                 rank-revealing lstsq driver).
* ``qr_svd``     the structured reduction of ``streaming.py`` to an upper trapezoidal F (at most
                 M × M, with AᵀA = FᵀF), then gelsd on F (its SVD on CUDA) with the same cutoff.
* ``qr_ridge``   (default) the same F, then Tikhonov least squares
                 min ‖Ac − b‖² + λ²‖c‖² with λ = rcond·σ_max: one more merge, of λI, and a
                 triangular solve — no SVD. Small singular directions are damped by
                 σ²/(σ² + λ²) instead of cut at σ = λ; never forms AᵀA, so unlike ``normal``
                 it keeps QR's accuracy (test errors equal to or below gelsd's at the same
                 rcond: benchmarks/README.md).
                 ``rcond='auto'``: λ chosen by generalised cross-validation on F (one SVD of
                 F, then the same solve); the only solver with an automatic choice.
* ``normal``     normal equations AᵀA = (SᵀS) ⊙ (GᵀG) with a small ridge and Cholesky (SᵀS by
                 syrk on CPU): fastest, but squares the condition number — not paper-accurate,
                 used by default only for A-SWIM's first pass (see ``sampled.py``).

Every solver also takes the S-MLP's ``FeatureLeastSquares`` (``problem.py``): one matrix and 2n
right-hand sides, solved together (one factorisation, one λ for all outputs); c is then
(M + 1) × 2n.

With fewer equations than unknowns gelsd and qr_svd return the minimum-norm solution, qr_ridge
the Tikhonov one (minimum norm as λ → 0) and normal its ridge approximation of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.linalg import blas

from hnnbench.checks import ConfigError, choice
from hnnbench.trainers.lapack import tpqrt
from hnnbench.trainers.lstsq.problem import LeastSquaresProblem, Solution, is_cpu_float64
from hnnbench.trainers.lstsq.streaming import (
    TPQRT_BLOCK,
    merge_flops,
    serial_if_small,
    triangular_factor,
    triangular_system,
)


def spectral_norm(matrix: torch.Tensor, iterations: int = 10) -> float:
    """σ_max by power iteration on MᵀM from a fixed start (float32 is plenty for a scale).

    Power iteration approaches σ_max from below; the result is at least ‖M‖_F/√cols, a
    guaranteed lower bound, so it is positive whenever M ≠ 0.
    """
    matrix = matrix.float()
    vector = torch.randn(matrix.shape[1], generator=torch.Generator().manual_seed(0))
    vector, estimate = vector.to(matrix.device), 0.0
    for _ in range(iterations):
        image = matrix.T @ (matrix @ vector)
        norm = float(image.norm())
        if norm == 0:
            break
        vector, estimate = image / norm, math.sqrt(norm)
    return max(estimate, float(matrix.norm()) / math.sqrt(matrix.shape[1]))


def as_columns(rhs: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """A right-hand side as a matrix (one column per output) and the map back to its shape."""
    if rhs.ndim == 2:
        return rhs, lambda coef: coef
    return rhs[:, None], lambda coef: coef[:, 0]


def svd_solve(matrix: torch.Tensor, rhs: torch.Tensor, rcond: float) -> Solution:
    """Truncated-SVD least squares: singular values ≤ rcond·σ_max are dropped; the
    minimum-norm solution of what remains (any shape; ``rhs`` a vector or one column per
    output).

    On CPU LAPACK gelsd solves directly, without forming U and V. On CUDA (no rank-revealing
    lstsq driver there) a tall matrix is first reduced to its square triangular factor (R of
    [A | b], the same singular values), then an explicit SVD with the same cutoff.
    """
    rhs, shaped = as_columns(rhs)
    if matrix.device.type == "cpu":
        result = torch.linalg.lstsq(matrix, rhs, rcond=rcond, driver="gelsd")
        return Solution(shaped(result.solution), int(result.rank))
    width = matrix.shape[1]
    if matrix.shape[0] > width:
        factor = triangular_factor(torch.cat([matrix, rhs], dim=1))[:width]
        matrix, rhs = factor[:, :width], factor[:, width:]
    u, sigma, vh = torch.linalg.svd(matrix, full_matrices=False)
    keep = sigma > rcond * sigma[0]
    coef = vh[keep].T @ ((u[:, keep].T @ rhs) / sigma[keep, None])
    return Solution(shaped(coef), int(keep.sum()))


def solve_gelsd(problem: LeastSquaresProblem, rcond: float) -> Solution:
    return svd_solve(*problem.dense(), rcond)


def solve_qr_svd(problem: LeastSquaresProblem, rcond: float) -> Solution:
    return svd_solve(*triangular_system(problem), rcond)


def with_ridge(
    factor: torch.Tensor, rhs: torch.Tensor, ridge: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Square R factor (and rotated right-hand side) of [F; λI] c = [f; 0], F upper
    trapezoidal (r × M, r ≤ M); f a vector or k columns (then k columns come back).

    tpqrt merges a square triangle with a trapezoid below it: [F f; 0 0] on [λI 0] when F is
    square, else [λI 0; 0 0] on the r rows of [F f] (≈ 2rM² flops instead of (2/3)M³).
    """
    rows, width = factor.shape
    rhs, shaped = as_columns(rhs)
    cols = width + rhs.shape[1]
    # both blocks column-major as LAPACK wants, so tpqrt works in place: no copies
    square = factor.new_zeros(cols, cols).T
    below = factor.new_zeros(cols, width if rows == width else rows).T
    data, ridged = (square, below) if rows == width else (below, square)
    data[:rows, :width], data[:rows, width:] = factor, rhs
    ridged[:width, :width].diagonal().fill_(ridge)
    if is_cpu_float64(factor):
        with serial_if_small(merge_flops(cols, below.shape[0])):
            tpqrt(square.numpy(), below.numpy(), nb=TPQRT_BLOCK)  # in place
        packed = square
    else:
        packed = triangular_factor(torch.cat([square, below]))
    return packed[:width, :width], shaped(packed[:width, width:])


#: rcond values GCV chooses among for ``rcond='auto'``: 1e-16 … 1e-4, four a decade
AUTO_GRID = tuple(10.0 ** (k / 4) for k in range(-64, -15))


def gcv_scores(
    factor: torch.Tensor,
    rhs: torch.Tensor,
    discarded: float,
    equations: int,
    ridges: np.ndarray,
) -> np.ndarray:
    """Generalised cross-validation GCV(λ) = m‖Ac_λ − b‖² / (m − Σ σ²/(σ² + λ²))² of the
    Tikhonov solutions c_λ, for each λ in ``ridges``, from the reduced system alone.

    m = ``equations`` (rows of A), σ the singular values of F (those of A), β = Uᵀf; then
    ‖Ac_λ − b‖² = Σ (λ²/(σ² + λ²))² β² + discarded² (the part of b the reduction set aside:
    the noise floor) and the trace term is the effective number of parameters. A λ whose
    denominator is not positive (as many parameters as equations) scores inf. With k
    right-hand sides (the S-MLP's outputs, one λ for all) the residuals add up, m counts the
    equations of all outputs and each output has the trace's parameters.
    """
    u, sigma, _ = np.linalg.svd(factor.double().cpu().numpy(), full_matrices=False)
    beta = u.T @ as_columns(rhs)[0].double().cpu().numpy()  # (r, k)
    s2, l2 = sigma[None, :] ** 2, np.asarray(ridges, dtype=float)[:, None] ** 2
    damped = l2 / (s2 + l2)
    residual = ((damped[:, :, None] * beta[None]) ** 2).sum(axis=(1, 2)) + discarded**2
    freedom = equations - beta.shape[1] * (s2 / (s2 + l2)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(freedom > 0, equations * residual / freedom**2, np.inf)
    return scores


def ridge_solve(factor: torch.Tensor, rhs: torch.Tensor, ridge: float) -> torch.Tensor:
    """The Tikhonov coefficients for one λ: R of [F; λI] and a triangular solve."""
    triangle, rhs = with_ridge(factor, rhs, ridge)
    rhs, shaped = as_columns(rhs)
    return shaped(torch.linalg.solve_triangular(triangle, rhs, upper=True))


def solve_qr_ridge(problem: LeastSquaresProblem, rcond: float | str) -> Solution:
    """Tikhonov least squares min ‖Ac − b‖² + λ²‖c‖² with λ = rcond·σ_max(A), solved stably.

    The trapezoid F of ``qr_svd`` (same reduction and merges), then the R factor of [F; λI]
    (never AᵀA) and a triangular solve. Its singular values are ≥ λ, so the solve is well
    defined whatever the shape; directions with σ ≪ λ are damped by
    σ²/(σ² + λ²) instead of cut at σ = λ. λ is at least ε_dtype·σ_max (a ridge below the
    dtype's resolution would do nothing). Reported rank: the width (nothing is truncated).

    ``rcond='auto'``: rcond is the minimiser of GCV (``gcv_scores``) over ``AUTO_GRID`` (values
    below ε replaced by ε), from one SVD of F (M × M at most: O(M³), the order of one merge);
    then the same solve with it. The chosen value is returned in ``Solution.rcond``.
    """
    auto = rcond == "auto"
    reduced = triangular_system(problem, with_residual=auto)
    factor, rhs = reduced[0], reduced[1]
    scale = spectral_norm(factor)
    if scale == 0:  # A = 0: the minimum-norm solution
        zeros = torch.zeros((problem.width, *rhs.shape[1:]), dtype=rhs.dtype, device=rhs.device)
        return Solution(zeros, 0, AUTO_GRID[0] if auto else None)
    eps = torch.finfo(factor.dtype).eps
    if auto:  # the grid's values below ε act as ε: ε itself is the smallest candidate
        grid = np.unique(np.maximum(AUTO_GRID, eps))
        equations = problem.x.shape[0] * problem.outputs
        scores = gcv_scores(factor, rhs, reduced[2], equations, grid * scale)
        rcond = float(grid[int(np.argmin(scores))])
    coef = ridge_solve(factor, rhs, max(rcond, eps) * scale)
    return Solution(coef, problem.width, rcond if auto else None)


def augmented_gram(problem: LeastSquaresProblem) -> torch.Tensor:
    """[S | ẋ]ᵀ[S | ẋ] (S-MLP: [Φ | Ẋ]ᵀ[Φ | Ẋ]) accumulated over chunks; on CPU (float64) by
    BLAS syrk (half the flops)."""
    cols = problem.width + problem.outputs
    if is_cpu_float64(problem.x):
        gram = np.zeros((cols, cols), order="F")
        for chunk in problem.chunks():  # chunk.T is a Fortran-ordered (cols, rows) view: no copy
            gram = blas.dsyrk(1.0, chunk.numpy().T, beta=1.0, c=gram, overwrite_c=1)
        return torch.from_numpy(np.triu(gram) + np.triu(gram, 1).T)
    gram = problem.x.new_zeros(cols, cols)
    for chunk in problem.chunks():
        gram += chunk.T @ chunk
    return gram


def solve_normal(problem: LeastSquaresProblem, rcond: float, ridge: float = 1e-12) -> Solution:
    """Cholesky of (SᵀS ⊙ GᵀG + ridge·mean(diag)·I) (S-MLP: ΦᵀΦ + …); the rank reported is
    the full width."""
    gram, rhs = problem.normal_equations(augmented_gram(problem))
    rhs, shaped = as_columns(rhs)
    chol = ridged_cholesky(gram, ridge)
    return Solution(shaped(torch.cholesky_solve(rhs, chol)), problem.width)


def ridged_cholesky(gram: torch.Tensor, ridge: float, tries: int = 16) -> torch.Tensor:
    """Cholesky of gram + ridge·mean(diag)·I. Where that does not factor (a singular Gram
    matrix, or a ridge below float32's resolution) the ridge grows tenfold until it does, so a
    valid tiny or rank-deficient problem never fails; where the first try factors, nothing
    changes."""
    scale = float(gram.diagonal().mean()) or 1.0
    eye = torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    for attempt in range(tries):
        chol, info = torch.linalg.cholesky_ex(gram + ridge * 10.0**attempt * scale * eye)
        if int(info) == 0:
            return chol
    raise RuntimeError(
        f"the normal equations did not factor even with ridge {ridge * 10.0**attempt:g}"
    )


SOLVERS: dict[str, Callable[[LeastSquaresProblem, float], Solution]] = {
    "gelsd": solve_gelsd,
    "qr_svd": solve_qr_svd,
    "qr_ridge": solve_qr_ridge,
    "normal": solve_normal,
}


#: the solvers that accept ``rcond='auto'`` (``normal`` ignores rcond, so it takes any)
AUTO_SOLVERS = ("qr_ridge", "normal")


def check_solver(name: str) -> str:
    return choice("solver", name, SOLVERS)


def check_auto(name: str, rcond: float | str, key: str = "solver") -> None:
    """Refuse rcond='auto' with a solver that has no automatic choice (one-line ConfigError)."""
    if rcond == "auto" and name not in AUTO_SOLVERS:
        raise ConfigError(
            f"{key}={name!r} has no rcond='auto' (GCV); allowed with auto: {list(AUTO_SOLVERS)}"
        )


def solve(name: str, problem: LeastSquaresProblem, rcond: float | str) -> Solution:
    """Least-squares coefficients c of the last layer with the named solver (rcond='auto':
    GCV's choice, ``qr_ridge`` only; ``normal`` ignores rcond)."""
    check_auto(check_solver(name), rcond)
    return SOLVERS[name](problem, rcond)

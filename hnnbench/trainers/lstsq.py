"""The last-layer least-squares problem of a sampled HNN and the solvers behind one signature.

With fixed hidden weights W (M, 2n), b (M,), φ_j(x) = tanh(w_j·x + b_j) and the slopes
s_ij = 1 − tanh²(w_j·x_i + b_j), Hamilton's equations give, for every point i and output d,

    Σ_j c_j s_ij G_dj = ẋ_id,        G = J Wᵀ  (2n, M)

i.e. the 2nN × M system A c = b with row (i, d) of A equal to S_i ⊙ G_d. The anchor row
Σ_j c_j φ_j(x0) + c_0 = H0 is the only row in which c_0 appears, so every solver satisfies it
exactly afterwards with c_0 = H0 − φ(x0)·c (see ``sampled.py``).

Solvers (``solve(name, problem, rcond)`` → coefficients c and the effective rank):

* ``gelsd``      the paper's approach: dense A, SVD-based least squares with cutoff
                 rcond·σ_max (LAPACK gelsd on CPU; an explicit SVD on CUDA, where torch has no
                 rank-revealing lstsq driver).
* ``qr_svd``     structure-exploiting QR, then an SVD with the same cutoff. Since A_d = S D_d with
                 D_d = diag(G_d), a QR of S alone (N × M, not 2nN × M) reduces the problem
                 exactly (by orthogonal transformations) to the (2n·M) × M system
                 [R_S D_0; …; R_S D_{2n−1}] c = [Z_0; …; Z_{2n−1}], Z = Q_Sᵀ ẋ. The QR of S is
                 streamed over row chunks of points (tall-skinny QR of [R; S_chunk ẋ_chunk]), so
                 memory is O(chunk·M + M²) whatever N is and no (N, 2n, M) tensor is formed.
                 The last, small step is gelsd on the M × M factor (CPU) or its SVD (CUDA).
* ``normal``     normal equations AᵀA = (SᵀS) ⊙ (GᵀG) with a small ridge and Cholesky: fastest,
                 but squares the condition number (kept for comparison, not paper-accurate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

#: memory budget (bytes) for one chunk of slopes in the streamed QR
CHUNK_BYTES = 256 * 2**20


@dataclass
class GradientLeastSquares:
    """The system A c = b of Hamilton's equations for fixed hidden weights (torch tensors)."""

    x: torch.Tensor  # (N, 2n) training points
    xdot: torch.Tensor  # (N, 2n) targets
    hidden_weight: torch.Tensor  # (M, 2n)
    hidden_bias: torch.Tensor  # (M,)

    @property
    def width(self) -> int:
        return self.hidden_weight.shape[0]

    @property
    def outputs(self) -> int:
        return self.x.shape[1]

    def column_scales(self) -> torch.Tensor:
        """G = J Wᵀ (2n, M): row d scales the slopes in the equation for ẋ_d."""
        dof = self.outputs // 2
        w_t = self.hidden_weight.T
        return torch.cat([w_t[dof:], -w_t[:dof]], dim=0)

    def slopes(self, rows: slice = slice(None)) -> torch.Tensor:
        """S = 1 − tanh²(x Wᵀ + b) for a slice of points, (n_rows, M)."""
        return (
            1 - torch.tanh(torch.addmm(self.hidden_bias, self.x[rows], self.hidden_weight.T)) ** 2
        )

    def dense(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The full 2nN × M matrix A (rows point-major) and right-hand side b."""
        slopes = self.slopes()
        matrix = (slopes[:, None, :] * self.column_scales()[None, :, :]).reshape(-1, self.width)
        return matrix, self.xdot.reshape(-1)

    def chunk_points(self) -> int:
        row_bytes = (self.width + self.outputs) * self.x.element_size()
        return max(self.width + self.outputs, CHUNK_BYTES // row_bytes)

    def chunks(self) -> Iterator[torch.Tensor]:
        """Row chunks of [S | ẋ] ((n_rows, M + 2n)), each at most ``CHUNK_BYTES``."""
        step = self.chunk_points()
        for start in range(0, self.x.shape[0], step):
            rows = slice(start, start + step)
            yield torch.cat([self.slopes(rows), self.xdot[rows]], dim=1)


@dataclass
class Solution:
    coef: torch.Tensor  # (M,)
    effective_rank: int


def triangular_factor(matrix: torch.Tensor) -> torch.Tensor:
    """R of a Householder QR (Q is never formed): min(rows, cols) × cols, upper triangular."""
    packed, _ = torch.geqrf(matrix)
    size = min(matrix.shape)
    return torch.triu(packed[:size])


def streamed_R(problem: GradientLeastSquares) -> torch.Tensor:
    """R of [S | ẋ] by tall-skinny QR over point chunks: QR([R_prev; chunk]) keeps R exact."""
    factor: torch.Tensor | None = None
    for chunk in problem.chunks():
        block = chunk if factor is None else torch.cat([factor, chunk], dim=0)
        factor = triangular_factor(block)
    assert factor is not None
    return factor


def reduced_system(problem: GradientLeastSquares) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact (2n·k) × M reduction [R_S D_d]_d c = [Z_d]_d of A c = b (k = rows of R_S)."""
    width = problem.width
    factor = streamed_R(problem)
    r_s, z = factor[:, :width], factor[:, width:]  # z = Q_Sᵀ ẋ in the rows R_S spans
    scales = problem.column_scales()
    matrix = torch.cat([r_s * scales[d] for d in range(problem.outputs)], dim=0)
    rhs = torch.cat([z[:, d] for d in range(problem.outputs)], dim=0)
    return matrix, rhs


def svd_solve(matrix: torch.Tensor, rhs: torch.Tensor, rcond: float) -> Solution:
    """Truncated-SVD least squares: singular values ≤ rcond·σ_max are dropped.

    A tall matrix is first reduced to its square triangular factor (R of [A | b]), which has the
    same singular values; on CPU LAPACK gelsd then solves without forming U and V.
    """
    width = matrix.shape[1]
    if matrix.shape[0] > width:
        factor = triangular_factor(torch.cat([matrix, rhs[:, None]], dim=1))[:width]
        matrix, rhs = factor[:, :width], factor[:, width]
    if matrix.device.type == "cpu":
        result = torch.linalg.lstsq(matrix, rhs[:, None], rcond=rcond, driver="gelsd")
        return Solution(result.solution[:, 0], int(result.rank))
    u, sigma, vh = torch.linalg.svd(matrix, full_matrices=False)
    keep = sigma > rcond * sigma[0]
    coef = vh[keep].T @ ((u[:, keep].T @ rhs) / sigma[keep])
    return Solution(coef, int(keep.sum()))


def solve_gelsd(problem: GradientLeastSquares, rcond: float) -> Solution:
    matrix, rhs = problem.dense()
    if matrix.device.type == "cpu":
        result = torch.linalg.lstsq(matrix, rhs[:, None], rcond=rcond, driver="gelsd")
        return Solution(result.solution[:, 0], int(result.rank))
    return svd_solve(matrix, rhs, rcond)


def solve_qr_svd(problem: GradientLeastSquares, rcond: float) -> Solution:
    return svd_solve(*reduced_system(problem), rcond)


def solve_normal(problem: GradientLeastSquares, rcond: float, ridge: float = 1e-12) -> Solution:
    """Cholesky of (SᵀS ⊙ GᵀG + ridge·mean(diag)·I); the rank reported is the full width."""
    scales = problem.column_scales()
    gram = torch.zeros(problem.width, problem.width, dtype=problem.x.dtype, device=problem.x.device)
    slopes_t_xdot = torch.zeros(
        problem.width, problem.outputs, dtype=gram.dtype, device=gram.device
    )
    for chunk in problem.chunks():
        slopes, xdot = chunk[:, : problem.width], chunk[:, problem.width :]
        gram += slopes.T @ slopes
        slopes_t_xdot += slopes.T @ xdot
    gram *= scales.T @ scales
    rhs = (scales.T * slopes_t_xdot).sum(dim=1)
    gram.diagonal().add_(ridge * gram.diagonal().mean())
    chol = torch.linalg.cholesky(gram)
    return Solution(torch.cholesky_solve(rhs[:, None], chol)[:, 0], problem.width)


SOLVERS: dict[str, Callable[[GradientLeastSquares, float], Solution]] = {
    "gelsd": solve_gelsd,
    "qr_svd": solve_qr_svd,
    "normal": solve_normal,
}


def check_solver(name: str) -> str:
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; allowed: {sorted(SOLVERS)}")
    return name


def solve(name: str, problem: GradientLeastSquares, rcond: float) -> Solution:
    """Least-squares coefficients c of the last layer with the named solver."""
    return SOLVERS[check_solver(name)](problem, rcond)

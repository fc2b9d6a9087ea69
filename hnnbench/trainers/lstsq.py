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
                 On CPU (float64) each thread streams its own range of points with a one-thread
                 LAPACK geqrt (GIL released, see ``lapack.py``) and the 2n stacked blocks, all
                 upper triangular, are merged pairwise in parallel by the structured QR of a
                 triangle on a triangle (tpqrt, ≈ (2/3)M³ flops a merge instead of 2·(2nM)·M²
                 for a dense QR of the stack). Last, gelsd on the M × M factor (its SVD on CUDA).
* ``qr_ridge``   (default) the same triangle T, then Tikhonov least squares
                 min ‖Ac − b‖² + λ²‖c‖² with λ = rcond·σ_max: one more merge, of λI, and a
                 triangular solve — no SVD. Small singular directions are damped by
                 σ²/(σ² + λ²) instead of cut at σ = λ; never forms AᵀA, so unlike ``normal``
                 it keeps QR's accuracy (test errors equal to or below gelsd's at the same
                 rcond: benchmarks/README.md).
* ``normal``     normal equations AᵀA = (SᵀS) ⊙ (GᵀG) with a small ridge and Cholesky (SᵀS by
                 syrk on CPU): fastest, but squares the condition number — not paper-accurate,
                 used by default only for A-SWIM's first pass (see ``sampled.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import cache, partial

import numpy as np
import torch
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController

from hnnbench.hardware import torch_threads
from hnnbench.trainers.lapack import geqrt, tpqrt

#: memory budget (bytes) for one chunk of slopes in the streamed QR
CHUNK_BYTES = 384 * 2**20
#: block size of LAPACK tpqrt in the triangular merges (measured: 32 beats 16 and 48)
TPQRT_BLOCK = 32
#: block size of LAPACK geqrt in the streamed QR (measured: 128 beats 64 and 192)
QR_BLOCK = 128
#: flops below which a QR or merge is not worth a thread of its own (≈ 10 ms of one core)
PARALLEL_FLOPS = 5e8


@dataclass
class GradientLeastSquares:
    """The system A c = b of Hamilton's equations for fixed hidden weights (torch tensors)."""

    x: torch.Tensor  # (N, 2n) training points
    xdot: torch.Tensor  # (N, 2n) targets
    hidden_weight: torch.Tensor  # (M, 2n)
    hidden_bias: torch.Tensor  # (M,)
    chunk_bytes: int = CHUNK_BYTES  # memory for one chunk of [S | ẋ] in the streamed solvers

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

    def chunk_points(self, total: int | None = None) -> int:
        """Points per chunk when streaming ``total`` points (default: all): even chunks of at
        most ``chunk_bytes``, but at least M + 2n points."""
        total = self.x.shape[0] if total is None else total
        row_bytes = (self.width + self.outputs) * self.x.element_size()
        step = max(self.width + self.outputs, self.chunk_bytes // row_bytes)
        count = -(-total // step)  # chunks needed; then spread the points evenly
        return max(self.width + self.outputs, -(-total // count))

    def fill_chunk(self, out: torch.Tensor, start: int) -> None:
        """Write [S | ẋ] of the points start, start+1, … into ``out`` (rows, M + 2n) in place."""
        rows, slopes = slice(start, start + out.shape[0]), out[:, : self.width]
        torch.addmm(self.hidden_bias, self.x[rows], self.hidden_weight.T, out=slopes)
        slopes.tanh_().square_().neg_().add_(1)  # 1 − tanh², bitwise as in ``slopes``
        out[:, self.width :] = self.xdot[rows]

    def chunks(self) -> Iterator[torch.Tensor]:
        """Row chunks of [S | ẋ] ((n_rows, M + 2n)), each at most ``chunk_bytes``; the buffer is
        reused, so a chunk is valid until the next one is drawn."""
        step, total = self.chunk_points(), self.x.shape[0]
        buffer = self.x.new_empty(min(step, total), self.width + self.outputs)
        for start in range(0, total, step):
            chunk = buffer[: min(step, total - start)]
            self.fill_chunk(chunk, start)
            yield chunk


@dataclass
class Solution:
    coef: torch.Tensor  # (M,)
    effective_rank: int


def triangular_factor(matrix: torch.Tensor) -> torch.Tensor:
    """R of a Householder QR (Q is never formed): min(rows, cols) × cols, upper triangular."""
    packed, _ = torch.geqrf(matrix)
    size = min(matrix.shape)
    return torch.triu(packed[:size])


def is_cpu_float64(tensor: torch.Tensor) -> bool:
    return tensor.device.type == "cpu" and tensor.dtype == torch.float64


def streamed_R(problem: GradientLeastSquares, points: slice = slice(None)) -> torch.Tensor:
    """R of [S | ẋ] over a range of points by tall-skinny QR over chunks: QR([R_prev; chunk]).

    One column-major buffer holds R_prev in its top rows and the next chunk, written in place,
    below it. CPU, float64: LAPACK geqrt in place with the GIL released (``lapack.py``), so
    ranges can stream in parallel threads; elsewhere torch.geqrf. Returned column-major.
    """
    first, stop, _ = points.indices(problem.x.shape[0])
    cols, step = problem.width + problem.outputs, problem.chunk_points(stop - first)
    in_place, rows_max = is_cpu_float64(problem.x), min(step, stop - first) + cols
    if in_place:  # numpy's calloc'd buffer: the later stages ran ≈ 5 % faster than after torch's
        buffer = torch.from_numpy(np.zeros((rows_max, cols), order="F"))
    else:
        buffer = problem.x.new_empty(cols, rows_max).T
    held = 0  # rows of R_prev at the top of the buffer
    for start in range(first, stop, step):
        rows = min(step, stop - start)
        problem.fill_chunk(buffer[held : held + rows], start)
        if in_place:
            geqrt(buffer[: held + rows].numpy(), QR_BLOCK)
            held = min(held + rows, cols)
            buffer[:held].triu_()  # drop the Householder vectors below R
        else:
            factor = triangular_factor(buffer[: held + rows])
            held = factor.shape[0]
            buffer[:held] = factor
    return buffer[:held].T.contiguous().T


def point_ranges(total: int, parts: int, least: int) -> list[slice]:
    """Up to ``parts`` contiguous, near-equal ranges of ``total`` points, each ≥ ``least``."""
    parts = max(1, min(parts, total // max(least, 1)))
    bounds = [total * k // parts for k in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@cache
def blas_libraries() -> ThreadpoolController:
    """The BLAS and OpenMP libraries of this process, scanned once (a scan costs ~1 ms)."""
    return ThreadpoolController()


@contextmanager
def parallel_section(workers: int) -> Iterator[Callable]:
    """A ``map`` over ``workers`` threads that share the configured cores
    (torch.get_num_threads()): each runs torch and BLAS with threads // workers threads,
    restored afterwards. One worker: the builtin ``map`` in this thread, nothing changed."""
    if workers <= 1:
        yield map
        return
    inner = max(1, torch.get_num_threads() // workers)
    with (
        torch_threads(inner),
        blas_libraries().limit(limits=inner),
        ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(inner,)) as pool,
    ):
        yield pool.map


def serial_if_small(flops: float) -> AbstractContextManager:
    """One BLAS thread for a LAPACK call too small to share (measured: a 201² tpqrt took 8 ms
    with two OpenBLAS threads, 0.5 ms with one); larger calls keep the configured threads."""
    return blas_libraries().limit(limits=1) if flops < PARALLEL_FLOPS else nullcontext()


def merge_flops(cols: int) -> float:
    """tpqrt of a triangle on a triangle (R only): (2/3)n³."""
    return 2 * cols**3 / 3


def merge_tree(triangles: list[np.ndarray], parallel_map: Callable = map) -> np.ndarray:
    """R of the stacked square triangles, merged pairwise (tpqrt) level by level, the merges
    of a level through ``parallel_map``; the first array is overwritten by the result."""
    items = list(triangles)
    while len(items) > 1:
        pairs = list(zip(items[0::2], items[1::2], strict=False))
        list(parallel_map(lambda pair: tpqrt(*pair, nb=TPQRT_BLOCK), pairs))
        items = [top for top, _ in pairs] + items[2 * len(pairs) :]
    return items[0]


def factor_ranges(problem: GradientLeastSquares) -> list[slice]:
    """The point ranges ``data_factor`` factors in parallel: one per thread, each with at least
    2(M+2n) points and a QR worth a thread (``PARALLEL_FLOPS``)."""
    cols = problem.width + problem.outputs
    least = max(2 * cols, math.ceil(PARALLEL_FLOPS / (2 * cols**2)))
    return point_ranges(problem.x.shape[0], torch.get_num_threads(), least)


def data_factor(problem: GradientLeastSquares) -> torch.Tensor:
    """R of [S | ẋ] ((M+2n) × (M+2n) at most).

    CPU, float64: the points are split into one range per thread (if each range has ≥ 2(M+2n)
    points), each range factored by its own single-threaded streamed QR, the factors merged
    by tpqrt. Independent one-thread QRs avoid the idle time a multithreaded QR spends in
    its panels (measured on 2 cores: 92 GF/s for two concurrent one-thread geqrt, 72 GF/s
    for one two-thread MKL geqrf). Elsewhere (CUDA, float32): ``streamed_R``.
    """
    if not is_cpu_float64(problem.x):
        return streamed_R(problem)
    ranges = factor_ranges(problem)
    per_range = replace(problem, chunk_bytes=max(1, problem.chunk_bytes // len(ranges)))
    with parallel_section(len(ranges)) as parallel_map:
        factors = list(parallel_map(partial(streamed_R, per_range), ranges))
        return torch.from_numpy(merge_tree([f.numpy() for f in factors], parallel_map))


def reduced_system(problem: GradientLeastSquares) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact (2n·k) × M reduction [R_S D_d]_d c = [Z_d]_d of A c = b (k = rows of R_S)."""
    width = problem.width
    factor = data_factor(problem)
    r_s, z = factor[:, :width], factor[:, width:]  # z = Q_Sᵀ ẋ in the rows R_S spans
    scales = problem.column_scales()
    matrix = torch.cat([r_s * scales[d] for d in range(problem.outputs)], dim=0)
    rhs = torch.cat([z[:, d] for d in range(problem.outputs)], dim=0)
    return matrix, rhs


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


def merge_blocks(factor: torch.Tensor, scales: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the blocks of the reduced system, given R of [S | ẋ] and G = J Wᵀ (float64, CPU).

    The blocks B_d = [R_S D_d | Z_d] are upper trapezoidal (zero below the diagonal), so the
    QR of two stacked blocks is LAPACK's tpqrt with triangular inputs: ≈ (2/3)M³ flops a
    merge, 2n − 1 merges, done pairwise in parallel. The result is an (M+1) × (M+1) triangle
    T whose last column holds the rotated right-hand side (T[M, M] is the residual norm).
    """
    width, outputs = scales.shape[1], scales.shape[0]
    rows = min(factor.shape[0], width)  # rows below M of R have no S part: a constant residual
    r_s, z = factor[:rows, :width].numpy(), factor[:rows, width:].numpy()
    blocks = []
    for d, scale in enumerate(scales.numpy()):
        block = np.zeros((width + 1, width + 1), order="F")
        np.multiply(r_s, scale, out=block[:rows, :width])  # R_S D_d, no temporary
        block[:rows, width] = z[:, d]
        blocks.append(block)
    flops = merge_flops(width + 1)
    workers = min(torch.get_num_threads(), outputs // 2) if flops >= PARALLEL_FLOPS else 1
    with serial_if_small(flops), parallel_section(workers) as parallel_map:
        triangle = torch.from_numpy(merge_tree(blocks, parallel_map))
    return triangle[:width, :width], triangle[:width, width]


def merged_triangular(problem: GradientLeastSquares) -> tuple[torch.Tensor, torch.Tensor]:
    """Square triangular T, t with ‖Tc − t‖ = ‖[R_S D_d]_d c − [Z_d]_d‖ up to a constant (CPU)."""
    return merge_blocks(data_factor(problem), problem.column_scales())


def svd_solve(matrix: torch.Tensor, rhs: torch.Tensor, rcond: float) -> Solution:
    """Truncated-SVD least squares: singular values ≤ rcond·σ_max are dropped.

    On CPU LAPACK gelsd solves directly, without forming U and V. On CUDA (no rank-revealing
    lstsq driver there) a tall matrix is first reduced to its square triangular factor (R of
    [A | b], the same singular values), then an explicit SVD with the same cutoff.
    """
    if matrix.device.type == "cpu":
        result = torch.linalg.lstsq(matrix, rhs[:, None], rcond=rcond, driver="gelsd")
        return Solution(result.solution[:, 0], int(result.rank))
    width = matrix.shape[1]
    if matrix.shape[0] > width:
        factor = triangular_factor(torch.cat([matrix, rhs[:, None]], dim=1))[:width]
        matrix, rhs = factor[:, :width], factor[:, width]
    u, sigma, vh = torch.linalg.svd(matrix, full_matrices=False)
    keep = sigma > rcond * sigma[0]
    coef = vh[keep].T @ ((u[:, keep].T @ rhs) / sigma[keep])
    return Solution(coef, int(keep.sum()))


def solve_gelsd(problem: GradientLeastSquares, rcond: float) -> Solution:
    return svd_solve(*problem.dense(), rcond)


def solve_qr_svd(problem: GradientLeastSquares, rcond: float) -> Solution:
    return svd_solve(*triangular_system(problem), rcond)


def triangular_system(problem: GradientLeastSquares) -> tuple[torch.Tensor, torch.Tensor]:
    """Square triangular T, t with the least-squares problem of ‖Tc − t‖ equal to A's: block
    merges on CPU/float64, else a QR of the stacked reduction."""
    if is_cpu_float64(problem.x):
        return merged_triangular(problem)
    matrix, rhs = reduced_system(problem)
    packed = triangular_factor(torch.cat([matrix, rhs[:, None]], dim=1))[: problem.width]
    return packed[:, :-1], packed[:, -1]


def with_ridge(
    triangle: torch.Tensor, rhs: torch.Tensor, ridge: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """R factor (and rotated right-hand side) of [T; λI] c = [t; 0]."""
    width = triangle.shape[0]
    # [T t; 0 0] (square for tpqrt) and [λI 0], both column-major as LAPACK wants: no copies
    augmented = triangle.new_zeros(width + 1, width + 1).T
    augmented[:width, :width], augmented[:width, width] = triangle, rhs
    block = triangle.new_zeros(width + 1, width).T
    block[:, :width].diagonal().fill_(ridge)
    if is_cpu_float64(triangle):
        with serial_if_small(merge_flops(width + 1)):
            tpqrt(augmented.numpy(), block.numpy(), nb=TPQRT_BLOCK)  # in place
        packed = augmented
    else:
        packed = triangular_factor(torch.cat([augmented, block]))
    return packed[:width, :width], packed[:width, width]


def solve_qr_ridge(problem: GradientLeastSquares, rcond: float) -> Solution:
    """Tikhonov least squares min ‖Ac − b‖² + λ²‖c‖² with λ = rcond·σ_max(A), solved stably.

    The triangle T of ``qr_svd`` (same reduction and merges), then the R factor of [T; λI]
    (never AᵀA) and a triangular solve. Its singular values are ≥ λ, so the solve is well
    defined; directions with σ ≪ λ are damped by σ²/(σ² + λ²) instead of cut at σ = λ.
    λ is at least ε_dtype·σ_max (a ridge below the dtype's resolution would do nothing).
    Reported rank: the width (nothing is truncated).
    """
    triangle, rhs = triangular_system(problem)
    scale = spectral_norm(triangle)
    if scale == 0:  # A = 0: the minimum-norm solution
        return Solution(torch.zeros_like(rhs), 0)
    ridge = max(rcond, torch.finfo(triangle.dtype).eps) * scale
    triangle, rhs = with_ridge(triangle, rhs, ridge)
    coef = torch.linalg.solve_triangular(triangle, rhs[:, None], upper=True)[:, 0]
    return Solution(coef, problem.width)


def augmented_gram(problem: GradientLeastSquares) -> torch.Tensor:
    """[S | ẋ]ᵀ[S | ẋ] accumulated over chunks; on CPU (float64) by BLAS syrk (half the flops)."""
    cols = problem.width + problem.outputs
    if problem.x.device.type == "cpu" and problem.x.dtype == torch.float64:
        gram = np.zeros((cols, cols), order="F")
        for chunk in problem.chunks():  # chunk.T is a Fortran-ordered (cols, rows) view: no copy
            gram = blas.dsyrk(1.0, chunk.numpy().T, beta=1.0, c=gram, overwrite_c=1)
        return torch.from_numpy(np.triu(gram) + np.triu(gram, 1).T)
    gram = problem.x.new_zeros(cols, cols)
    for chunk in problem.chunks():
        gram += chunk.T @ chunk
    return gram


def solve_normal(problem: GradientLeastSquares, rcond: float, ridge: float = 1e-12) -> Solution:
    """Cholesky of (SᵀS ⊙ GᵀG + ridge·mean(diag)·I); the rank reported is the full width."""
    scales, width = problem.column_scales(), problem.width
    augmented = augmented_gram(problem)
    gram = augmented[:width, :width] * (scales.T @ scales)
    rhs = (scales.T * augmented[:width, width:]).sum(dim=1)
    gram.diagonal().add_(ridge * gram.diagonal().mean())
    chol = torch.linalg.cholesky(gram)
    return Solution(torch.cholesky_solve(rhs[:, None], chol)[:, 0], width)


SOLVERS: dict[str, Callable[[GradientLeastSquares, float], Solution]] = {
    "gelsd": solve_gelsd,
    "qr_svd": solve_qr_svd,
    "qr_ridge": solve_qr_ridge,
    "normal": solve_normal,
}


def check_solver(name: str) -> str:
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; allowed: {sorted(SOLVERS)}")
    return name


def solve(name: str, problem: GradientLeastSquares, rcond: float) -> Solution:
    """Least-squares coefficients c of the last layer with the named solver."""
    return SOLVERS[check_solver(name)](problem, rcond)

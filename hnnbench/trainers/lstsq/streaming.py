"""Structure-exploiting reduction of A c = b to a small triangle, without forming A.

Since A_d = S D_d with D_d = diag(G_d), a QR of [S | ẋ] alone (N × (M+2n), not 2nN × M) reduces
the problem exactly (by orthogonal transformations) to the (2n·k) × M system
[R_S D_0; …; R_S D_{2n−1}] c = [Z_0; …; Z_{2n−1}], Z = Q_Sᵀ ẋ (k = rows of R_S): both residuals
differ by a constant, the part of ẋ outside the range of Q_S.

* ``data_factor``  R of [S | ẋ], upper trapezoidal, min(N, M+2n) × (M+2n). The QR is streamed
  over row chunks of points (tall-skinny QR of [R; S_chunk ẋ_chunk]), so memory is
  O(chunk·M + M²) whatever N is and no (N, 2n, M) tensor is formed. On CPU (float64) each
  thread streams its own range of points with a one-thread LAPACK geqrt (GIL released, see
  ``lapack.py``); the ranges' triangles are merged by tpqrt.
* ``triangular_system``  F, f with F upper trapezoidal (r × M, r = min(2n·k, M)) and
  ‖Fc − f‖² = ‖Ac − b‖² − const. When the stack has more rows than M (CPU, float64) its 2n
  blocks, all upper triangular — padded with zero rows when k < M, which keeps them exact — are
  merged in parallel (each thread folds its share, built block by block) by the structured QR
  of a triangle on a triangle (tpqrt,
  ≈ (2/3)M³ flops a merge instead of 2·(2nM)·M² for a dense QR of the stack). Otherwise (a
  short stack, 2nk ≤ M, or CUDA / float32) a QR of the stack itself: a wide problem stays wide,
  and its QR costs O((2nk)²·M), not O(M³).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from functools import cache, partial

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

from hnnbench.hardware import torch_threads
from hnnbench.trainers.lapack import geqrt, tpqrt
from hnnbench.trainers.lstsq.problem import (
    FeatureLeastSquares,
    LeastSquaresProblem,
    is_cpu_float64,
)

#: block size of LAPACK tpqrt in the triangular merges (measured: 32 beats 16 and 48)
TPQRT_BLOCK = 32
#: block size of LAPACK geqrt in the streamed QR (measured: 128 beats 64 and 192)
QR_BLOCK = 128
#: flops below which a QR or merge is not worth a thread of its own (≈ 10 ms of one core)
PARALLEL_FLOPS = 5e8


def triangular_factor(matrix: torch.Tensor) -> torch.Tensor:
    """R of a Householder QR (Q is never formed): min(rows, cols) × cols, upper trapezoidal."""
    packed, _ = torch.geqrf(matrix)
    size = min(matrix.shape)
    return torch.triu(packed[:size])


def streamed_R(problem: LeastSquaresProblem, points: slice = slice(None)) -> torch.Tensor:
    """R of [S | ẋ] over a range of points by tall-skinny QR over chunks: QR([R_prev; chunk]).

    Upper trapezoidal, min(points, M+2n) × (M+2n): with fewer points than columns (then one
    chunk) R has one row a point. One column-major buffer holds R_prev in its top rows and the
    next chunk, written in place, below it. CPU, float64: LAPACK geqrt in place with the GIL
    released (``lapack.py``), so ranges can stream in parallel threads; elsewhere torch.geqrf.
    Returned column-major.
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


def merge_flops(cols: int, rows: int | None = None) -> float:
    """tpqrt (R only) of a cols² triangle on an upper trapezoid of ``rows`` rows (default: a
    triangle, (2/3)n³): 2ln² − 2l²n + (2/3)l³."""
    rows = cols if rows is None else rows
    return 2 * rows * cols**2 - 2 * rows**2 * cols + 2 * rows**3 / 3


def merge_tree(triangles: list[np.ndarray], parallel_map: Callable = map) -> np.ndarray:
    """R of the stacked square triangles, merged pairwise (tpqrt) level by level, the merges
    of a level through ``parallel_map``; the first array is overwritten by the result."""
    items = list(triangles)
    while len(items) > 1:
        pairs = list(zip(items[0::2], items[1::2], strict=False))
        list(parallel_map(lambda pair: tpqrt(*pair, nb=TPQRT_BLOCK), pairs))
        items = [top for top, _ in pairs] + items[2 * len(pairs) :]
    return items[0]


def factor_ranges(problem: LeastSquaresProblem) -> list[slice]:
    """The point ranges ``data_factor`` factors in parallel: one per thread, each with at least
    2(M+2n) points and a QR worth a thread (``PARALLEL_FLOPS``)."""
    cols = problem.width + problem.outputs
    least = max(2 * cols, math.ceil(PARALLEL_FLOPS / (2 * cols**2)))
    return point_ranges(problem.x.shape[0], torch.get_num_threads(), least)


def data_factor(problem: LeastSquaresProblem) -> torch.Tensor:
    """R of [S | ẋ] (min(N, M+2n) × (M+2n), upper trapezoidal).

    CPU, float64: the points are split into one range per thread (if each range has ≥ 2(M+2n)
    points, so every range's factor is square), each range factored by its own single-threaded
    streamed QR, the factors merged by tpqrt. Independent one-thread QRs avoid the idle time a
    multithreaded QR spends in its panels (measured on 2 cores: 92 GF/s for two concurrent
    one-thread geqrt, 72 GF/s for one two-thread MKL geqrf). Elsewhere (CUDA, float32):
    ``streamed_R``.
    """
    if not is_cpu_float64(problem.x):
        return streamed_R(problem)
    ranges = factor_ranges(problem)
    per_range = replace(problem, chunk_bytes=max(1, problem.chunk_bytes // len(ranges)))
    with parallel_section(len(ranges)) as parallel_map:
        factors = list(parallel_map(partial(streamed_R, per_range), ranges))
        return torch.from_numpy(merge_tree([f.numpy() for f in factors], parallel_map))


def reduced_system(factor: torch.Tensor, scales: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact (2n·k) × M reduction [R_S D_d]_d c = [Z_d]_d of A c = b, given R of [S | ẋ]
    (k rows) and G = J Wᵀ."""
    width = scales.shape[1]
    r_s, z = factor[:, :width], factor[:, width:]  # z = Q_Sᵀ ẋ in the rows R_S spans
    matrix = torch.cat([r_s * scales[d] for d in range(scales.shape[0])], dim=0)
    rhs = torch.cat([z[:, d] for d in range(scales.shape[0])], dim=0)
    return matrix, rhs


def merge_blocks(
    factor: torch.Tensor, scales: torch.Tensor, with_residual: bool = False
) -> tuple[torch.Tensor, ...]:
    """Merge the blocks of the reduced system, given R of [S | ẋ] and G = J Wᵀ (float64, CPU).

    The blocks B_d = [R_S D_d | Z_d] are upper trapezoidal (zero below the diagonal), so the
    QR of two stacked blocks is LAPACK's tpqrt with triangular inputs: ≈ (2/3)M³ flops a
    merge, 2n − 1 merges in all. Each worker folds its share of the blocks (d ≡ worker mod
    workers) into one triangle, building each block just before its merge, then the workers'
    triangles are merged pairwise: at most two blocks a worker are in memory, not all 2n
    (which took 2n·(M+1)² doubles: 2 GB at n = 32, M = 2000). The result is an (M+1) × (M+1)
    triangle T whose last column holds the rotated right-hand side (T[M, M] is the residual
    norm). ``with_residual``: also the norm of everything the reduction discards (T[M, M] and
    the rows of R past M), so that ‖Ac − b‖² = ‖Fc − f‖² + residual² exactly.
    """
    width, outputs = scales.shape[1], scales.shape[0]
    # rows of R past M have no S part (a constant residual); with fewer than M rows (N < M)
    # the rest of each block stays zero, so the blocks are still triangles and exact
    rows = min(factor.shape[0], width)
    r_s, z, scale_rows = (
        factor[:rows, :width].numpy(),
        factor[:rows, width:].numpy(),
        scales.numpy(),
    )

    def block(d: int) -> np.ndarray:
        out = np.zeros((width + 1, width + 1), order="F")
        np.multiply(r_s, scale_rows[d], out=out[:rows, :width])  # R_S D_d, no temporary
        out[:rows, width] = z[:, d]
        return out

    def fold(share: range) -> np.ndarray:
        triangle = block(share[0])
        for d in share[1:]:
            tpqrt(triangle, block(d), nb=TPQRT_BLOCK)
        return triangle

    flops = merge_flops(width + 1)
    workers = min(torch.get_num_threads(), outputs // 2) if flops >= PARALLEL_FLOPS else 1
    shares = [range(w, outputs, workers) for w in range(workers)]
    with serial_if_small(flops), parallel_section(workers) as parallel_map:
        folded = list(parallel_map(fold, shares))
        triangle = torch.from_numpy(merge_tree(folded, parallel_map))
    if not with_residual:
        return triangle[:width, :width], triangle[:width, width]
    discarded = math.hypot(float(triangle[width, width]), float(factor[width:, width:].norm()))
    return triangle[:width, :width], triangle[:width, width], discarded


def feature_triangular_system(
    problem: FeatureLeastSquares, with_residual: bool = False
) -> tuple[torch.Tensor, ...]:
    """The S-MLP's reduction: R of [Φ | Ẋ] already is it (F = R_Φ, f = Q_Φᵀ Ẋ, one column per
    output); its rows past M + 1 hold the residual no coefficient can reach."""
    factor, width = data_factor(problem), problem.width
    rows = min(factor.shape[0], width)
    reduced = (factor[:rows, :width], factor[:rows, width:])
    if not with_residual:
        return reduced
    return (*reduced, float(factor[width:, width:].norm()) if factor.shape[0] > width else 0.0)


def triangular_system(
    problem: LeastSquaresProblem, with_residual: bool = False
) -> tuple[torch.Tensor, ...]:
    """Upper trapezoidal F (r × M, r = min(2n·k, M)) and f with the least-squares problem
    ‖Fc − f‖ equal to A's (same minimisers, residuals up to a constant): block merges on
    CPU/float64 when the stack is taller than M, else a QR of the stacked reduction.
    ``with_residual``: also that constant's square root, the residual norm the reduction
    discards (‖Ac − b‖² = ‖Fc − f‖² + residual²; what GCV needs, ``solvers.py``). An S-MLP
    problem (``FeatureLeastSquares``): f has one column per output."""
    if isinstance(problem, FeatureLeastSquares):
        return feature_triangular_system(problem, with_residual)
    factor, scales, width = data_factor(problem), problem.column_scales(), problem.width
    if is_cpu_float64(factor) and problem.outputs * min(factor.shape[0], width) > width:
        return merge_blocks(factor, scales, with_residual)
    matrix, rhs = reduced_system(factor, scales)
    packed = triangular_factor(torch.cat([matrix, rhs[:, None]], dim=1))
    if not with_residual:
        return packed[:width, :-1], packed[:width, -1]
    # rows of R past M (the stack includes them) left one more row: its last entry
    discarded = float(packed[width:, -1].norm()) if packed.shape[0] > width else 0.0
    return packed[:width, :-1], packed[:width, -1], discarded

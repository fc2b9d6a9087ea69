"""The last-layer least-squares problem of a sampled HNN.

With fixed hidden weights W (M, 2n), b (M,), φ_j(x) = tanh(w_j·x + b_j) and the slopes
s_ij = 1 − tanh²(w_j·x_i + b_j), Hamilton's equations give, for every point i and output d,

    Σ_j c_j s_ij G_dj = ẋ_id,        G = J Wᵀ  (2n, M)

i.e. the 2nN × M system A c = b with row (i, d) of A equal to S_i ⊙ G_d. The anchor row
Σ_j c_j φ_j(x0) + c_0 = H0 is the only row in which c_0 appears, so every solver satisfies it
exactly afterwards with c_0 = H0 − φ(x0)·c (see ``sampled.py``).

``FeatureLeastSquares`` is the S-MLP's (the sampled ODE-net's) last layer: the features
Φ = [tanh(x Wᵀ + b) | 1] (N × (M+1)) and 2n right-hand sides, [Φ] C = Ẋ — one matrix shared by
the 2n outputs. It streams [Φ | Ẋ] exactly as ``GradientLeastSquares`` streams [S | ẋ], so the
same QR, solvers and rcond handling serve both (``streaming.triangular_system``, ``solvers.py``).

Every shape is valid: 2nN ≥ M (the paper's regime) or fewer equations than unknowns
(2nN < M). Where the least-squares solution is not unique the solvers return the minimum-norm
one (``qr_ridge``: the Tikhonov solution, which tends to it as λ → 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

#: memory budget (bytes) for one chunk of slopes in the streamed QR
CHUNK_BYTES = 384 * 2**20


class RowChunks:
    """Streaming over row chunks of [matrix part | targets], shared by both problems: they need
    ``x``, ``width``, ``outputs``, ``chunk_bytes`` and ``fill_chunk``."""

    x: torch.Tensor
    chunk_bytes: int
    width: int
    outputs: int

    def fill_chunk(self, out: torch.Tensor, start: int) -> None:
        raise NotImplementedError

    def chunk_points(self, total: int | None = None) -> int:
        """Points per chunk when streaming ``total`` points (default: all): even chunks of at
        most ``chunk_bytes``, but at least M + 2n points."""
        total = self.x.shape[0] if total is None else total
        row_bytes = (self.width + self.outputs) * self.x.element_size()
        step = max(self.width + self.outputs, self.chunk_bytes // row_bytes)
        count = -(-total // step)  # chunks needed; then spread the points evenly
        return max(self.width + self.outputs, -(-total // count))

    def chunks(self) -> Iterator[torch.Tensor]:
        """Row chunks of [S | ẋ] (or [Φ | Ẋ]; (n_rows, width + 2n)), each at most
        ``chunk_bytes``; the buffer is reused, so a chunk is valid until the next one is drawn."""
        step, total = self.chunk_points(), self.x.shape[0]
        buffer = self.x.new_empty(min(step, total), self.width + self.outputs)
        for start in range(0, total, step):
            chunk = buffer[: min(step, total - start)]
            self.fill_chunk(chunk, start)
            yield chunk


@dataclass
class GradientLeastSquares(RowChunks):
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

    def fill_chunk(self, out: torch.Tensor, start: int) -> None:
        """Write [S | ẋ] of the points start, start+1, … into ``out`` (rows, M + 2n) in place."""
        rows, slopes = slice(start, start + out.shape[0]), out[:, : self.width]
        torch.addmm(self.hidden_bias, self.x[rows], self.hidden_weight.T, out=slopes)
        slopes.tanh_().square_().neg_().add_(1)  # 1 − tanh², bitwise as in ``slopes``
        out[:, self.width :] = self.xdot[rows]

    def normal_equations(self, augmented: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """AᵀA = (SᵀS) ⊙ (GᵀG) and Aᵀb from [S | ẋ]ᵀ[S | ẋ]."""
        scales, width = self.column_scales(), self.width
        gram = augmented[:width, :width] * (scales.T @ scales)
        return gram, (scales.T * augmented[:width, width:]).sum(dim=1)


@dataclass
class FeatureLeastSquares(RowChunks):
    """The S-MLP system [φ(X) 1] C = Ẋ for fixed hidden weights: N rows, M + 1 unknowns (the
    output bias is the column of ones) and 2n right-hand sides (torch tensors)."""

    x: torch.Tensor  # (N, 2n) training points
    xdot: torch.Tensor  # (N, 2n) targets, one right-hand side per column
    hidden_weight: torch.Tensor  # (M, 2n)
    hidden_bias: torch.Tensor  # (M,)
    chunk_bytes: int = CHUNK_BYTES

    @property
    def width(self) -> int:
        """Unknowns per output: M weights and the bias."""
        return self.hidden_weight.shape[0] + 1

    @property
    def outputs(self) -> int:
        return self.x.shape[1]

    def features(self, rows: slice = slice(None)) -> torch.Tensor:
        """Φ = [tanh(x Wᵀ + b) | 1] for a slice of points, (n_rows, M + 1)."""
        hidden = torch.tanh(torch.addmm(self.hidden_bias, self.x[rows], self.hidden_weight.T))
        return torch.cat([hidden, hidden.new_ones(hidden.shape[0], 1)], dim=1)

    def dense(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Φ (N × (M+1)) and the right-hand sides Ẋ (N × 2n)."""
        return self.features(), self.xdot

    def fill_chunk(self, out: torch.Tensor, start: int) -> None:
        """Write [Φ | Ẋ] of the points start, start+1, … into ``out`` (rows, M + 1 + 2n)."""
        rows, hidden = slice(start, start + out.shape[0]), out[:, : self.width - 1]
        torch.addmm(self.hidden_bias, self.x[rows], self.hidden_weight.T, out=hidden)
        hidden.tanh_()
        out[:, self.width - 1] = 1
        out[:, self.width :] = self.xdot[rows]

    def normal_equations(self, augmented: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ΦᵀΦ and ΦᵀẊ (one column per output) from [Φ | Ẋ]ᵀ[Φ | Ẋ]."""
        return augmented[: self.width, : self.width], augmented[: self.width, self.width :]


#: either last-layer problem; the solvers take both
LeastSquaresProblem = GradientLeastSquares | FeatureLeastSquares


@dataclass
class Solution:
    coef: torch.Tensor  # (M,) for the HNN; (M + 1, 2n) for the S-MLP (last row: the bias)
    effective_rank: int
    rcond: float | None = None  # the rcond chosen when it was 'auto' (qr_ridge's GCV)


def is_cpu_float64(tensor: torch.Tensor) -> bool:
    """Whether the LAPACK kernels (``lapack.py``, float64 on the host) apply."""
    return tensor.device.type == "cpu" and tensor.dtype == torch.float64

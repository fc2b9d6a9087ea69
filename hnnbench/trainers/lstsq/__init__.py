"""The last layer of a sampled HNN by least squares.

* ``problem.py``    the system A c = b of Hamilton's equations (``GradientLeastSquares``) and
                    the S-MLP's [φ(X) 1] C = Ẋ (``FeatureLeastSquares``).
* ``streaming.py``  its exact reduction to a small triangle: streamed QR of [S | ẋ] and
                    triangle merges, in parallel threads on CPU.
* ``solvers.py``    the solvers ``gelsd``, ``qr_svd``, ``qr_ridge`` (default), ``normal``
                    behind ``solve(name, problem, rcond)``.
"""

from hnnbench.trainers.lstsq.problem import (
    CHUNK_BYTES,
    FeatureLeastSquares,
    GradientLeastSquares,
    LeastSquaresProblem,
    Solution,
    is_cpu_float64,
)
from hnnbench.trainers.lstsq.solvers import (
    SOLVERS,
    check_solver,
    solve,
    spectral_norm,
    svd_solve,
    with_ridge,
)
from hnnbench.trainers.lstsq.streaming import (
    data_factor,
    factor_ranges,
    merge_blocks,
    merge_flops,
    point_ranges,
    reduced_system,
    streamed_R,
    triangular_system,
)

__all__ = [
    "CHUNK_BYTES",
    "SOLVERS",
    "FeatureLeastSquares",
    "GradientLeastSquares",
    "LeastSquaresProblem",
    "Solution",
    "check_solver",
    "data_factor",
    "factor_ranges",
    "is_cpu_float64",
    "merge_blocks",
    "merge_flops",
    "point_ranges",
    "reduced_system",
    "solve",
    "spectral_norm",
    "streamed_R",
    "svd_solve",
    "triangular_system",
    "with_ridge",
]

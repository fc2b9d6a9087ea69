"""``--threads T`` for the benchmark scripts: it must reach MKL, OpenMP and OpenBLAS through the
environment before numpy and torch load, so each script calls this before importing them."""

import os
import sys


def threads_from_argv() -> None:
    if "--threads" in sys.argv:
        value = sys.argv[sys.argv.index("--threads") + 1]
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = value

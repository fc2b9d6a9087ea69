"""Two LAPACK QR kernels (float64), called without holding Python's GIL.

SciPy's f2py wrappers hold the GIL for the whole LAPACK call, so two of them in two Python
threads run one after the other. SciPy also exports its LAPACK as C function pointers
(``scipy.linalg.cython_lapack``); calling those through ``ctypes`` releases the GIL, so
independent factorisations run in parallel threads, each with a one-thread BLAS.

* ``geqrt(a, nb)``     a = QR in place (R in the upper triangle — a trapezoid when a has fewer
                       rows than columns; Householder vectors below).
* ``tpqrt(a, b, nb)``  R of [a; b] in place in ``a`` for an upper triangular a (n × n) and an
                       upper trapezoidal b (l × n, l = b's rows): ≈ (2/3)n³ flops for l = n.

Arrays must be float64, Fortran-ordered (column-major) with unit row stride; a column-major
view of the top rows of a bigger array is fine (its leading dimension is passed on).
"""

from __future__ import annotations

import ctypes

import numpy as np
from scipy.linalg import cython_lapack

_POINTER = ctypes.c_void_p


def _function(name: str, arguments: int) -> ctypes._CFuncPtr:
    capsule = cython_lapack.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    return ctypes.CFUNCTYPE(None, *[_POINTER] * arguments)(address)  # CFUNCTYPE drops the GIL


_DGEQRT = _function("dgeqrt", 9)
_DTPQRT = _function("dtpqrt", 12)


def _int(value: int) -> ctypes.c_int:
    return ctypes.c_int(int(value))


def _ref(value: ctypes.c_int) -> ctypes._Pointer:
    return ctypes.byref(value)


def _leading_dimension(a: np.ndarray) -> int:
    if a.dtype != np.float64 or a.ndim != 2 or a.strides[0] != 8:
        raise ValueError("expected a 2-D float64 array with unit row stride (column-major)")
    if a.shape[1] > 1 and a.strides[1] % 8:
        raise ValueError("column stride is not a whole number of float64s")
    return max(1, a.strides[1] // 8 if a.shape[1] > 1 else a.shape[0])


def _check(info: ctypes.c_int, name: str) -> None:
    if info.value != 0:
        raise RuntimeError(f"LAPACK {name} failed with info={info.value}")


def geqrt(a: np.ndarray, nb: int = 128) -> None:
    """Blocked Householder QR of a (m × n, any shape) in place; R (min(m, n) × n) is a's upper
    triangle."""
    rows, cols = a.shape
    nb = max(1, min(nb, rows, cols))  # LAPACK: 1 ≤ nb ≤ min(m, n)
    t_factor = np.empty((nb, cols), order="F")
    work = np.empty(nb * cols)
    info = ctypes.c_int(0)
    m, n, block, lda, ldt = _int(rows), _int(cols), _int(nb), _int(_leading_dimension(a)), _int(nb)
    _DGEQRT(_ref(m), _ref(n), _ref(block), a.ctypes.data, _ref(lda), t_factor.ctypes.data,
            _ref(ldt), work.ctypes.data, _ref(info))  # fmt: skip
    _check(info, "dgeqrt")


def tpqrt(a: np.ndarray, b: np.ndarray, nb: int = 32) -> None:
    """R of [a; b] into a's upper triangle (a triangular n × n, b upper trapezoidal l × n).

    a's strict lower triangle is not touched; b is overwritten by Householder vectors.
    """
    cols = a.shape[1]
    if a.shape[0] != cols or b.shape[1] != cols or b.shape[0] > cols:
        raise ValueError(f"tpqrt needs a square a and b with ≤ n rows, got {a.shape}, {b.shape}")
    nb = max(1, min(nb, cols))
    t_factor = np.empty((nb, cols), order="F")
    work = np.empty(nb * cols)
    info = ctypes.c_int(0)
    m, n, l_rows, block = _int(b.shape[0]), _int(cols), _int(b.shape[0]), _int(nb)
    lda, ldb, ldt = _int(_leading_dimension(a)), _int(_leading_dimension(b)), _int(nb)
    _DTPQRT(_ref(m), _ref(n), _ref(l_rows), _ref(block), a.ctypes.data, _ref(lda),
            b.ctypes.data, _ref(ldb), t_factor.ctypes.data, _ref(ldt), work.ctypes.data,
            _ref(info))  # fmt: skip
    _check(info, "dtpqrt")

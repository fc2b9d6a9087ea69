"""Keep glibc malloc from handing large tensors back to the kernel after every backprop step.

glibc serves every allocation above its mmap threshold (dynamic, at most 32 MiB on 64-bit) with a
fresh ``mmap`` and returns it with ``munmap`` on free. A width-5000 HNN step on 2048 points makes
about ten (2048 × 5000) float64 temporaries (82 MB each), so every step mapped, page-faulted
(≈ 200 000 minor faults: the kernel zeroes each 4 KiB page) and unmapped ≈ 0.8 GB: on a 2-core
machine half of the process's CPU time was kernel time (``benchmarks/backprop_steps.py``,
``benchmarks/README.md``). Smaller temporaries (width 1000: 16 MB) are trimmed from the top of
the heap and faulted in again in the same way.

``tuned_malloc()`` turns both off for the duration of a fit with ``mallopt``: ``M_MMAP_MAX = 0``
(large blocks come from the heap, so a freed block is reused by the next step) and
``M_TRIM_THRESHOLD`` = 1 GiB (freed memory at the top of the heap is kept). Allocations, values
and alignment (PyTorch asks for 64-byte alignment either way) are unchanged, so the arithmetic is
bit-for-bit the same (``tests/test_backprop.py``). On leaving, it sets glibc's saturated dynamic
thresholds (mmap threshold 32 MiB, trim threshold 64 MiB, mmap count 65 536: what a process that
has freed one large block runs with) and calls ``malloc_trim(0)`` so the memory goes back to the
OS. Off glibc (macOS, musl, Windows) it does nothing and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
TUNED = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 1 << 30}
#: on leaving: glibc's defaults after its dynamic threshold has grown to its 64-bit maximum
RESTORED = {M_MMAP_MAX: 65536, M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 64 << 20}
NAMES = {
    M_TRIM_THRESHOLD: "M_TRIM_THRESHOLD",
    M_MMAP_THRESHOLD: "M_MMAP_THRESHOLD",
    M_MMAP_MAX: "M_MMAP_MAX",
}


def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


def _set(libc: ctypes.CDLL, values: dict[int, int]) -> bool:
    return all(libc.mallopt(ctypes.c_int(k), ctypes.c_int(v)) == 1 for k, v in values.items())


def describe(values: dict[int, int]) -> str:
    return ", ".join(f"{NAMES[k]}={v}" for k, v in values.items())


@contextmanager
def tuned_malloc(enabled: bool = True) -> Iterator[str]:
    """Inside: large blocks are reused, not mapped and unmapped per step. Yields what was done
    (for ``fit_info_``)."""
    libc = glibc() if enabled else None
    if libc is None:
        yield "off (not requested)" if not enabled else "unchanged (not glibc)"
        return
    applied = _set(libc, TUNED)
    try:
        yield f"glibc mallopt {describe(TUNED)}" if applied else "unchanged (mallopt refused)"
    finally:
        if applied:
            _set(libc, RESTORED)
            libc.malloc_trim(ctypes.c_size_t(0))

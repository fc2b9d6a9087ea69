"""The GIL-free LAPACK QR kernels agree with numpy's QR and run concurrently from threads."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hnnbench.trainers.lapack import geqrt, tpqrt


def same_up_to_row_signs(r, reference):
    """R of a QR is unique up to the sign of each row."""
    signs = np.sign(np.diag(r)) * np.sign(np.diag(reference))
    np.testing.assert_allclose(r * signs[:, None], reference, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rows", [90, 30, 12])  # tall, square, wide (R upper trapezoidal)
@pytest.mark.parametrize("block", [1, 7, 128])
def test_geqrt_in_the_top_rows_of_a_bigger_buffer(block, rows):
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((rows, 30))
    buffer = np.full((120, 30), 99.0, order="F")  # leading dimension 120, rows past the view unused
    buffer[:rows] = matrix
    geqrt(buffer[:rows], block)
    same_up_to_row_signs(np.triu(buffer[: min(rows, 30)]), np.linalg.qr(matrix, mode="r"))
    assert np.all(buffer[rows:] == 99.0)  # nothing written past the view


def test_tpqrt_merges_two_triangles():
    rng = np.random.default_rng(1)
    top = np.asfortranarray(np.triu(rng.standard_normal((40, 40))))
    block = np.asfortranarray(np.triu(rng.standard_normal((40, 40))))
    reference = np.linalg.qr(np.vstack([top, block]), mode="r")
    tpqrt(top, block, nb=8)
    same_up_to_row_signs(np.triu(top), reference)


def test_tpqrt_with_fewer_rows_below():
    rng = np.random.default_rng(2)
    top = np.asfortranarray(np.triu(rng.standard_normal((20, 20))))
    block = np.asfortranarray(np.triu(rng.standard_normal((12, 20))))  # trapezoidal
    reference = np.linalg.qr(np.vstack([top, block]), mode="r")
    tpqrt(top, block)
    same_up_to_row_signs(np.triu(top), reference)


def test_bad_layouts_are_refused():
    with pytest.raises(ValueError, match="column-major"):
        geqrt(np.zeros((10, 4)))  # C-ordered
    with pytest.raises(ValueError, match="float64"):
        geqrt(np.zeros((10, 4), dtype=np.float32, order="F"))
    with pytest.raises(ValueError, match="square a"):
        tpqrt(np.zeros((5, 4), order="F"), np.zeros((4, 4), order="F"))


def test_kernels_from_several_threads_give_the_single_thread_result():
    rng = np.random.default_rng(3)
    matrices = [np.asfortranarray(rng.standard_normal((200, 50))) for _ in range(4)]
    alone = [m.copy(order="F") for m in matrices]
    for m in alone:
        geqrt(m)
    together = [m.copy(order="F") for m in matrices]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(geqrt, together))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)

"""Borrowed arrays (``solvers/_views.py``): the same memory as the numpy view they stand for.

Expected values come from numpy indexing of the same arrays (``work[v, ln]``, ``a``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from diffid_plugins.solvers._views import borrowed, borrowed_row


@njit(cache=False)
def _fill_row(work, v, ln, value):  # type: ignore[no-untyped-def]
    row = borrowed_row(work, v, ln)
    for s in range(row.shape[0]):
        row[s] = value + s
    return row.shape[0], row.strides[0], row.flags.c_contiguous


@njit(cache=False)
def _sum_borrowed(a):  # type: ignore[no-untyped-def]
    b = borrowed(a)
    b[0, 0] += 1.0  # writes through to `a`
    return b.sum(), b.shape, b.strides


def test_borrowed_row_is_the_row_of_the_work_array() -> None:
    work = np.zeros((16, 4, 3))
    for v, ln in [(0, 0), (7, 2), (15, 3)]:
        n, stride, contiguous = _fill_row(work, v, ln, 10.0 * v + ln)
        assert (n, stride, contiguous) == (3, 8, True)
        np.testing.assert_array_equal(work[v, ln], 10.0 * v + ln + np.arange(3))
    # nothing else was written
    assert np.count_nonzero(work) == 3 * 3 - 1  # the (0, 0) row starts with 0.0


def test_borrowed_array_shares_data_shape_and_strides() -> None:
    a = np.arange(12.0).reshape(3, 4)[:, ::2]  # a strided (non-contiguous) view
    expected_sum = a.sum() + 1.0
    total, shape, strides = _sum_borrowed(a)
    assert total == expected_sum
    assert shape == a.shape and strides == a.strides
    assert a[0, 0] == 1.0

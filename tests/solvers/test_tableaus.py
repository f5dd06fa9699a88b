"""The Butcher tableaus are validated data (style guide rule 3).

References: the order conditions of explicit Runge-Kutta methods up to order 5 (Hairer,
Norsett, Wanner, "Solving ODEs I", Sec. II.2, Table 2.2); scipy's ``RK45`` coefficients
(Dormand-Prince 1980 with Shampine's dense output) for DOPRI5.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.integrate import RK45

from diffid_plugins.solvers._tableaus import DOPRI5, TSIT5, ButcherTableau

TABLEAUS = [DOPRI5, TSIT5]


def _order_conditions(b: np.ndarray, a: np.ndarray, c: np.ndarray) -> dict[str, float]:
    """Residuals of the 17 order conditions of orders 1..5 (HNW I, Table 2.2)."""
    ac = a @ c
    ac2 = a @ c**2
    aac = a @ ac
    conditions = {
        "b": (b.sum(), 1.0),
        "bc": (b @ c, 1 / 2),
        "bc2": (b @ c**2, 1 / 3),
        "bac": (b @ ac, 1 / 6),
        "bc3": (b @ c**3, 1 / 4),
        "bcac": (b @ (c * ac), 1 / 8),
        "bac2": (b @ ac2, 1 / 12),
        "baac": (b @ aac, 1 / 24),
        "bc4": (b @ c**4, 1 / 5),
        "bc2ac": (b @ (c**2 * ac), 1 / 10),
        "bcac2": (b @ (c * ac2), 1 / 15),
        "bcaac": (b @ (c * aac), 1 / 30),
        "b(ac)^2": (b @ ac**2, 1 / 20),
        "bac3": (b @ (a @ c**3), 1 / 20),
        "ba(cac)": (b @ (a @ (c * ac)), 1 / 40),
        "baac2": (b @ (a @ ac2), 1 / 60),
        "baaac": (b @ (a @ aac), 1 / 120),
    }
    return {k: abs(v - want) for k, (v, want) in conditions.items()}


@pytest.mark.parametrize("tab", TABLEAUS, ids=lambda t: t.name)
def test_fifth_order_conditions(tab: ButcherTableau) -> None:
    residuals = _order_conditions(tab.b, tab.a, tab.c)
    assert max(residuals.values()) < 1e-13, residuals


@pytest.mark.parametrize("tab", TABLEAUS, ids=lambda t: t.name)
def test_embedded_pair_is_fourth_order_not_fifth(tab: ButcherTableau) -> None:
    residuals = _order_conditions(tab.b + tab.e, tab.a, tab.c)
    order4 = [
        k for k in residuals if k in ("b", "bc", "bc2", "bac", "bc3", "bcac", "bac2", "baac")
    ]
    assert max(residuals[k] for k in order4) < 1e-13
    assert max(residuals.values()) > 1e-6  # the error estimate is not identically zero


@pytest.mark.parametrize("tab", TABLEAUS, ids=lambda t: t.name)
def test_structure_and_derived_flags(tab: ButcherTableau) -> None:
    s = tab.n_stages
    assert s == 7 and tab.fsal and tab.order == 5 and tab.error_order == 4
    assert np.all(np.triu(tab.a) == 0.0)
    np.testing.assert_allclose(tab.a.sum(axis=1), tab.c, atol=1e-14)
    assert abs(tab.e.sum()) < 1e-13
    assert tab.c[5] == tab.c[6] == 1.0  # stages 6 and 7 at t + h: the stiffness test uses them
    # Continuous extension: b_i(0) = 0, b_i(1) = b_i, sum_i b_i(theta) = theta, and
    # y'(t0) = k1 (b_i'(0) = delta_i1).
    np.testing.assert_allclose(tab.dense.sum(axis=1), tab.b, atol=1e-13)
    np.testing.assert_allclose(tab.dense.sum(axis=0), [1, 0, 0, 0], atol=1e-13)
    np.testing.assert_array_equal(tab.dense[:, 0], np.eye(s)[0])
    for arr in (tab.a, tab.b, tab.c, tab.e, tab.dense):
        assert not arr.flags.writeable


def test_dopri5_is_scipy_rk45() -> None:
    # scipy RK45 stores 6 stages in A/B/C and 7 error weights (sign convention b - b_hat).
    np.testing.assert_allclose(DOPRI5.a[:6, :5], RK45.A, rtol=1e-15)
    np.testing.assert_allclose(DOPRI5.b[:6], RK45.B, rtol=1e-15)
    np.testing.assert_allclose(DOPRI5.c[:6], RK45.C, rtol=1e-15)
    np.testing.assert_allclose(np.abs(DOPRI5.e), np.abs(RK45.E), rtol=1e-15)
    np.testing.assert_allclose(DOPRI5.dense, RK45.P, rtol=1e-15)


def test_dense_output_is_fourth_order_accurate() -> None:
    # The interpolant of y' = y over one step of size h matches exp(theta h) to O(h^5).
    for tab in TABLEAUS:
        errs = []
        for h in (0.1, 0.05):
            k = np.zeros(7)
            for i in range(7):
                k[i] = 1.0 + h * (tab.a[i] @ k)  # stages of y' = y from y0 = 1
            theta = 0.37
            poly = tab.dense @ theta ** np.arange(1, 5)
            errs.append(abs(1.0 + h * poly @ k - np.exp(theta * h)))
        assert np.log2(errs[0] / errs[1]) > 4.6, (tab.name, errs)  # O(h^5): 5


def test_invalid_tableau_is_rejected_at_construction() -> None:
    fields = {f.name: getattr(DOPRI5, f.name) for f in dataclasses.fields(DOPRI5) if f.init}
    bad_b = np.array(DOPRI5.b)
    bad_b[0] += 1e-6
    with pytest.raises(AssertionError, match="quadrature"):
        ButcherTableau(**{**fields, "b": bad_b})
    bad_a = np.array(DOPRI5.a)
    bad_a[2, 1] += 1e-6
    with pytest.raises(AssertionError, match="a_ij"):
        ButcherTableau(**{**fields, "a": bad_a})

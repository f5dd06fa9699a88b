"""Default kernels for hand-written models (a template module for :func:`bind_model`).

:func:`~diffid_plugins.solvers.bind_model` executes this module's text in the namespace of a
bound model *before* the user's functions are added, so each kernel the user passes replaces
its default here, and the defaults that remain call the user's ``rhs``. ``_BM_U0`` (the
constant initial state, when ``u0`` is an array) is set by ``bind_model``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from diffid_plugins.solvers._bindings import N_INPUTS, N_STATES, rhs  # model-bindings

__all__: list[str] = []

_BM_U0 = np.zeros(1)
_BM_FD_STEP = 1.4901161193847656e-08  # sqrt(float64 eps)


@njit(cache=True, error_model="numpy")
def prepare(p, N, w):  # noqa: N803
    for i in range(N_INPUTS):
        w[i] = p[i]
    w[N_INPUTS] = N


@njit(cache=True, error_model="numpy")
def u0(w, y):
    for i in range(N_STATES):
        y[i] = _BM_U0[i]


@njit(cache=True, error_model="numpy")
def out(t, y, w, o):
    for i in range(N_STATES):
        o[i] = y[i]


@njit(cache=True, error_model="numpy")
def stop(t, y, w, g):
    return


@njit(cache=True, error_model="numpy")
def reset(t, y, w, ynew):
    for i in range(N_STATES):
        ynew[i] = y[i]


@njit(cache=True, error_model="numpy")
def mass(t, w, M):  # noqa: N803
    for i in range(N_STATES):
        for j in range(N_STATES):
            M[i, j] = 1.0 if i == j else 0.0


@njit(cache=True, error_model="numpy")
def jac(t, y, w, J):  # noqa: N803
    """Forward differences with step sqrt(eps) max(1, |y_j|), scratch in the tail of ``w``
    (per solve, hence thread safe). Only for hand-written models without an exact ``jac``."""
    b = N_INPUTS + 1
    f0 = w[b : b + N_STATES]
    f1 = w[b + N_STATES : b + 2 * N_STATES]
    yp = w[b + 2 * N_STATES : b + 3 * N_STATES]
    rhs(t, y, w, f0)
    for i in range(N_STATES):
        yp[i] = y[i]
    for j in range(N_STATES):
        yp[j] = y[j] + _BM_FD_STEP * max(1.0, abs(y[j]))
        d = yp[j] - y[j]
        rhs(t, yp, w, f1)
        for i in range(N_STATES):
            J[i, j] = (f1[i] - f0[i]) / d
        yp[j] = y[j]


@njit(cache=True, error_model="numpy")
def jac_p(t, y, w, Jp):  # noqa: N803
    """Forward differences in the inputs (as ``jac``)."""
    b = N_INPUTS + 1
    f0 = w[b : b + N_STATES]
    f1 = w[b + N_STATES : b + 2 * N_STATES]
    rhs(t, y, w, f0)
    for j in range(N_INPUTS):
        pj = w[j]
        w[j] = pj + _BM_FD_STEP * max(1.0, abs(pj))
        d = w[j] - pj
        rhs(t, y, w, f1)
        for i in range(N_STATES):
            Jp[i, j] = (f1[i] - f0[i]) / d
        w[j] = pj

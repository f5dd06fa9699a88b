"""Placeholder model bindings, so that the solver templates import, lint and type-check.

The solver templates (``_events``, ``_erk``, ``_rosenbrock``, ``_driver``) call the model
through module-level names (``rhs``, ``N_STATES``, ...; the table in
``docs/kernel-contract.md``). They import them from here on lines ending with the marker
comment ``# model-bindings``; :func:`diffid_plugins._templates.template_source` drops those
lines, and the generated model module (or :func:`diffid_plugins.solvers.bind_model`) defines
the real names instead. The functions below describe the signatures; they are never meant to
be used for a solve (a one-state model ``y' = 0``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "ALGEBRAIC",
    "ALGEBRAIC_INDEX",
    "DIFFERENTIAL_INDEX",
    "HAS_MASS",
    "HAS_RESET",
    "MASS_TIME_DEPENDENT",
    "N_INPUTS",
    "N_OUTPUTS",
    "N_STATES",
    "N_STOP",
    "N_WORK",
    "OUTPUTS_ARE_STATES",
    "RHS_DEPENDS_ON_T",
    "SOLVER_HAS_STIFF",
    "jac",
    "jac_p",
    "mass",
    "out",
    "prepare",
    "reset",
    "rhs",
    "stop",
    "u0",
]

N_STATES = 1
N_INPUTS = 0
N_OUTPUTS = 1
N_STOP = 0
N_WORK = 1
HAS_MASS = False
MASS_TIME_DEPENDENT = False
HAS_RESET = False
RHS_DEPENDS_ON_T = True
SOLVER_HAS_STIFF = True
OUTPUTS_ARE_STATES = True
ALGEBRAIC = (False,)
# Derived by the specialised prelude (``_specialised.py``) from ALGEBRAIC: indices of the
# algebraic and of the differential states, increasing.
ALGEBRAIC_INDEX = np.zeros(0, dtype=np.int64)
DIFFERENTIAL_INDEX = np.zeros(1, dtype=np.int64)


@njit(cache=True)
def prepare(p, N, w):  # noqa: N803 (the model index is called N in DiffSL)
    """Copy inputs ``p`` (N_INPUTS,) and model index ``N`` into ``w`` (N_WORK,)."""
    for i in range(N_INPUTS):
        w[i] = p[i]
    w[N_INPUTS] = N


@njit(cache=True)
def u0(w, y):
    """Write the initial state into ``y`` (N_STATES,)."""
    y[0] = 0.0


@njit(cache=True)
def rhs(t, y, w, dy):
    """Write F(t, y) into ``dy`` (N_STATES,)."""
    dy[0] = 0.0


@njit(cache=True)
def jac(t, y, w, J):  # noqa: N803
    """Write dF/dy into ``J`` (N_STATES, N_STATES)."""
    J[0, 0] = 0.0


@njit(cache=True)
def mass(t, w, M):  # noqa: N803
    """Write the mass matrix into ``M`` (N_STATES, N_STATES)."""
    M[0, 0] = 1.0


@njit(cache=True)
def out(t, y, w, o):
    """Write the outputs into ``o`` (N_OUTPUTS,)."""
    o[0] = y[0]


@njit(cache=True)
def stop(t, y, w, g):
    """Write the root functions into ``g`` (max(N_STOP, 1),); nothing when N_STOP == 0."""
    return


@njit(cache=True)
def reset(t, y, w, ynew):
    """Write the state after a root into ``ynew`` (N_STATES,)."""
    ynew[0] = y[0]


@njit(cache=True)
def jac_p(t, y, w, Jp):  # noqa: N803
    """Write dF/dp into ``Jp`` (N_STATES, N_INPUTS)."""
    return

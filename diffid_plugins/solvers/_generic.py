"""Model bindings of the generic tier: the model reached through its kernel addresses.

A template module (``docs/kernel-contract.md``), assembled *first* into the generic solver
module, which :mod:`diffid_plugins._kernels` compiles once per install. The solver and batch
templates are written against module-level model names (``rhs``, ``N_STATES``, ...); for this
tier, :func:`diffid_plugins._templates.generic_source` rewrites each use into a call of the
``_g_<name>(md, ...)`` function defined here, where ``md`` is the model descriptor
(``_abi.py``): kernel calls go through the address in ``md`` as numba first-class functions
(``jit_addr`` of the function value: the numba ABI, so the callee's error model applies), and
sizes and flags are read from ``md`` at run time.

Addresses are process-local: ``md`` is built in each process from that process's compiled
kernels (:func:`diffid_plugins.solvers._kernelset.describe`) and never pickled.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import types as _g_types
from numba.core import cgutils as _g_cgutils
from numba.core import sigutils as _g_sigutils
from numba.extending import intrinsic

from diffid_plugins.solvers._abi import KERNEL_SIGNATURES as _G_SIGNATURES
from diffid_plugins.solvers._abi import MD_ALG, MD_FLAGS, MD_N_ALG, MD_SIZES

__all__: list[str] = []


def _g_function_type(name: str) -> _g_types.FunctionType:
    """The numba first-class function type of model kernel ``name``."""
    args, ret = _g_sigutils.normalize_signature(_G_SIGNATURES[name])
    return _g_types.FunctionType(ret(*args))


_G_PREPARE_T = _g_function_type("prepare")
_G_U0_T = _g_function_type("u0")
_G_RHS_T = _g_function_type("rhs")
_G_JAC_T = _g_function_type("jac")
_G_MASS_T = _g_function_type("mass")
_G_OUT_T = _g_function_type("out")
_G_STOP_T = _g_function_type("stop")
_G_RESET_T = _g_function_type("reset")


@intrinsic
def _g_fn(typingctx, fty_ref, addr):
    """A first-class function value of type ``fty_ref`` whose numba-ABI entry is ``addr``."""
    fty = fty_ref.instance_type

    def codegen(context, builder, signature, args):
        value = _g_cgutils.create_struct_proxy(fty)(context, builder)
        value.jit_addr = builder.inttoptr(args[1], context.get_value_type(_g_types.voidptr))
        return value._getvalue()

    return fty(fty_ref, addr), codegen


# --- kernels ---------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _g_prepare(md, p, N, w):  # noqa: N803
    _g_fn(_G_PREPARE_T, md[0])(p, N, w)


@njit(cache=True, error_model="numpy", inline="always")
def _g_u0(md, w, y):
    _g_fn(_G_U0_T, md[1])(w, y)


@njit(cache=True, error_model="numpy", inline="always")
def _g_rhs(md, t, y, w, dy):
    _g_fn(_G_RHS_T, md[2])(t, y, w, dy)


@njit(cache=True, error_model="numpy", inline="always")
def _g_jac(md, t, y, w, J):  # noqa: N803
    _g_fn(_G_JAC_T, md[3])(t, y, w, J)


@njit(cache=True, error_model="numpy", inline="always")
def _g_mass(md, t, w, M):  # noqa: N803
    _g_fn(_G_MASS_T, md[4])(t, w, M)


@njit(cache=True, error_model="numpy", inline="always")
def _g_out(md, t, y, w, o):
    _g_fn(_G_OUT_T, md[5])(t, y, w, o)


@njit(cache=True, error_model="numpy", inline="always")
def _g_stop(md, t, y, w, g):
    _g_fn(_G_STOP_T, md[6])(t, y, w, g)


@njit(cache=True, error_model="numpy", inline="always")
def _g_reset(md, t, y, w, ynew):
    _g_fn(_G_RESET_T, md[7])(t, y, w, ynew)


# --- sizes and flags -------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _g_N_STATES(md):  # noqa: N802
    return md[MD_SIZES]


@njit(cache=True, error_model="numpy", inline="always")
def _g_N_INPUTS(md):  # noqa: N802
    return md[MD_SIZES + 1]


@njit(cache=True, error_model="numpy", inline="always")
def _g_N_OUTPUTS(md):  # noqa: N802
    return md[MD_SIZES + 2]


@njit(cache=True, error_model="numpy", inline="always")
def _g_N_STOP(md):  # noqa: N802
    return md[MD_SIZES + 3]


@njit(cache=True, error_model="numpy", inline="always")
def _g_N_WORK(md):  # noqa: N802
    return md[MD_SIZES + 4]


@njit(cache=True, error_model="numpy", inline="always")
def _g_HAS_MASS(md):  # noqa: N802
    return md[MD_FLAGS] != 0


@njit(cache=True, error_model="numpy", inline="always")
def _g_MASS_TIME_DEPENDENT(md):  # noqa: N802
    return md[MD_FLAGS + 1] != 0


@njit(cache=True, error_model="numpy", inline="always")
def _g_HAS_RESET(md):  # noqa: N802
    return md[MD_FLAGS + 2] != 0


@njit(cache=True, error_model="numpy", inline="always")
def _g_RHS_DEPENDS_ON_T(md):  # noqa: N802
    return md[MD_FLAGS + 3] != 0


@njit(cache=True, error_model="numpy", inline="always")
def _g_SOLVER_HAS_STIFF(md):  # noqa: N802
    return md[MD_FLAGS + 4] != 0


@njit(cache=True, error_model="numpy", inline="always")
def _g_ALGEBRAIC(md):  # noqa: N802
    return md[MD_ALG : MD_ALG + md[MD_SIZES]]


@njit(cache=True, error_model="numpy", inline="always")
def _g_ALGEBRAIC_INDEX(md):  # noqa: N802
    start = MD_ALG + md[MD_SIZES]
    return md[start : start + md[MD_N_ALG]]


@njit(cache=True, error_model="numpy", inline="always")
def _g_DIFFERENTIAL_INDEX(md):  # noqa: N802
    start = MD_ALG + md[MD_SIZES] + md[MD_N_ALG]
    return md[start : start + md[MD_SIZES] - md[MD_N_ALG]]


# --- stand-ins for kernels a model does not need (never called by a correct solver) -----------
@njit("void(float64, float64[::1], float64[::1], float64[::1])", cache=True)
def _g_nan_vector(t, y, w, v):
    """Stand-in for ``stop``/``reset`` of models without them: writes NaN (a failure status,
    never silent garbage, if a solver ever called it)."""
    for i in range(v.shape[0]):
        v[i] = np.nan


@njit("void(float64, float64[::1], float64[:, ::1])", cache=True)
def _g_nan_matrix(t, w, M):  # noqa: N803
    """Stand-in for ``mass`` of models without a mass matrix."""
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            M[i, j] = np.nan


@njit("void(float64, float64[::1], float64[::1], float64[:, ::1])", cache=True)
def _g_nan_jacobian(t, y, w, J):  # noqa: N803
    """Stand-in for ``jac`` of models bound without the stiff method."""
    for i in range(J.shape[0]):
        for j in range(J.shape[1]):
            J[i, j] = np.nan

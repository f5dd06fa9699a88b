"""Model bindings of the generic tier: the model reached through its kernel addresses.

A template module (``docs/kernel-contract.md``), assembled *first* into the generic solver
module, which :mod:`diffid_plugins._kernels` compiles once per install. The solver and batch
templates are written against module-level model names (``rhs``, ``N_STATES``, ...); for this
tier, :func:`diffid_plugins._templates.generic_source` rewrites each use into a call of the
read of the model descriptor ``md`` (``_abi.py``): a kernel call becomes
``_g_fn(_G_RHS_T, md[slot])(...)``, an indirect call through the kernel's address as a numba
first-class function (``jit_addr`` of the function value: the numba ABI, so the callee's
error model applies); sizes and flags become ``md[slot]``; the index arrays become the
``_g_<NAME>(md)`` slices defined here. Every rewritten function that is not ``parallel``
starts with ``md = _g_borrowed(md)`` (no reference counting of its copies, ``_views.py``).

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
from diffid_plugins.solvers._abi import MD_ALG, MD_N_ALG, MD_SIZES
from diffid_plugins.solvers._views import borrowed as _g_borrowed  # noqa: F401  (used by the rewritten templates)

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


# --- index arrays (sizes, flags and kernel addresses are read inline: md[slot]) ---------
@njit(cache=True, error_model="numpy")
def _g_ALGEBRAIC(md):  # noqa: N802
    return md[MD_ALG : MD_ALG + md[MD_SIZES]]


@njit(cache=True, error_model="numpy")
def _g_ALGEBRAIC_INDEX(md):  # noqa: N802
    start = MD_ALG + md[MD_SIZES]
    return md[start : start + md[MD_N_ALG]]


@njit(cache=True, error_model="numpy")
def _g_DIFFERENTIAL_INDEX(md):  # noqa: N802
    start = MD_ALG + md[MD_SIZES] + md[MD_N_ALG]
    return md[start : start + md[MD_SIZES] - md[MD_N_ALG]]


# --- stand-ins, compiled once per install ---------------------------------------------------
@njit("void(float64, float64[::1], float64[::1], float64[::1])", cache=True, error_model="numpy")
def _g_copy_state(t, y, w, o):
    """``out`` of a model whose outputs are its state vector (``OUTPUTS_ARE_STATES``): the
    same values as the model's own ``out``, without compiling it."""
    for i in range(y.shape[0]):
        o[i] = y[i]


# The NaN-writing ones stand for kernels a model does not need (a correct solver never calls
# them; if one did, the NaN becomes a failure status, never a silent result).
@njit("void(float64, float64[::1], float64[::1], float64[::1])", cache=True, error_model="numpy")
def _g_nan_vector(t, y, w, v):
    """Stand-in for ``stop``/``reset`` of models without them: writes NaN (a failure status,
    never silent garbage, if a solver ever called it)."""
    for i in range(v.shape[0]):
        v[i] = np.nan


@njit("void(float64, float64[::1], float64[:, ::1])", cache=True, error_model="numpy")
def _g_nan_matrix(t, w, M):  # noqa: N803
    """Stand-in for ``mass`` of models without a mass matrix."""
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            M[i, j] = np.nan


@njit(
    "void(float64, float64[::1], float64[::1], float64[:, ::1])",
    cache=True,
    error_model="numpy",
)
def _g_nan_jacobian(t, y, w, J):  # noqa: N803
    """Stand-in for ``jac`` of models bound without the stiff method."""
    for i in range(J.shape[0]):
        for j in range(J.shape[1]):
            J[i, j] = np.nan

"""The model-kernel ABI of the generic solver tier: kernel signatures and the descriptor layout.

The generic solver and batch kernels (compiled once per install, ``docs/kernel-contract.md``)
call a model through the machine addresses of its kernels, read from a *model descriptor*
``md``: a C-contiguous ``int64`` array that also carries the model's sizes and flags, which the
specialised tier has as compile-time constants. This module is numba-free: plain ints and
signature strings, importable by the templates and by the Python layer alike.

Descriptor layout (``md``, int64):

======================  ==========================================================
``md[MD_PREPARE..]``    addresses of ``prepare, u0, rhs, jac, mass, out, stop, reset``
``md[MD_N_STATES..]``   ``N_STATES, N_INPUTS, N_OUTPUTS, N_STOP, N_WORK``
``md[MD_HAS_MASS..]``   flags 0/1: ``HAS_MASS, MASS_TIME_DEPENDENT, HAS_RESET,
                        RHS_DEPENDS_ON_T, SOLVER_HAS_STIFF``
``md[MD_N_ALG]``        number of algebraic states ``na``
``md[MD_ALG..]``        ``ALGEBRAIC`` (N_STATES flags), then ``ALGEBRAIC_INDEX`` (na),
                        then ``DIFFERENTIAL_INDEX`` (N_STATES - na)
======================  ==========================================================
"""

from __future__ import annotations

__all__ = [
    "KERNELS",
    "KERNEL_SIGNATURES",
    "MD_ALG",
    "MD_FLAGS",
    "MD_N_ALG",
    "MD_SIZES",
    "SIZE_NAMES",
    "FLAG_NAMES",
]

KERNELS: tuple[str, ...] = ("prepare", "u0", "rhs", "jac", "mass", "out", "stop", "reset")
"""Model kernels the solvers call, in descriptor order (``md[i]`` = address of ``KERNELS[i]``)."""

_VEC = "float64[::1]"
_MAT = "float64[:, ::1]"
KERNEL_SIGNATURES: dict[str, str] = {
    "prepare": f"void({_VEC}, int64, {_VEC})",  # prepare(p, N, w)
    "u0": f"void({_VEC}, {_VEC})",  # u0(w, y)
    "rhs": f"void(float64, {_VEC}, {_VEC}, {_VEC})",  # rhs(t, y, w, dy)
    "jac": f"void(float64, {_VEC}, {_VEC}, {_MAT})",  # jac(t, y, w, J)
    "mass": f"void(float64, {_VEC}, {_MAT})",  # mass(t, w, M)
    "out": f"void(float64, {_VEC}, {_VEC}, {_VEC})",  # out(t, y, w, o)
    "stop": f"void(float64, {_VEC}, {_VEC}, {_VEC})",  # stop(t, y, w, g)
    "reset": f"void(float64, {_VEC}, {_VEC}, {_VEC})",  # reset(t, y, w, ynew)
}
"""numba signature of each kernel (exact: the generic tier calls them through these types)."""

SIZE_NAMES: tuple[str, ...] = ("N_STATES", "N_INPUTS", "N_OUTPUTS", "N_STOP", "N_WORK")
FLAG_NAMES: tuple[str, ...] = (
    "HAS_MASS",
    "MASS_TIME_DEPENDENT",
    "HAS_RESET",
    "RHS_DEPENDS_ON_T",
    "SOLVER_HAS_STIFF",
)
MD_SIZES = len(KERNELS)
"""Index of ``N_STATES``; the other sizes follow in ``SIZE_NAMES`` order."""
MD_FLAGS = MD_SIZES + len(SIZE_NAMES)
"""Index of ``HAS_MASS``; the other flags follow in ``FLAG_NAMES`` order."""
MD_N_ALG = MD_FLAGS + len(FLAG_NAMES)
"""Index of the number of algebraic states."""
MD_ALG = MD_N_ALG + 1
"""Start of the ``ALGEBRAIC`` flags, followed by the algebraic and differential indices."""

"""Solver status codes, the :class:`Status` enumeration, and the layout of the ``stats`` array.

Kernels return plain ``int`` status codes (no Python objects may cross a numba ``prange``
body). ``0`` is success, positive codes are control-flow signals between the advance
functions and the driver, negative codes are failures. The codes, their names, messages and
success flags are defined once, in the package's status registry
(:mod:`diffid_plugins._status_codes`); this module re-exports the solver's codes as plain
ints, and :class:`Status` names them in the style of diffrax's ``RESULTS`` (the message tells
the user what to try). The ``STAT_*`` integers index the ``int64`` counters array shared by
every kernel, and ``METHOD_*`` are the method codes of ``solve_kernel``.

The solver templates import these names normally (``from diffid_plugins.solvers._status
import STATUS_DONE``); numba freezes module-level ints as compile-time constants
(``docs/kernel-contract.md``). This module does not import numba.
"""

from __future__ import annotations

from enum import IntEnum

from diffid_plugins._status_codes import (
    STATUS_BAD_INPUT,
    STATUS_DONE,
    STATUS_INIT_FAILED,
    STATUS_MAX_STEPS,
    STATUS_NONFINITE,
    STATUS_ROOT,
    STATUS_SINGULAR,
    STATUS_STEP_TOO_SMALL,
    STATUS_STIFF,
    STATUSES,
    describe_status,
)

__all__ = [
    "METHOD_AUTO",
    "METHOD_DOPRI5",
    "METHOD_STIFF",
    "METHOD_TSIT5",
    "N_STATS",
    "STATUS_BAD_INPUT",
    "STATUS_DONE",
    "STATUS_INIT_FAILED",
    "STATUS_MAX_STEPS",
    "STATUS_NONFINITE",
    "STATUS_ROOT",
    "STATUS_SINGULAR",
    "STATUS_STEP_TOO_SMALL",
    "STATUS_STIFF",
    "STAT_K",
    "STAT_NACC",
    "STAT_NJAC",
    "STAT_NLU",
    "STAT_NREJ",
    "STAT_NRHS",
    "STAT_NROOTS",
    "STAT_NSWITCH",
    "STAT_ROOT",
    "STAT_T_SWITCH_STEP",
    "Status",
    "message",
]

# --- indices into the int64 `stats` array ------------------------------------------------------
STAT_NRHS = 0  # right-hand side evaluations (finite-difference Jacobian calls not included)
STAT_NJAC = 1  # Jacobian evaluations
STAT_NLU = 2  # LU factorisations
STAT_NACC = 3  # accepted steps
STAT_NREJ = 4  # rejected steps
STAT_K = 5  # next output row to write (= rows written, at the end of a solve)
STAT_ROOT = 6  # index of the `stop` component of the last root (-1: none)
STAT_NROOTS = 7  # roots located (each reset counts one; a terminal stop counts one)
STAT_NSWITCH = 8  # explicit -> stiff switches made by method="auto"
STAT_T_SWITCH_STEP = 9  # accepted-step count at the (first) switch (-1: no switch)
N_STATS = 10

# --- method codes of solve_kernel --------------------------------------------------------------
METHOD_AUTO = 0  # DAE -> stiff; else DOPRI5 with stiffness detection and a switch
METHOD_DOPRI5 = 1
METHOD_TSIT5 = 2
METHOD_STIFF = 3  # the Rosenbrock method (Rodas5P)


class Status(IntEnum):
    """Outcome of a solve; the value is the integer the kernels return.

    Examples
    --------
    >>> Status(-1).message
    'The maximum number of solver steps was reached. Try increasing `max_steps`.'
    >>> Status.DONE.is_successful
    True
    """

    DONE = STATUS_DONE
    ROOT = STATUS_ROOT
    STIFF = STATUS_STIFF
    MAX_STEPS = STATUS_MAX_STEPS
    STEP_TOO_SMALL = STATUS_STEP_TOO_SMALL
    NONFINITE = STATUS_NONFINITE
    SINGULAR = STATUS_SINGULAR
    INIT_FAILED = STATUS_INIT_FAILED
    BAD_INPUT = STATUS_BAD_INPUT

    @property
    def message(self) -> str:
        """Human-readable explanation with a suggested fix (from the status registry)."""
        return STATUSES[self.value].message

    @property
    def is_successful(self) -> bool:
        """``True`` for a finished solve (all times reached, or ended by a `stop` root)."""
        return STATUSES[self.value].success


def message(status: int) -> str:
    """Message of an integer status code (an unknown code gets the registry's unknown message).

    Parameters
    ----------
    status : int
        A value returned by a solver kernel (or any status code of the registry).

    Returns
    -------
    str

    Examples
    --------
    >>> message(-1) == Status.MAX_STEPS.message
    True
    """
    return describe_status(status).message

"""Status codes, their messages, and the layout of the ``stats`` array of the solver kernels.

Kernels return plain ``int`` status codes (no Python objects may cross a numba ``prange``
body); :class:`Status` gives each code a name and a message, in the style of diffrax's
``RESULTS`` (the message tells the user what to try). ``0`` is success, positive codes are
control-flow signals between the advance functions and the driver, negative codes are
failures. The ``STAT_*`` integers index the ``int64`` counters array shared by every kernel.

This module is also a solver *template* (see ``docs/kernel-contract.md``): its text is
included first in every generated model module, so the plain ints below are module globals
there, which numba freezes as compile-time constants.
"""

from __future__ import annotations

from enum import IntEnum

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

# --- status codes (kernel return values) -------------------------------------------------------
STATUS_DONE = 0  # every output row written
STATUS_ROOT = 1  # a `stop` root ended the integration (a success for solve())
STATUS_STIFF = 2  # explicit method detected stiffness (advance -> driver only)
STATUS_MAX_STEPS = -1
STATUS_STEP_TOO_SMALL = -2
STATUS_NONFINITE = -3
STATUS_SINGULAR = -4
STATUS_INIT_FAILED = -5
STATUS_BAD_INPUT = -6

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
        """Human-readable explanation with a suggested fix."""
        return _MESSAGES[self]

    @property
    def is_successful(self) -> bool:
        """``True`` for a finished solve (all times reached, or ended by a `stop` root)."""
        return self in (Status.DONE, Status.ROOT)


_MESSAGES: dict[Status, str] = {
    Status.DONE: "The solver successfully reached the end of the integration interval.",
    Status.ROOT: "A `stop` event occurred; the last row of the solution is the root.",
    Status.STIFF: (
        "Stiffness was detected by the explicit method (an internal signal; seeing it in a "
        "result is a bug, please report it)."
    ),
    Status.MAX_STEPS: (
        "The maximum number of solver steps was reached. Try increasing `max_steps`."
    ),
    Status.STEP_TOO_SMALL: (
        "Required step size is less than spacing between numbers. The solution may blow up "
        "(a singularity) or the problem may be stiff: try method='auto' or a stiff method."
    ),
    Status.NONFINITE: (
        "The state or its derivative became non-finite (inf or NaN) and no smaller step "
        "avoided it. Check the model for divisions by zero, logarithms or square roots of "
        "negative numbers, or overflow at these parameters."
    ),
    Status.SINGULAR: (
        "The iteration matrix (M - h*gamma*J) is singular and no smaller step avoided it. "
        "Check that the DAE has index 1 (each algebraic equation determines its variable)."
    ),
    Status.INIT_FAILED: (
        "Consistent initialisation of the algebraic variables failed: Newton's method on the "
        "algebraic equations did not converge from the initial guess given in `u`."
    ),
    Status.BAD_INPUT: (
        "Invalid solver input (t_eval not non-decreasing, t_eval before t0, or non-finite "
        "tolerances); the Python `solve()` checks these and raises a ValueError instead."
    ),
}


def message(status: int) -> str:
    """Message of an integer status code (an unknown code gets a generic message).

    Parameters
    ----------
    status : int
        A value returned by a solver kernel.

    Returns
    -------
    str
    """
    try:
        return Status(int(status)).message
    except ValueError:
        return f"Unknown solver status {int(status)} (this is a bug, please report it)."

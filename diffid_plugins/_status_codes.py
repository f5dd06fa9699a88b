"""Every status code of the package, with its name, message and success flag.

Three layers report integer statuses, in disjoint ranges:

- the solver kernels (``solvers``): ``0`` DONE, ``1`` ROOT (ended by a `stop` root), ``2``
  STIFF (an internal signal between the explicit method and the driver) and failures
  ``-1`` to ``-6``;
- the problem layer (``problem``: the batch and lanes kernels, and the row checks of
  ``FunctionProblem``): failures found while scoring a solution, ``-20`` to ``-23``;
- Python objectives (``FunctionProblem``): failures of the user's function, ``-30`` to
  ``-33``.

Each code is defined once here, as a plain module-level ``int``, next to its
:class:`StatusInfo`; :func:`describe_status` is the one lookup, and it gives every unknown
code the same message (:data:`UNKNOWN_STATUS_MESSAGE`). This follows diffrax's single
``RESULTS`` enumeration, whose values are the messages.

The numba kernels keep importing the ints from their layer's module
(``solvers._status``, ``problem._codes``), which re-export them from here; numba freezes
module-level ints as compile-time constants (``docs/kernel-contract.md``). This module
imports nothing from the package, nor numba or numpy, so every layer may use it (the layer
order is diffsl < solvers < problem; ``parallel`` never imports the ODE stack).

Examples
--------
>>> describe_status(-1).name
'MAX_STEPS'
>>> describe_status(STATUS_TIMEOUT).origin, describe_status(STATUS_TIMEOUT).success
('objective', False)
>>> describe_status(42).name
'UNKNOWN_42'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "STATUSES",
    "STATUS_BAD_INPUT",
    "STATUS_BAD_RESULT",
    "STATUS_BAD_SIGMA",
    "STATUS_DONE",
    "STATUS_INCOMPLETE",
    "STATUS_INIT_FAILED",
    "STATUS_MAX_STEPS",
    "STATUS_NONFINITE",
    "STATUS_NONFINITE_COST",
    "STATUS_NONFINITE_PARAMS",
    "STATUS_RAISED",
    "STATUS_ROOT",
    "STATUS_SINGULAR",
    "STATUS_STEP_TOO_SMALL",
    "STATUS_STIFF",
    "STATUS_TIMEOUT",
    "STATUS_WORKER_DIED",
    "UNKNOWN_STATUS_MESSAGE",
    "Origin",
    "StatusInfo",
    "describe_status",
    "status_codes",
]

Origin = Literal["solver", "problem", "objective", "unknown"]
"""Which layer reports a code (``"unknown"`` only for codes missing from the registry)."""

# --- solver kernels (returned by solve_kernel and the advance functions) -----------------------
STATUS_DONE = 0  # every output row written
STATUS_ROOT = 1  # a `stop` root ended the integration (a success for solve())
STATUS_STIFF = 2  # explicit method detected stiffness (advance -> driver only)
STATUS_MAX_STEPS = -1
STATUS_STEP_TOO_SMALL = -2
STATUS_NONFINITE = -3
STATUS_SINGULAR = -4
STATUS_INIT_FAILED = -5
STATUS_BAD_INPUT = -6

# --- problem layer (row statuses of the batch and lanes kernels); from -20 on ------------------
STATUS_INCOMPLETE = -20  # a `stop` root ended the solve before the last data time
STATUS_NONFINITE_COST = -21  # the solve succeeded but the cost is NaN or infinite
STATUS_BAD_SIGMA = -22  # an estimated noise level is not positive and finite
STATUS_NONFINITE_PARAMS = -23  # the parameter row holds NaN or inf

# --- Python objectives (row statuses of FunctionProblem); from -30 on --------------------------
STATUS_RAISED = -30  # the function raised an exception
STATUS_BAD_RESULT = -31  # it returned something that is not a real scalar / predictions array
STATUS_TIMEOUT = -32  # it ran longer than `timeout` and was stopped
STATUS_WORKER_DIED = -33  # its worker process died (segfault, os._exit, out of memory)

UNKNOWN_STATUS_MESSAGE = (
    "Unknown solver status {code}: no solver, problem or Python-objective status has this "
    "code (this is a bug, please report it)."
)
"""Message of every code missing from :data:`STATUSES` (``{code}`` is filled in)."""


@dataclass(frozen=True)
class StatusInfo:
    """What a status code means.

    Attributes
    ----------
    code : int
        The integer a kernel or a problem reports.
    name : str
        Upper-case name, e.g. ``"MAX_STEPS"``; the module constant is ``STATUS_<name>``.
    origin : {"solver", "problem", "objective", "unknown"}
        The layer that reports the code.
    success : bool
        ``True`` for a finished solve (all times reached, or ended by a `stop` root).
    message : str
        One or more sentences for the user: what happened and what to try.
    """

    code: int
    name: str
    origin: Origin
    success: bool
    message: str


_ENTRIES: tuple[StatusInfo, ...] = (
    # solver
    StatusInfo(
        STATUS_DONE,
        "DONE",
        "solver",
        True,
        "The solver successfully reached the end of the integration interval.",
    ),
    StatusInfo(
        STATUS_ROOT,
        "ROOT",
        "solver",
        True,
        "A `stop` event occurred; the last row of the solution is the root.",
    ),
    StatusInfo(
        STATUS_STIFF,
        "STIFF",
        "solver",
        False,
        "Stiffness was detected by the explicit method (an internal signal; seeing it in a "
        "result is a bug, please report it).",
    ),
    StatusInfo(
        STATUS_MAX_STEPS,
        "MAX_STEPS",
        "solver",
        False,
        "The maximum number of solver steps was reached. Try increasing `max_steps`.",
    ),
    StatusInfo(
        STATUS_STEP_TOO_SMALL,
        "STEP_TOO_SMALL",
        "solver",
        False,
        "Required step size is less than spacing between numbers. The solution may blow up "
        "(a singularity) or the problem may be stiff: try method='auto' or a stiff method.",
    ),
    StatusInfo(
        STATUS_NONFINITE,
        "NONFINITE",
        "solver",
        False,
        "The state or its derivative became non-finite (inf or NaN) and no smaller step "
        "avoided it. Check the model for divisions by zero, logarithms or square roots of "
        "negative numbers, or overflow at these parameters.",
    ),
    StatusInfo(
        STATUS_SINGULAR,
        "SINGULAR",
        "solver",
        False,
        "The iteration matrix (M - h*gamma*J) is singular and no smaller step avoided it. "
        "Check that the DAE has index 1 (each algebraic equation determines its variable).",
    ),
    StatusInfo(
        STATUS_INIT_FAILED,
        "INIT_FAILED",
        "solver",
        False,
        "Consistent initialisation of the algebraic variables failed: Newton's method on the "
        "algebraic equations did not converge from the initial guess given in `u`.",
    ),
    StatusInfo(
        STATUS_BAD_INPUT,
        "BAD_INPUT",
        "solver",
        False,
        "Invalid solver input (t_eval not non-decreasing, t_eval before t0, or non-finite "
        "tolerances); the Python `solve()` checks these and raises a ValueError instead.",
    ),
    # problem
    StatusInfo(
        STATUS_INCOMPLETE,
        "INCOMPLETE",
        "problem",
        False,
        "A `stop` event ended the solve before the last data time, so some data points have "
        "no prediction; the row costs inf.",
    ),
    StatusInfo(
        STATUS_NONFINITE_COST,
        "NONFINITE_COST",
        "problem",
        False,
        "The solve succeeded but the cost is not finite (an output overflowed or is NaN).",
    ),
    StatusInfo(
        STATUS_BAD_SIGMA,
        "BAD_SIGMA",
        "problem",
        False,
        "An estimated noise level (a `sigma` parameter) is not positive and finite; keep it "
        "inside its bounds (0, inf).",
    ),
    StatusInfo(
        STATUS_NONFINITE_PARAMS,
        "NONFINITE_PARAMS",
        "problem",
        False,
        "The parameter row contains NaN or inf.",
    ),
    # Python objectives
    StatusInfo(
        STATUS_RAISED,
        "RAISED",
        "objective",
        False,
        "The objective function raised an exception; `exceptions_map` holds it (pass "
        "provide_traceback=True to log the worker's traceback).",
    ),
    StatusInfo(
        STATUS_BAD_RESULT,
        "BAD_RESULT",
        "objective",
        False,
        "The objective returned something unusable: a scalar objective must return a real "
        "number, and with `data=` it must return predictions of the data's shape.",
    ),
    StatusInfo(
        STATUS_TIMEOUT,
        "TIMEOUT",
        "objective",
        False,
        "The objective ran longer than `timeout` seconds and was stopped; raise `timeout` "
        "or make the function faster.",
    ),
    StatusInfo(
        STATUS_WORKER_DIED,
        "WORKER_DIED",
        "objective",
        False,
        "The worker process running the objective died (a crash in native code, os._exit, "
        "or the out-of-memory killer); check the function's memory use.",
    ),
)

STATUSES: Mapping[int, StatusInfo] = MappingProxyType({info.code: info for info in _ENTRIES})
"""Every known status code -> its :class:`StatusInfo` (read-only)."""

# Developer-written constants: assert is the right tool (style guide rule 3).
assert len(STATUSES) == len(_ENTRIES), "two registry entries share a code"
assert len({info.name for info in _ENTRIES}) == len(_ENTRIES), "two entries share a name"


def describe_status(code: int) -> StatusInfo:
    """The :class:`StatusInfo` of a status code; unknown codes get the unknown message.

    Parameters
    ----------
    code : int
        A status returned by a solver kernel, a problem's ``evaluate_batch`` or a Python
        objective's row (a Python or numpy integer).

    Returns
    -------
    StatusInfo
        The registry entry, or for a code missing from :data:`STATUSES` an entry named
        ``UNKNOWN_<code>`` with origin ``"unknown"``, ``success=False`` and
        :data:`UNKNOWN_STATUS_MESSAGE`.

    Examples
    --------
    >>> describe_status(0).success
    True
    >>> describe_status(-23).message
    'The parameter row contains NaN or inf.'
    >>> describe_status(-99).message.startswith("Unknown solver status -99")
    True
    """
    info = STATUSES.get(code)  # fast path: a Python int or a numpy integer (same hash)
    if info is not None:
        return info
    number = int(code)
    info = STATUSES.get(number)
    if info is not None:
        return info
    return StatusInfo(
        number, f"UNKNOWN_{number}", "unknown", False, UNKNOWN_STATUS_MESSAGE.format(code=number)
    )


def status_codes(origin: Origin) -> tuple[int, ...]:
    """The codes reported by one layer, in registry order.

    Parameters
    ----------
    origin : {"solver", "problem", "objective"}
        The layer.

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> status_codes("problem")
    (-20, -21, -22, -23)
    """
    return tuple(info.code for info in _ENTRIES if info.origin == origin)

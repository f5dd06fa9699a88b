"""Integer codes shared by the batch kernel and the Python side of :class:`Problem`.

Plain module-level ints (no numba, no numpy), so that the batch template can import them
normally and numba freezes them as compile-time constants (``docs/kernel-contract.md``).

Row statuses extend the solver's :class:`~diffid_plugins.solvers.Status` codes (0 done,
1 ended by a `stop` root, negative: solver failure) with failures found while scoring a
solution; they start at -20 so that the two ranges never meet.
"""

from __future__ import annotations

__all__ = [
    "COST_GAUSSIAN_NLL",
    "COST_RMSE",
    "COST_SSE",
    "PROBLEM_STATUS_MESSAGES",
    "PROBLEM_STATUS_NAMES",
    "STATUS_BAD_SIGMA",
    "STATUS_INCOMPLETE",
    "STATUS_NONFINITE_COST",
    "STATUS_NONFINITE_PARAMS",
]

# --- cost kinds (one per term of a cost sum) ---------------------------------------------------
COST_SSE = 0
COST_RMSE = 1
COST_GAUSSIAN_NLL = 2

# --- row statuses added by the problem layer ---------------------------------------------------
STATUS_INCOMPLETE = -20  # a `stop` root ended the solve before the last data time
STATUS_NONFINITE_COST = -21  # the solve succeeded but the cost is NaN or infinite
STATUS_BAD_SIGMA = -22  # an estimated noise level is not positive and finite
STATUS_NONFINITE_PARAMS = -23  # the parameter row holds NaN or inf

PROBLEM_STATUS_NAMES: dict[int, str] = {
    STATUS_INCOMPLETE: "INCOMPLETE",
    STATUS_NONFINITE_COST: "NONFINITE_COST",
    STATUS_BAD_SIGMA: "BAD_SIGMA",
    STATUS_NONFINITE_PARAMS: "NONFINITE_PARAMS",
}
"""Names of the problem-level row statuses (solver statuses use ``Status(code).name``)."""

PROBLEM_STATUS_MESSAGES: dict[int, str] = {
    STATUS_INCOMPLETE: (
        "A `stop` event ended the solve before the last data time, so some data points have "
        "no prediction; the row costs inf."
    ),
    STATUS_NONFINITE_COST: (
        "The solve succeeded but the cost is not finite (an output overflowed or is NaN)."
    ),
    STATUS_BAD_SIGMA: (
        "An estimated noise level (a `sigma` parameter) is not positive and finite; keep it "
        "inside its bounds (0, inf)."
    ),
    STATUS_NONFINITE_PARAMS: "The parameter row contains NaN or inf.",
}
"""Messages of the problem-level row statuses."""

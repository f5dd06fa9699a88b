"""Integer codes shared by the batch kernel and the Python side of :class:`Problem`.

Plain module-level ints (no numba, no numpy), so that the batch template can import them
normally and numba freezes them as compile-time constants (``docs/kernel-contract.md``).

Row statuses extend the solver's :class:`~diffid_plugins.solvers.Status` codes (0 done,
1 ended by a `stop` root, negative: solver failure) with failures found while scoring a
solution; they start at -20 so that the two ranges never meet. They are defined, with their
names and messages, in the package's status registry (:mod:`diffid_plugins._status_codes`)
and re-exported here; :data:`PROBLEM_STATUS_NAMES` and :data:`PROBLEM_STATUS_MESSAGES` are
views of that registry, kept for existing imports.
"""

from __future__ import annotations

from diffid_plugins._status_codes import (
    STATUS_BAD_SIGMA,
    STATUS_INCOMPLETE,
    STATUS_NONFINITE_COST,
    STATUS_NONFINITE_PARAMS,
    STATUSES,
    status_codes,
)

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

# --- row statuses added by the problem layer (values: see _status_codes) ----------------------
PROBLEM_STATUS_NAMES: dict[int, str] = {
    code: STATUSES[code].name for code in status_codes("problem")
}
"""Names of the problem-level row statuses (solver statuses use ``Status(code).name``)."""

PROBLEM_STATUS_MESSAGES: dict[int, str] = {
    code: STATUSES[code].message for code in status_codes("problem")
}
"""Messages of the problem-level row statuses."""

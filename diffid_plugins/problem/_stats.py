"""Row statuses by name, the :class:`ProblemStats` counters, and the backend protocol.

Shared by :class:`~diffid_plugins.problem.Problem` and the other problem kinds (Python
objectives, remote backends), so that they report evaluations and failures the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.problem._codes import PROBLEM_STATUS_MESSAGES, PROBLEM_STATUS_NAMES
from diffid_plugins.solvers._status import Status

if TYPE_CHECKING:
    from diffid_plugins.problem._problem import Problem

__all__ = ["BatchBackend", "ProblemStats", "status_message", "status_name"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def status_name(code: int) -> str:
    """Name of a row status: ``"DONE"``, ``"MAX_STEPS"``, ``"NONFINITE_COST"``, ..."""
    code = int(code)
    if code in PROBLEM_STATUS_NAMES:
        return PROBLEM_STATUS_NAMES[code]
    try:
        return Status(code).name
    except ValueError:
        return f"UNKNOWN_{code}"


def status_message(code: int) -> str:
    """Explanation of a row status (solver statuses use the solver's messages)."""
    code = int(code)
    if code in PROBLEM_STATUS_MESSAGES:
        return PROBLEM_STATUS_MESSAGES[code]
    try:
        return Status(code).message
    except ValueError:
        return f"Unknown status {code} (this is a bug, please report it)."


@dataclass
class ProblemStats:
    """Counters of a :class:`Problem`: evaluations and failures by status name.

    Attributes
    ----------
    evaluations : int
        Rows evaluated (``evaluate`` counts one).
    failures : dict of str to int
        Failed rows (cost ``inf``) by status name, e.g. ``{"MAX_STEPS": 3}``.
    """

    evaluations: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        """Total number of failed rows."""
        return sum(self.failures.values())

    def as_dict(self) -> dict[str, Any]:
        """A plain-dict copy: ``{"evaluations": ..., "n_failed": ..., "failures": {...}}``."""
        return {
            "evaluations": self.evaluations,
            "n_failed": self.n_failed,
            "failures": dict(self.failures),
        }


class BatchBackend(Protocol):
    """What :meth:`Problem.evaluate_batch` needs from a ``backend`` (e.g. a Dask backend)."""

    def map_blocks(self, problem: Problem, X: FloatArray) -> tuple[FloatArray, IntArray]:  # noqa: N803
        """Evaluate the rows of ``X`` (n, n_params); return costs (n,) and statuses (n,)."""
        ...

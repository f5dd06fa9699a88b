"""Row statuses by name, the :class:`ProblemStats` counters, and the backend protocol.

Shared by :class:`~diffid_plugins.problem.Problem` and the other problem kinds (Python
objectives, remote backends), so that they report evaluations and failures the same way.
:func:`status_name` and :func:`status_message` read the package's one status registry
(:mod:`diffid_plugins._status_codes`), which covers the solver's, the problem layer's and
the Python objectives' codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from diffid_plugins._status_codes import describe_status

if TYPE_CHECKING:
    from diffid_plugins.problem._problem import Problem

__all__ = ["BatchBackend", "ProblemStats", "status_message", "status_name"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def status_name(code: int) -> str:
    """Name of a row status: ``"DONE"``, ``"MAX_STEPS"``, ``"NONFINITE_COST"``, ...

    Parameters
    ----------
    code : int
        A row status (solver, problem or Python-objective code).

    Returns
    -------
    str
        The registry name, or ``"UNKNOWN_<code>"`` for a code the registry does not know.

    Examples
    --------
    >>> status_name(-1), status_name(-21), status_name(-32)
    ('MAX_STEPS', 'NONFINITE_COST', 'TIMEOUT')
    """
    return describe_status(code).name


def status_message(code: int) -> str:
    """Explanation of a row status, with what to try.

    Parameters
    ----------
    code : int
        A row status (solver, problem or Python-objective code).

    Returns
    -------
    str
        The registry message; an unknown code gets the registry's one unknown-status message.

    Examples
    --------
    >>> status_message(-23)
    'The parameter row contains NaN or inf.'
    """
    return describe_status(code).message


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

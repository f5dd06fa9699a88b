"""``ProblemLike``: the surface every problem offers to optimisers, samplers and adapters.

:class:`~diffid_plugins.Problem` (a compiled model against data) and
:class:`~diffid_plugins.problem.FunctionProblem` (a Python objective) both implement it, and
everything built on problems (the pymoo and Optuna adapters, the nested sampler's
``from_problem``, the optimisers) depends on this protocol only. ``tests/contracts.py``
holds the behaviour tests every implementation passes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["PerOutputProblemLike", "ProblemLike"]


@runtime_checkable
class ProblemLike(Protocol):
    """A scalar cost of ``n_params`` named parameters, evaluated one or many at a time.

    Contract (checked by ``tests/contracts.py``):

    * ``evaluate_batch(X)`` with ``X`` of shape ``(n, n_params)`` returns ``(n,)`` float64
      costs in row order; a row that cannot be evaluated costs ``inf`` (never NaN, never an
      exception) and its status is recorded in ``last_statuses`` and ``stats``;
      ``return_status=True`` also returns the ``(n,)`` int64 statuses (0 success).
    * ``evaluate(x)`` equals ``evaluate_batch(x[None, :])[0]``.
    * Bad *input* (wrong shape, non-numeric) raises a ``ValueError`` subclass of
      ``DiffidError`` naming the argument.
    * Results are deterministic: the same rows give the same costs, for any thread count.
    """

    parameter_names: list[str]
    n_params: int
    last_statuses: NDArray[np.int64] | None

    @property
    def x0(self) -> NDArray[np.float64]:
        """A starting point, shape (n_params,)."""
        ...

    @property
    def bounds(self) -> list[tuple[float, float]]:
        """``(lower, upper)`` per parameter (may be infinite)."""
        ...

    def evaluate(self, x: ArrayLike, *, return_status: bool = False) -> Any:
        """Cost of one parameter vector (and its status with ``return_status``)."""
        ...

    def evaluate_batch(
        self,
        X: ArrayLike,  # noqa: N803
        n_threads: int | None = None,
        backend: Any = None,
        *,
        return_status: bool = False,
    ) -> Any:
        """Costs of the rows of ``X`` (n, n_params) -> (n,) float64, failures ``inf``."""
        ...

    def reset_stats(self) -> None:
        """Zero the evaluation statistics."""
        ...


@runtime_checkable
class PerOutputProblemLike(ProblemLike, Protocol):
    """A :class:`ProblemLike` whose cost can also be split by model output.

    :class:`~diffid_plugins.Problem` implements it; multi-objective adapters (the pymoo
    adapter's ``objectives="per_output"``) need it. ``evaluate_batch_per_output(X)`` with
    ``X`` of shape ``(n, n_params)`` returns ``(n, n_outputs)`` float64: the cost restricted
    to each output, ``inf`` in every column of a row that ``evaluate_batch`` fails (never NaN);
    ``return_status=True`` also returns the ``(n,)`` int64 statuses.
    """

    @property
    def n_outputs(self) -> int:
        """Number of outputs the cost is split into."""
        ...

    def evaluate_batch_per_output(
        self,
        X: ArrayLike,  # noqa: N803
        n_threads: int | None = None,
        *,
        return_status: bool = False,
    ) -> Any:
        """Per-output costs of the rows of ``X`` (n, n_params) -> (n, n_outputs) float64."""
        ...

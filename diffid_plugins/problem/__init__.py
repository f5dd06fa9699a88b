"""Problem core: a model, data, fitted parameters and a cost, evaluated in parallel batches.

Public API: :class:`Problem`, the costs :class:`SSE`, :class:`RMSE`, :class:`GaussianNLL`
(and their sums :class:`CostSum`), :class:`FunctionProblem` (Python objectives through
:class:`~diffid_plugins.parallel.ParallelExecutor`), :class:`DaskBackend` (evaluate_batch on a
Dask cluster), :class:`ProblemStats`, :class:`ProblemError`, and the row-status helpers
:func:`status_name`, :func:`status_message`.

The batch kernel (``_batch.py``) is a template module compiled together with each model
(``docs/kernel-contract.md``); importing this package does not compile anything.
"""

from __future__ import annotations

from diffid_plugins.problem._costs import RMSE, SSE, Cost, CostSum, GaussianNLL
from diffid_plugins.problem._dask import DaskBackend
from diffid_plugins.problem._function import FunctionProblem
from diffid_plugins.problem._problem import (
    BatchBackend,
    Problem,
    ProblemStats,
    status_message,
    status_name,
)
from diffid_plugins.problem._validation import ProblemError

__all__ = [
    "RMSE",
    "SSE",
    "BatchBackend",
    "Cost",
    "CostSum",
    "DaskBackend",
    "FunctionProblem",
    "GaussianNLL",
    "Problem",
    "ProblemError",
    "ProblemStats",
    "status_message",
    "status_name",
]

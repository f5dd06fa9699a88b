"""Problem core: a model, data, fitted parameters and a cost, evaluated in parallel batches.

Public API: :class:`Problem`, the costs :class:`SSE`, :class:`RMSE`, :class:`GaussianNLL`
(and their sums :class:`CostSum`), :class:`FunctionProblem` (Python objectives through
:class:`~diffid_plugins.parallel.ParallelExecutor`), :class:`DaskBackend` (evaluate_batch on a
Dask cluster), :class:`ProblemStats`, :class:`ProblemError`, and the row-status helpers
:func:`status_name`, :func:`status_message`.

The batch kernels (``_batch.py``, ``_lanes.py``: :data:`BATCH_TEMPLATES`) are template modules
that :mod:`diffid_plugins._kernels` assembles with the solver templates
(``docs/kernel-contract.md``); importing this package does not compile anything.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

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
from diffid_plugins.problem._protocols import PerOutputProblemLike, ProblemLike
from diffid_plugins.problem._validation import ProblemError

__all__ = [
    "BATCH_TEMPLATES",
    "RMSE",
    "SSE",
    "BatchBackend",
    "Cost",
    "CostSum",
    "DaskBackend",
    "FunctionProblem",
    "GaussianNLL",
    "PerOutputProblemLike",
    "Problem",
    "ProblemError",
    "ProblemLike",
    "ProblemStats",
    "status_message",
    "status_name",
]


def _batch_templates() -> tuple[types.ModuleType, ...]:
    """The batch evaluator's template modules, in dependency order (they import numba)."""
    return (
        importlib.import_module("diffid_plugins.problem._batch"),
        importlib.import_module("diffid_plugins.problem._lanes"),
    )


def __getattr__(name: str) -> Any:
    if name == "BATCH_TEMPLATES":
        value = _batch_templates()
        globals()[name] = value
        return value
    raise AttributeError(f"module 'diffid_plugins.problem' has no attribute {name!r}")

"""Run Python callables in parallel with DSPy ``ParallelExecutor`` semantics.

:class:`ParallelExecutor` maps a function over items on worker processes (the default: no GIL
contention, timed-out tasks are killed) or threads, returns results in input order, records
failures (``None`` results, ``failed_indices``, ``exceptions_map``), cancels after
``max_errors`` failures with DSPy's message, resubmits stragglers, and shows a tqdm bar.
:meth:`ParallelExecutor.map_batch` is the batch form used for Python objectives: a ``(n, d)``
array in, ``(n,)`` float64 costs out, ``inf`` for failed rows.

This package depends on numpy only (tqdm optionally) and never imports the ODE stack.
"""

from __future__ import annotations

from ._errors import CANCELLED_MESSAGE as CANCELLED_MESSAGE
from ._errors import ExecutionCancelledError as ExecutionCancelledError
from ._errors import RemoteTaskError as RemoteTaskError
from ._errors import TaskTimeoutError as TaskTimeoutError
from ._errors import WorkerDiedError as WorkerDiedError
from ._errors import WorkerStartError as WorkerStartError
from ._worker import WORKER_ENV as WORKER_ENV
from ._worker import worker_index as worker_index
from ._worker import worker_rng as worker_rng
from .executor import DEFAULT_MAX_ERRORS as DEFAULT_MAX_ERRORS
from .executor import ParallelExecutor as ParallelExecutor

__all__ = [
    "CANCELLED_MESSAGE",
    "DEFAULT_MAX_ERRORS",
    "WORKER_ENV",
    "ExecutionCancelledError",
    "ParallelExecutor",
    "RemoteTaskError",
    "TaskTimeoutError",
    "WorkerDiedError",
    "WorkerStartError",
    "worker_index",
    "worker_rng",
]

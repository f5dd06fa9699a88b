"""Exceptions raised or recorded by :class:`~diffid_plugins.parallel.ParallelExecutor`.

All of them derive from :class:`diffid_plugins.errors.DiffidError` and pickle with their
message, so they survive a trip between processes. The per-task ones (timeouts, dead workers,
exceptions that could not be sent back) never propagate out of ``execute``: they are stored in
``executor.exceptions_map`` like any exception raised by the user's function.
"""

from __future__ import annotations

from diffid_plugins.errors import DiffidError

__all__ = [
    "CANCELLED_MESSAGE",
    "ExecutionCancelledError",
    "RemoteTaskError",
    "TaskTimeoutError",
    "WorkerDiedError",
    "WorkerStartError",
]

#: DSPy's wording, kept verbatim so code matching on it keeps working.
CANCELLED_MESSAGE = "Execution cancelled due to errors or interruption."


class ExecutionCancelledError(DiffidError):
    """``execute`` stopped before every item finished.

    Raised when ``max_errors`` failures were recorded, or when the cancellation event
    (``executor.cancel_jobs``) was set, for example by a SIGINT handler that does not raise.
    The message is DSPy's, ``"Execution cancelled due to errors or interruption."``, and the
    class derives from ``Exception``, so ``pytest.raises(Exception, match=...)`` written for
    DSPy still matches. No partial results are returned; the failures recorded so far stay in
    ``executor.failed_indices`` and ``executor.exceptions_map``.
    """

    def __init__(self, message: str = CANCELLED_MESSAGE) -> None:
        super().__init__(message)


class TaskTimeoutError(DiffidError, TimeoutError):
    """A task ran longer than the executor's ``timeout`` and was stopped.

    Under ``backend="process"`` the worker running it was killed; under ``backend="thread"``
    the thread was abandoned (a thread cannot be stopped) and its result is ignored.
    """


class WorkerDiedError(DiffidError, RuntimeError):
    """A worker process exited while it ran a task (a crash, ``os._exit``, the OOM killer)."""


class RemoteTaskError(DiffidError, RuntimeError):
    """Stands in for a worker-side exception or result that could not cross processes.

    The message holds the original type name and text; the worker's traceback is attached as
    ``__cause__``.
    """


class WorkerStartError(DiffidError, RuntimeError):
    """A worker process could not start or could not load the function it should run."""


class RemoteTraceback(Exception):
    """Carries a worker's formatted traceback; attached as ``__cause__`` of remote errors."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'

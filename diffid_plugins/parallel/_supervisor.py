"""The scheduling loop of :class:`~diffid_plugins.parallel.ParallelExecutor`.

The loop runs on the thread that called ``execute``. It hands one task at a time to each idle
worker, so it always knows which worker runs which task and when that attempt started (the
start of the attempt, not its submission, as in DSPy). It then waits for worker events and, at
each attempt's deadline, applies the timeout rules:

1. An attempt that has run for ``timeout`` seconds while at most ``straggler_limit`` items are
   unfinished, whose item has no other attempt yet, is duplicated on an idle worker (DSPy's
   straggler resubmission). The original keeps running; the first attempt to finish wins and
   the other is stopped.
2. Any other attempt that reaches ``timeout`` (no idle worker, too many items left, or it is
   already the duplicate) ends its item: every attempt of the item is stopped (processes are
   killed and later replaced, threads are abandoned) and the item fails with
   :class:`TaskTimeoutError`.

Every item thus finishes within ``2 * timeout`` of its first start.
"""

from __future__ import annotations

import itertools
import logging
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from diffid_plugins.errors import ArgumentTypeError

from ._errors import TaskTimeoutError, WorkerDiedError, WorkerStartError
from ._pool import Event, Pool, WorkerHandle
from ._progress import Progress

__all__ = [
    "RunState",
    "StopRun",
    "Supervisor",
    "run_sequential",
    "sigint_cancels",
    "sigint_ignored",
]

logger = logging.getLogger(__name__)

_POLL_INTERVAL = 0.2  # seconds between checks of the cancellation event


class StopRun(Exception):
    """Internal: ``max_errors`` was reached or cancellation was requested."""


class RunState:
    """Results and failure bookkeeping of one ``execute`` call.

    Parameters
    ----------
    items : sequence
        The inputs, in order.
    max_errors : int or None
        Raise :class:`StopRun` once this many items have failed; ``None`` never stops.
    provide_traceback : bool
        Log each failure with its (worker-side) traceback.
    log_level : int
        Level of the per-failure log record (``logging.ERROR`` in ``execute``, as in DSPy).
    progress : Progress
        Updated once per finished item.
    """

    def __init__(
        self,
        items: Sequence[Any],
        *,
        max_errors: int | None,
        provide_traceback: bool,
        log_level: int,
        progress: Progress,
    ) -> None:
        self.items = items
        self.max_errors = max_errors
        self.provide_traceback = provide_traceback
        self.log_level = log_level
        self.progress = progress
        self.results: list[Any] = [None] * len(items)
        self.finished = [False] * len(items)
        self.n_finished = 0
        self.failures: dict[int, BaseException] = {}
        self.error_count = 0

    @property
    def n_unfinished(self) -> int:
        """Items without a result or a failure yet."""
        return len(self.items) - self.n_finished

    def succeed(self, index: int, value: Any) -> None:
        """Record the result of item ``index``."""
        self.finished[index] = True
        self.n_finished += 1
        self.results[index] = value
        self.progress.update(value, ok=True)

    def fail(self, index: int, error: BaseException, tb: str = "") -> None:
        """Record the failure of item ``index``, log it, and stop once ``max_errors`` is hit."""
        self.finished[index] = True
        self.n_finished += 1
        self.failures[index] = error
        self.error_count += 1
        item = self.items[index]
        if self.provide_traceback:
            text = tb or "".join(traceback.format_exception(error))
            logger.log(self.log_level, "Error for %s: %s\n%s", item, error, text)
        else:
            text = str(error)
            logger.log(
                self.log_level,
                "Error for %s: %s%s Set `provide_traceback=True` for traceback.",
                item,
                text,
                "" if text.endswith(".") else ".",
            )
        self.progress.update(None, ok=False)
        if self.max_errors is not None and self.error_count >= self.max_errors:
            raise StopRun


@contextmanager
def sigint_cancels(cancel: threading.Event) -> Iterator[None]:
    """DSPy's Ctrl-C handling: set ``cancel``, log, then chain to the previous handler.

    Only on the main thread (elsewhere nothing is installed, as in DSPy). When the previous
    handler is ``SIG_DFL`` or ``SIG_IGN``, ``signal.default_int_handler`` raises
    ``KeyboardInterrupt`` (DSPy 3.4.1). The previous handler is restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    original = signal.getsignal(signal.SIGINT)
    if original is None:  # installed outside Python; leave it alone
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        cancel.set()
        logger.warning("SIGINT received. Cancelling.")
        if callable(original):
            original(signum, frame)
        else:
            signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, original)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Keep a second Ctrl-C from interrupting the clean-up of worker processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    original = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, original if original is not None else signal.SIG_DFL)


def run_sequential(
    function: Callable[[Any], Any], state: RunState, cancel: threading.Event
) -> None:
    """Run every item on the calling thread, in order (``num_threads=1``, thread backend)."""
    for index, item in enumerate(state.items):
        if cancel.is_set():
            raise StopRun
        try:
            value = function(item)
        except Exception as exc:
            state.fail(index, exc, traceback.format_exc())
        else:
            state.succeed(index, value)


@dataclass(eq=False)
class _Attempt:
    """One run of one item on one worker."""

    id: int
    index: int
    worker: WorkerHandle
    start: float
    timed_out: bool = field(default=False)


class Supervisor:
    """Drives a pool through one call: dispatch, events, timeouts, stragglers.

    Parameters
    ----------
    pool : Pool
        Process or thread pool; kept (and reused) by the executor after the call.
    function : callable
        The user's function (used by thread pools; process workers already hold it).
    state : RunState
        Where results and failures go.
    timeout : float
        Seconds per attempt; ``0`` disables straggler handling and termination.
    straggler_limit : int
        Duplicate timed-out attempts only while at most this many items are unfinished.
    cancel : threading.Event
        Checked between events; when set, the run stops with :class:`StopRun`.
    """

    def __init__(
        self,
        pool: Pool[Any],
        function: Callable[[Any], Any],
        state: RunState,
        *,
        timeout: float,
        straggler_limit: int,
        cancel: threading.Event,
    ) -> None:
        self.pool = pool
        self.function = function
        self.state = state
        self.timeout = timeout
        self.straggler_limit = straggler_limit
        self.cancel = cancel
        self._pending: deque[int] = deque(range(len(state.items)))
        self._running: dict[int, _Attempt] = {}
        self._attempts: dict[int, int] = {}  # item index -> attempts started
        self._ids = itertools.count()

    def run(self) -> None:
        """Run until every item has finished; raise :class:`StopRun` on cancellation."""
        while self.state.n_unfinished:
            if self.cancel.is_set():
                raise StopRun
            self.pool.ensure_workers()
            for worker in self.pool.idle_workers():
                if not self._pending:
                    break
                self._start(self._pending.popleft(), worker)
            if not self.state.n_unfinished:  # items that could not be sent
                break
            for event in self.pool.poll(self._wait_time()):
                self._handle(event)
            self._check_timeouts()

    def abort(self) -> None:
        """Stop every running attempt (after cancellation); idle workers stay in the pool."""
        busy = [a.worker for a in self._running.values() if a.worker.attempt == a.id]
        self._running.clear()
        for worker in busy:
            self.pool.discard(worker)
        if busy and not self.pool.terminates:
            logger.warning(
                "%d task(s) are still running in threads and cannot be stopped; their results "
                "will be ignored. Use backend='process' to have them terminated.",
                len(busy),
            )

    def _start(self, index: int, worker: WorkerHandle) -> bool:
        """Send item ``index`` to ``worker``; return whether an attempt started."""
        attempt_id = next(self._ids)
        try:
            self.pool.submit(worker, attempt_id, self.state.items[index], self.function)
        except Exception as exc:
            if self._attempts.get(index, 0) == 0:
                error = ArgumentTypeError(
                    f"item {index} could not be sent to a worker process ({exc}). Use "
                    "picklable items (numbers, arrays, tuples, module-level classes), or "
                    "backend='thread'."
                )
                self.state.fail(index, error, traceback.format_exc())
            return False
        self._attempts[index] = self._attempts.get(index, 0) + 1
        self._running[attempt_id] = _Attempt(attempt_id, index, worker, time.monotonic())
        return True

    def _wait_time(self) -> float:
        wait = _POLL_INTERVAL
        if self.timeout > 0:
            deadlines = [a.start + self.timeout for a in self._running.values() if not a.timed_out]
            if deadlines:
                wait = min(wait, max(0.0, min(deadlines) - time.monotonic()))
        return wait

    def _handle(self, event: Event) -> None:
        if event.kind == "ready":
            return
        if event.kind == "init_error":
            raise WorkerStartError(
                "`function` could not be loaded in a worker process, so backend='process' "
                "cannot run it. Define it at module level in an importable module (a script "
                "also needs the `if __name__ == '__main__':` guard), or use backend='thread'. "
                f"Worker traceback:\n{event.traceback}"
            )
        if event.kind == "died":
            self._on_died(event)
            return
        attempt = self._running.pop(event.attempt, None)
        if attempt is None or self.state.finished[attempt.index]:
            return  # a losing duplicate, or an attempt already given up on
        self._stop_attempts(attempt.index)
        if event.ok:
            self.state.succeed(attempt.index, event.value)
        else:
            assert event.error is not None  # internal invariant of the pools
            self.state.fail(attempt.index, event.error, event.traceback)

    def _on_died(self, event: Event) -> None:
        worker = event.worker
        attempt = next((a for a in self._running.values() if a.worker is worker), None)
        if attempt is None:
            if not worker.ready:
                raise WorkerStartError(
                    f"a worker process exited with code {event.exitcode} before it was ready. "
                    "If `function` lives in a script, guard the script's top-level code with "
                    "`if __name__ == '__main__':` (workers are started with 'spawn' and "
                    "import the main module); its error output is above."
                )
            return
        del self._running[attempt.id]
        index = attempt.index
        others = [a for a in self._running.values() if a.index == index]
        if not self.state.finished[index] and not others:
            error = WorkerDiedError(
                f"the worker process (pid {worker.pid}) running item {index} exited with code "
                f"{event.exitcode}; the function crashed the process (a segfault, os._exit, or "
                "the out-of-memory killer)."
            )
            self.state.fail(index, error)

    def _stop_attempts(self, index: int) -> None:
        """Stop every running attempt of item ``index``."""
        for attempt in [a for a in self._running.values() if a.index == index]:
            del self._running[attempt.id]
            if attempt.worker.attempt != attempt.id:
                continue  # it already finished (its result is in this batch of events)
            self.pool.discard(attempt.worker)
            if not self.pool.terminates:
                logger.warning(
                    "Item %d: an attempt is still running in a thread and cannot be stopped; "
                    "its result will be ignored. Use backend='process' to have it terminated.",
                    index,
                )

    def _check_timeouts(self) -> None:
        if self.timeout <= 0:
            return
        now = time.monotonic()
        for attempt in list(self._running.values()):
            if attempt.timed_out or attempt.id not in self._running:
                continue
            if now - attempt.start >= self.timeout:
                attempt.timed_out = True
                self._on_timeout(attempt, now)

    def _on_timeout(self, attempt: _Attempt, now: float) -> None:
        index = attempt.index
        idle = self.pool.idle_workers()
        if (
            self._attempts[index] == 1
            and self.state.n_unfinished <= self.straggler_limit
            and idle
            and self._start(index, idle[0])
        ):
            logger.info(
                "Item %d has run for %.3g s (timeout=%g s); resubmitted a duplicate "
                "(straggler), the first result wins.",
                index,
                now - attempt.start,
                self.timeout,
            )
            return
        self._stop_attempts(index)
        how = "killed" if self.pool.terminates else "abandoned (threads cannot be stopped)"
        error = TaskTimeoutError(
            f"item {index} did not finish within timeout={self.timeout:g} s and was {how}. "
            "Raise `timeout` (or pass timeout=0 to disable it) if tasks legitimately take "
            "this long."
        )
        self.state.fail(index, error)

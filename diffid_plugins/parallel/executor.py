"""``ParallelExecutor``: DSPy's parallel executor, on processes (killable) or threads."""

from __future__ import annotations

import logging
import pickle
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins.errors import ArgumentTypeError

from ._errors import CANCELLED_MESSAGE, ExecutionCancelledError
from ._pool import Pool, PoolHolder, ProcessPool, ThreadPool
from ._progress import Progress
from ._supervisor import (
    RunState,
    StopRun,
    Supervisor,
    run_sequential,
    sigint_cancels,
    sigint_ignored,
)
from ._validation import (
    as_cost,
    as_rows,
    check_backend,
    check_call,
    check_int,
    check_timeout,
    check_worker_env,
    default_workers,
)
from ._worker import WORKER_ENV, inline_worker, seed_streams

__all__ = ["DEFAULT_MAX_ERRORS", "ParallelExecutor"]

logger = logging.getLogger(__name__)

#: DSPy's ``settings.max_errors``, used when ``max_errors=None``.
DEFAULT_MAX_ERRORS = 10


class ParallelExecutor:
    """Run a function over items in parallel, with DSPy ``ParallelExecutor`` semantics.

    Results come back in input order; an item whose call failed gets ``None`` and is listed in
    ``failed_indices`` and ``exceptions_map``; ``max_errors`` failures cancel the call with
    DSPy's message; stragglers are resubmitted. The default ``backend="process"`` runs the
    function in ``num_threads`` worker processes, so CPU-bound Python code is not serialised
    by the GIL and a task that exceeds ``timeout`` is really killed.

    Parameters
    ----------
    num_threads : int, optional
        Number of workers (processes or threads). ``None`` or ``0``: the number of cores this
        process may use. With ``backend="thread"``, ``1`` runs the items one after another on
        the calling thread, as in DSPy (no timeout handling).
    max_errors : int, optional
        ``execute`` cancels once this many items have failed (``1`` cancels at the first
        failure). ``None``: 10, DSPy's default.
    disable_progress_bar : bool, default False
        Hide the tqdm bar (written to ``sys.stdout``, as in DSPy).
    provide_traceback : bool, optional
        Log each failure with the worker's traceback. ``None``: ``False``.
    compare_results : bool, default False
        Read each result's last element as a score and show DSPy's running
        ``"Average Metric"`` in the bar.
    timeout : float, default 120
        Seconds an attempt may run, from its actual start. ``0`` or ``None`` disables both
        rules below. (1) DSPy's straggler rule: once at most `straggler_limit` items are
        unfinished, an item whose first attempt reaches `timeout` gets a duplicate attempt on
        an idle worker; the first attempt to finish wins and the other is stopped. (2) An
        attempt that reaches `timeout` otherwise (too many items left, no idle worker, or it
        is the duplicate) ends its item with :class:`TaskTimeoutError`: under the process
        backend the worker is killed (SIGKILL) and replaced, under the thread backend the
        thread is abandoned and a warning logged. An item therefore never takes more than
        ``2 * timeout``. DSPy never stops a task, so a hung task blocks it forever.
    straggler_limit : int, default 3
        Straggler duplicates are started only while at most this many items are unfinished.
    backend : {"process", "thread"}, keyword-only, default "process"
        ``"process"``: ``spawn`` worker processes that each receive the pickled function
        once, when they start (the pool initializer); items and results are pickled per
        task. Use it for CPU-bound Python. ``"thread"``: daemon threads, for functions that
        release the GIL (numba ``nogil``, I/O) or cannot be pickled.
    seed : int, optional, keyword-only
        Root of the per-worker seeds. Worker ``k`` (numbered in start order) is seeded from
        the ``k``-th child of ``np.random.SeedSequence(seed)``: see :func:`worker_rng`. In
        process workers Python's ``random`` and NumPy's legacy ``np.random`` are seeded from
        it as well; thread workers leave those (shared) globals alone. Which worker runs which
        item depends on timing, so per-item draws are reproducible only when each item seeds
        itself (for example from its index).
    return_failed_examples : bool, keyword-only, default False
        ``execute`` returns ``(results, failed_examples, exceptions)``, where the last two
        list the failed items and their exceptions in index order (as ``dspy.Parallel``).
    worker_env : mapping of str to str, optional, keyword-only
        Environment variables for worker processes, on top of :data:`WORKER_ENV`, which pins
        numba, OpenMP and BLAS to one thread per worker so ``n`` workers do not start ``n``
        threads each. They are set before the worker's interpreter starts, so they apply even
        when the main module imports numba.

    Attributes
    ----------
    failed_indices : list of int
        Indices of the items that failed in the last call, sorted.
    exceptions_map : dict of int to Exception
        ``index -> exception`` for the last call. Timeouts are :class:`TaskTimeoutError`,
        crashed workers :class:`WorkerDiedError`; an exception that could not be pickled back
        becomes :class:`RemoteTaskError`. Worker tracebacks are attached as ``__cause__``.
    error_count : int
        Failures in the last call.
    cancel_jobs : threading.Event
        Set it from another thread to cancel a running call.

    Notes
    -----
    Differences from DSPy, on purpose: the failure bookkeeping resets at every call (DSPy
    accumulates it); ``failed_indices`` is sorted (DSPy lists completion order); timed-out
    tasks are stopped as described under `timeout`, and an item has at most two attempts;
    a cancelled call stops the running attempts (processes) or says that it cannot (threads)
    instead of leaving them running silently; the bar counts failed items as processed.

    Process workers persist between calls while the pickled function is unchanged, so an
    optimiser calling :meth:`map_batch` every generation pays the start-up cost (about 0.5 s
    when the main module imports numba) once. Call :meth:`close`, or use the executor as a
    context manager, to stop them earlier; they are also stopped when the executor is
    garbage-collected, when the interpreter exits, and when the parent process dies. Workers
    are started with ``spawn``: ``fork`` is unsafe once numba's or OpenMP's thread pools are
    running, and ``forkserver`` started no faster here because each child still re-imports the
    main module. Scripts that use the process backend therefore need the
    ``if __name__ == "__main__":`` guard, and the function must be importable (defined at
    module level). Ctrl-C in the parent (main thread) logs ``"SIGINT received. Cancelling."``,
    kills every worker, and re-raises ``KeyboardInterrupt``; workers ignore SIGINT themselves.
    Worker processes are daemonic, so the function cannot start its own process pools.

    Examples
    --------
    >>> import math
    >>> from diffid_plugins.parallel import ParallelExecutor
    >>> with ParallelExecutor(num_threads=2, disable_progress_bar=True) as executor:
    ...     executor.execute(math.sqrt, [1.0, 4.0, -1.0, 9.0])
    [1.0, 2.0, None, 3.0]
    >>> executor.failed_indices, type(executor.exceptions_map[2]).__name__
    ([2], 'ValueError')
    """

    num_threads: int
    max_errors: int
    disable_progress_bar: bool
    provide_traceback: bool
    compare_results: bool
    timeout: float
    straggler_limit: int
    backend: Literal["process", "thread"]
    seed: int | None
    return_failed_examples: bool
    worker_env: dict[str, str]
    failed_indices: list[int]
    exceptions_map: dict[int, BaseException]
    error_count: int
    cancel_jobs: threading.Event

    def __init__(
        self,
        num_threads: int | None = None,
        max_errors: int | None = None,
        disable_progress_bar: bool = False,
        provide_traceback: bool | None = None,
        compare_results: bool = False,
        timeout: float | None = 120,
        straggler_limit: int = 3,
        *,
        backend: Literal["process", "thread"] = "process",
        seed: int | None = None,
        return_failed_examples: bool = False,
        worker_env: Mapping[str, str] | None = None,
    ) -> None:
        if num_threads is None or num_threads == 0:
            num_threads = default_workers()
        self.num_threads = check_int(
            "num_threads", num_threads, 1, "Pass the number of workers, or None for one per core."
        )
        self.max_errors = (
            DEFAULT_MAX_ERRORS
            if max_errors is None
            else check_int("max_errors", max_errors, 0, "Pass e.g. 10 (DSPy's default).")
        )
        self.timeout = check_timeout(timeout)
        self.straggler_limit = check_int(
            "straggler_limit", straggler_limit, 0, "Pass e.g. 3 (DSPy's default)."
        )
        self.backend = check_backend(backend)
        self.seed = None if seed is None else check_int("seed", seed, 0, "Pass an int or None.")
        self.worker_env = check_worker_env(WORKER_ENV, worker_env)
        self.disable_progress_bar = bool(disable_progress_bar)
        self.provide_traceback = bool(provide_traceback)
        self.compare_results = bool(compare_results)
        self.return_failed_examples = bool(return_failed_examples)
        self.failed_indices = []
        self.exceptions_map = {}
        self.error_count = 0
        self._setup_runtime()

    def _setup_runtime(self) -> None:
        """State that is not pickled: locks, the live pool, the seed counter."""
        self.cancel_jobs = threading.Event()
        self._busy = threading.Lock()
        self._seed_root = np.random.SeedSequence(self.seed)
        self._n_started = 0
        self._inline: tuple[int, np.random.Generator] | None = None
        self._box = PoolHolder()
        self._finalizer = weakref.finalize(self, self._box.close)

    # -- public API ---------------------------------------------------------------------------

    def execute(self, function: Callable[[Any], Any], data: Sequence[Any]) -> Any:
        """Call ``function(item)`` for every item of ``data``, in parallel.

        Parameters
        ----------
        function : callable
            Takes one item. For ``backend="process"`` it must pickle (a module-level function
            or a picklable callable object); it is sent to each worker once.
        data : sequence
            Items, anything with ``len()``; each must pickle for ``backend="process"``.

        Returns
        -------
        list or tuple
            ``results`` in input order with ``None`` for failed items; or, with
            ``return_failed_examples=True``, ``(results, failed_examples, exceptions)``.

        Raises
        ------
        ExecutionCancelledError
            ``max_errors`` items failed, or ``cancel_jobs`` was set:
            ``"Execution cancelled due to errors or interruption."``.
        KeyboardInterrupt
            Ctrl-C; every worker process has been stopped when it propagates.
        WorkerStartError
            A worker could not load ``function`` (process backend).
        ArgumentTypeError
            ``function`` is not callable, ``data`` has no ``len()``, or ``function`` cannot
            be pickled for the process backend (a ``TypeError``).

        Examples
        --------
        >>> from diffid_plugins.parallel import ParallelExecutor
        >>> executor = ParallelExecutor(num_threads=2, backend="thread",
        ...                             disable_progress_bar=True, return_failed_examples=True)
        >>> executor.execute(lambda x: 10 // x, [1, 0, 5])
        ([10, None, 2], [0], [ZeroDivisionError('integer division or modulo by zero')])
        """
        items = check_call(function, data)
        results = self._run(
            function,
            items,
            max_errors=self.max_errors,
            log_level=logging.ERROR,
            compare_results=self.compare_results,
        )
        if self.return_failed_examples:
            failed = [items[i] for i in self.failed_indices]
            return results, failed, [self.exceptions_map[i] for i in self.failed_indices]
        return results

    def map_batch(
        self, function: Callable[[Any], Any], X: ArrayLike, *, max_errors: int | None = None
    ) -> NDArray[np.float64]:
        """Evaluate a scalar function on every row of ``X``; failed rows cost ``inf``.

        The batch form used by ``Problem.from_function``: by default it never cancels (the
        executor's ``max_errors`` does not apply) and logs failures at DEBUG level only; they
        are still listed in ``failed_indices`` and ``exceptions_map``. A row fails when the
        call raises, times out or crashes its worker, or returns something that is not a real
        scalar (``None``, a string, an array); NaN is returned unchanged.

        Parameters
        ----------
        function : callable
            ``function(x) -> float`` with ``x`` of shape ``(d,)``, float64 (a private copy).
        X : array_like, shape (n, d)
            One parameter vector per row.
        max_errors : int, optional, keyword-only
            Cancel (as :meth:`execute` does) once this many rows have failed. ``None``: never.

        Returns
        -------
        numpy.ndarray, shape (n,), float64

        Raises
        ------
        ArgumentError
            ``X`` is not a 2-dimensional array of numbers, or `max_errors` is not an
            integer >= 0 (a ``ValueError``).
        ExecutionCancelledError
            `max_errors` rows failed; ``failed_indices`` and ``exceptions_map`` hold them.
        KeyboardInterrupt, WorkerStartError, ArgumentTypeError
            As for :meth:`execute`.

        Examples
        --------
        >>> import numpy as np
        >>> from diffid_plugins.parallel import ParallelExecutor
        >>> executor = ParallelExecutor(num_threads=1, backend="thread", disable_progress_bar=True)
        >>> executor.map_batch(lambda x: 1.0 / float(x[0]), np.array([[1.0], [0.0], [4.0]]))
        array([1.  ,  inf, 0.25])
        """
        rows = as_rows(function, X)
        if max_errors is not None:
            max_errors = check_int("max_errors", max_errors, 0, "Pass e.g. 10, or None.")
        results = self._run(
            function,
            list(rows),
            max_errors=max_errors,
            log_level=logging.DEBUG,
            compare_results=False,
        )
        costs = np.full(len(rows), np.inf)
        for index, value in enumerate(results):
            if index in self.exceptions_map:
                continue
            try:
                costs[index] = as_cost(value, index)
            except TypeError as exc:
                self.exceptions_map[index] = exc
                self.error_count += 1
        self.failed_indices = sorted(self.exceptions_map)
        self.exceptions_map = {i: self.exceptions_map[i] for i in self.failed_indices}
        return costs

    def close(self) -> None:
        """Stop the worker processes (or threads) now; the next call starts new ones."""
        self._box.close()

    def __enter__(self) -> ParallelExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ParallelExecutor(num_threads={self.num_threads}, backend={self.backend!r}, "
            f"max_errors={self.max_errors}, timeout={self.timeout:g}, "
            f"straggler_limit={self.straggler_limit}, seed={self.seed})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("cancel_jobs", "_busy", "_seed_root", "_n_started", "_inline", "_box"):
            del state[key]
        del state["_finalizer"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup_runtime()

    # -- internals ----------------------------------------------------------------------------

    def _next_worker(self) -> tuple[int, np.random.SeedSequence]:
        """Index and seed of the next worker: the next child of ``SeedSequence(seed)``."""
        index = self._n_started
        self._n_started += 1
        return index, self._seed_root.spawn(1)[0]

    def _pool_for(self, function: Callable[[Any], Any]) -> Pool[Any]:
        """The live pool for ``function``, started or restarted as needed."""
        pool = self._box.pool
        if self.backend == "thread":
            if not isinstance(pool, ThreadPool):
                pool = ThreadPool(self.num_threads, self._next_worker)
                self._box.replace(pool)
            return pool
        try:
            function_bytes = pickle.dumps(function, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise ArgumentTypeError(
                f"`function` ({function!r}) cannot be pickled, so backend='process' cannot "
                f"send it to worker processes ({exc}). Define it at module level (not a lambda "
                "or a nested function), or use backend='thread'."
            ) from exc
        if not (isinstance(pool, ProcessPool) and pool.function_bytes == function_bytes):
            pool = ProcessPool(
                function_bytes, self.num_threads, self._next_worker, self.worker_env
            )
            self._box.replace(pool)
        return pool

    def _run(
        self,
        function: Callable[[Any], Any],
        items: list[Any],
        *,
        max_errors: int | None,
        log_level: int,
        compare_results: bool,
    ) -> list[Any]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "This ParallelExecutor is already running a call in another thread. Use one "
                "executor per thread."
            )
        try:
            self.failed_indices, self.exceptions_map, self.error_count = [], {}, 0
            self.cancel_jobs.clear()
            if not items:
                return []
            progress = Progress(
                len(items),
                disabled=self.disable_progress_bar,
                compare_results=compare_results,
                stacklevel=4,
            )
            state = RunState(
                items,
                max_errors=max_errors,
                provide_traceback=self.provide_traceback,
                log_level=log_level,
                progress=progress,
            )
            try:
                if self.backend == "thread" and self.num_threads == 1:
                    self._run_inline(function, state)
                else:
                    self._run_pool(function, state)
            finally:
                progress.close()
                self.failed_indices = sorted(state.failures)
                self.exceptions_map = {i: state.failures[i] for i in self.failed_indices}
                self.error_count = state.error_count
            return state.results
        finally:
            self._busy.release()

    def _run_inline(self, function: Callable[[Any], Any], state: RunState) -> None:
        if self._inline is None:
            index, seed = self._next_worker()
            self._inline = (index, seed_streams(seed, seed_globals=False))
        try:
            with inline_worker(*self._inline):
                run_sequential(function, state, self.cancel_jobs)
        except KeyboardInterrupt:
            self.cancel_jobs.set()
            logger.warning("SIGINT received. Cancelling.")
            raise
        except StopRun:
            logger.warning(CANCELLED_MESSAGE)
            raise ExecutionCancelledError() from None

    def _run_pool(self, function: Callable[[Any], Any], state: RunState) -> None:
        pool = self._pool_for(function)
        supervisor = Supervisor(
            pool,
            function,
            state,
            timeout=self.timeout,
            straggler_limit=self.straggler_limit,
            cancel=self.cancel_jobs,
        )
        try:
            with sigint_cancels(self.cancel_jobs):
                supervisor.run()
        except StopRun:
            supervisor.abort()
            logger.warning(CANCELLED_MESSAGE)
            raise ExecutionCancelledError() from None
        except BaseException:  # Ctrl-C, a worker that cannot start, a bug: leave no process
            with sigint_ignored():
                self._box.close()
            raise

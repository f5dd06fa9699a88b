"""Evaluate a batch of parameter rows on a Dask cluster, one block of rows per task.

:class:`DaskBackend` splits ``X`` into contiguous row blocks and evaluates each block on a Dask
worker by calling ``problem._evaluate_rows(block, n_threads)``: the same evaluation the problem
runs locally (for the ODE :class:`Problem`, its numba ``prange`` kernel), so the results equal
the local ones bit for bit. Anything with that method works, including
:class:`~diffid_plugins.problem._function.FunctionProblem`.

How the work reaches the workers:

- The problem is pickled once per call (cloudpickle; the ODE ``Problem`` pickles as its model
  text and settings) and travels as the argument of one small task whose result every block
  task depends on, so each worker receives the bytes once per call, not once per block.
  Workers unpickle it once per process and keep it in a small cache keyed by the SHA-256 of
  the bytes, so an optimiser calling every generation does not reload the compiled model
  each time. Because it is a task and not scattered data, a worker that dies holding it costs
  nothing: the scheduler recomputes it elsewhere.
- Each worker runs one block at a time (a per-process lock) with ``n_threads`` numba threads,
  by default the worker's own ``nthreads``; so a worker never uses more threads than it was
  given, and numba's thread pool is never entered from two Dask threads at once.
- A worker lost while running a block: the scheduler reschedules the block on another worker
  (up to Dask's ``distributed.scheduler.allowed-failures``, 3 by default); if the scheduler
  gives up (:class:`distributed.KilledWorker`) or the future is lost or cancelled, the block is
  submitted again, up to ``retries`` times. Rows are never silently dropped: a block that still
  cannot be evaluated raises.

Dask is imported only inside the functions below, never when the module is imported.
"""

from __future__ import annotations

import hashlib
import logging
import math
import pickle
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.parallel._validation import as_float_rows

if TYPE_CHECKING:  # pragma: no cover - typing only
    from distributed import Client, Future

__all__ = ["DaskBackend", "RowEvaluator"]

logger = logging.getLogger(__name__)

#: Blocks per worker when ``block_size`` is not given: two, so a slow or lost worker's share
#: can be taken over while the others still have work.
_BLOCKS_PER_WORKER = 2

_BLOCK_LOCK = threading.Lock()  # one block at a time per worker process (see module docstring)
_CACHE: OrderedDict[str, RowEvaluator] = OrderedDict()  # worker side: token -> problem
_CACHE_SIZE = 4


class RowEvaluator(Protocol):
    """What :meth:`DaskBackend.map_blocks` needs from a problem: a picklable object with this."""

    def _evaluate_rows(
        self, X: NDArray[np.float64], n_threads: int
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Costs ``(n,)`` float64 and statuses ``(n,)`` int64 of the rows of ``X`` ``(n, d)``."""
        ...


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "DaskBackend needs `distributed` (Dask's cluster scheduler), which is not "
            "installed. Install it with `pip install diffid_plugins[dask]`."
        ) from exc
    return distributed


@dataclass(frozen=True)
class _Pickled:
    """A problem in transit: its pickle and the pickle's SHA-256 (the worker cache key)."""

    token: str
    blob: bytes


def _identity(pickled: _Pickled) -> _Pickled:
    """The task that carries the pickled problem to the workers: it returns its argument."""
    return pickled


def _pickled(problem: RowEvaluator) -> _Pickled:
    try:
        blob = _cloudpickle_dumps(problem)
    except Exception as exc:
        raise ArgumentTypeError(
            f"the problem ({type(problem).__name__}) cannot be pickled, so it cannot be sent "
            f"to Dask workers ({exc}). Build it from a compile_model(text) model (a Problem) "
            "or a picklable function (a FunctionProblem)."
        ) from exc
    return _Pickled(hashlib.sha256(blob).hexdigest(), blob)


def _cloudpickle_dumps(obj: object) -> bytes:
    """Pickle with cloudpickle (as Dask does), so lambdas and local functions travel too."""
    import cloudpickle

    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _loaded(pickled: _Pickled) -> RowEvaluator:
    """Worker side: the unpickled problem, from this process's cache when it has it.

    Unpickling an ODE ``Problem`` loads its compiled model (from numba's disk cache), which
    takes a while; the cache makes it once per worker process and problem, not once per call.
    """
    problem = _CACHE.get(pickled.token)
    if problem is None:
        problem = pickle.loads(pickled.blob)
        _CACHE[pickled.token] = problem
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(pickled.token)
    return problem


def _run_block(
    pickled: _Pickled, block: NDArray[np.float64], n_threads: int | None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Worker side: evaluate one block with the worker's threads (or ``n_threads``)."""
    if n_threads is None:
        from distributed import get_worker

        n_threads = int(get_worker().state.nthreads)
    with _BLOCK_LOCK:
        problem = _loaded(pickled)
        costs, statuses = problem._evaluate_rows(block, max(1, n_threads))
    return (
        np.ascontiguousarray(costs, dtype=np.float64),
        np.ascontiguousarray(statuses, dtype=np.int64),
    )


class DaskBackend:
    """Evaluate batches of rows on a Dask cluster, in row blocks, surviving lost workers.

    Parameters
    ----------
    client : distributed.Client, optional
        The cluster to use. ``None``: the current default client
        (``distributed.get_client()``), looked up at each call.
    block_size : int, optional
        Rows per task. ``None``: the batch is split into two blocks per worker (at least one
        row each). Larger blocks amortise the per-task overhead (a few ms); smaller ones
        balance load and lose less work when a worker dies.
    threads_per_worker : int, optional
        Threads each block is evaluated with (``n_threads`` of ``_evaluate_rows``). ``None``:
        the worker's own ``nthreads``.
    retries : int, keyword-only, default 2
        How many times a block is submitted again when its future is lost: the scheduler gave
        up on it after workers died running it (:class:`distributed.KilledWorker`), or it was
        cancelled (for example by ``client.restart()``). Exceptions raised by
        ``_evaluate_rows`` itself are bugs and propagate at once.
    timeout : float, optional, keyword-only
        Seconds a whole :meth:`map_blocks` call may take before it raises ``TimeoutError``;
        ``None`` waits as long as needed.

    Notes
    -----
    Each worker runs one block at a time: a worker started with ``nthreads=k`` evaluates its
    blocks one after another, each on ``k`` numba threads, instead of ``k`` blocks on ``k``
    threads each. Start workers with ``threads_per_worker`` equal to the cores each may use.

    Examples
    --------
    >>> from diffid_plugins.problem._dask import DaskBackend
    >>> backend = DaskBackend(block_size=250)  # uses the default client when called
    >>> backend.block_size
    250
    """

    client: Client | None
    block_size: int | None
    threads_per_worker: int | None
    retries: int
    timeout: float | None

    def __init__(
        self,
        client: Client | None = None,
        block_size: int | None = None,
        threads_per_worker: int | None = None,
        *,
        retries: int = 2,
        timeout: float | None = None,
    ) -> None:
        self.client = client
        self.block_size = _positive_int_or_none("block_size", block_size, "e.g. 256")
        self.threads_per_worker = _positive_int_or_none(
            "threads_per_worker", threads_per_worker, "the cores each worker may use"
        )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ArgumentError(
                f"`retries` must be an integer >= 0; got {retries!r}. Pass e.g. 2, or 0 to "
                "raise as soon as Dask gives up on a block."
            )
        self.retries = retries
        if timeout is not None and not (
            isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0
        ):
            raise ArgumentError(
                f"`timeout` must be a positive number of seconds or None; got {timeout!r}. "
                "Pass e.g. 60.0, or None to wait as long as the blocks take."
            )
        self.timeout = None if timeout is None else float(timeout)

    def __repr__(self) -> str:
        return (
            f"DaskBackend(client={self.client!r}, block_size={self.block_size}, "
            f"threads_per_worker={self.threads_per_worker}, retries={self.retries})"
        )

    def _client(self) -> Client:
        if self.client is not None:
            return self.client
        distributed = _import_distributed()
        try:
            client: Client = distributed.get_client()
        except ValueError as exc:
            raise ArgumentError(
                "DaskBackend(client=None) found no Dask client in this process. Pass one, "
                "e.g. `DaskBackend(Client(LocalCluster(n_workers=2)))`, or create a "
                "`distributed.Client` before evaluating."
            ) from exc
        return client

    def blocks(self, n_rows: int, n_workers: int) -> list[slice]:
        """Row slices of a batch of ``n_rows`` rows, in order, covering every row once.

        Parameters
        ----------
        n_rows : int
            Rows in the batch.
        n_workers : int
            Workers in the cluster (used when ``block_size`` is ``None``).

        Returns
        -------
        list of slice

        Examples
        --------
        >>> DaskBackend(block_size=4).blocks(10, n_workers=2)
        [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
        >>> DaskBackend().blocks(10, n_workers=2)
        [slice(0, 3, None), slice(3, 6, None), slice(6, 9, None), slice(9, 10, None)]
        """
        if n_rows == 0:
            return []
        size = self.block_size or max(1, math.ceil(n_rows / (_BLOCKS_PER_WORKER * n_workers)))
        return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]

    def map_blocks(
        self, problem: RowEvaluator, X: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Evaluate every row of ``X`` on the cluster; return costs and statuses in row order.

        Parameters
        ----------
        problem : object with ``_evaluate_rows(X, n_threads)``
            Must pickle (the ODE ``Problem`` pickles as its model text and settings; a
            ``FunctionProblem`` pickles with its function, through cloudpickle).
        X : array_like, shape (n, d)
            One parameter vector per row.

        Returns
        -------
        costs : numpy.ndarray, shape (n,), float64
            As ``problem._evaluate_rows`` computed them (``inf`` for failed rows).
        statuses : numpy.ndarray, shape (n,), int64
            The status of each row (``0`` for success).

        Raises
        ------
        ArgumentError
            ``X`` is not a 2-dimensional array of numbers, or there is no client (a
            ``ValueError``).
        TimeoutError
            The call took longer than ``timeout``.
        RuntimeError
            A block was lost more than ``retries`` times.
        """
        rows = as_float_rows(X)
        n = rows.shape[0]
        costs = np.full(n, np.inf)
        statuses = np.zeros(n, dtype=np.int64)
        if n == 0:
            return costs, statuses
        distributed = _import_distributed()
        client = self._client()
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        slices = self.blocks(n, n_workers)
        pickled = _pickled(problem)
        tag = uuid.uuid4().hex
        # Same problem, same key: the scheduler keeps one copy while any call holds it.
        held = client.submit(_identity, pickled, key=f"diffid-problem-{pickled.token}")

        def submit(b: int, attempt: int) -> Future:
            return client.submit(
                _run_block,
                held,
                rows[slices[b]],
                self.threads_per_worker,
                key=f"diffid-block-{tag}-{b}-{attempt}",
                pure=False,
            )

        pending = {submit(b, 0): (b, 0) for b in range(len(slices))}
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            while pending:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    done = distributed.wait(
                        list(pending), timeout=remaining, return_when="FIRST_COMPLETED"
                    ).done
                except (TimeoutError, distributed.TimeoutError) as exc:
                    raise TimeoutError(
                        f"DaskBackend.map_blocks did not finish within timeout={self.timeout:g} "
                        f"s ({len(pending)} of {len(slices)} blocks unfinished). Raise "
                        "`timeout`, or check the cluster's workers."
                    ) from exc
                for future in done:
                    b, attempt = pending.pop(future)
                    if future.status == "finished":
                        costs[slices[b]], statuses[slices[b]] = future.result()
                        continue
                    error = _lost_error(future, distributed)
                    if error is None:
                        future.result()  # an exception from _evaluate_rows: raise it
                    if attempt >= self.retries:
                        raise RuntimeError(
                            f"block {b} (rows {slices[b].start} to {slices[b].stop - 1}) was "
                            f"lost {attempt + 1} times ({error}); giving up. Workers died "
                            "while evaluating it: check their memory limits and logs, or "
                            "raise `retries`."
                        ) from (error if isinstance(error, BaseException) else None)
                    logger.warning(
                        "Dask block %d (rows %d to %d) was lost (%s); resubmitting it "
                        "(retry %d of %d).",
                        b,
                        slices[b].start,
                        slices[b].stop - 1,
                        error,
                        attempt + 1,
                        self.retries,
                    )
                    pending[submit(b, attempt + 1)] = (b, attempt + 1)
        finally:
            client.cancel(list(pending))
        return costs, statuses


def _lost_error(future: Future, distributed: Any) -> BaseException | str | None:
    """Why ``future`` was lost (worker deaths, cancellation), or None for a task exception."""
    if future.status == "cancelled":
        return "the future was cancelled (a worker or the scheduler restarted)"
    if future.status == "lost":
        return "its result was lost with a worker"
    try:
        error = future.exception(timeout=5)
    except Exception as exc:  # cancelled while we asked
        return exc
    killed = getattr(distributed, "KilledWorker", ())
    if isinstance(error, killed):
        return error
    return None


def _positive_int_or_none(name: str, value: object, example: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(
            f"`{name}` must be a positive integer or None; got {value!r}. Pass "
            f"{example}, or None for the default."
        )
    return value

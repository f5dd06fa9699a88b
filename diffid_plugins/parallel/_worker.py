"""Code that runs inside the workers of :class:`~diffid_plugins.parallel.ParallelExecutor`.

A process worker is started once per pool slot with the pickled function as an argument; its
initializer (:func:`process_worker_main`, before the task loop) unpickles the function **once**,
seeds the worker's random streams and reports ``ready``. After that each task message carries
only an attempt id and the pickled item, and each reply carries only the pickled result (or the
exception and its formatted traceback).

Random streams in a worker (seeded from ``SeedSequence(seed).spawn``, one child per worker):

- :func:`worker_rng` returns the worker's own ``np.random.Generator`` (PCG64); this is the
  stream to use in new code, under either backend.
- In a *process* worker, Python's ``random`` module and NumPy's legacy global state
  (``np.random.seed``) are seeded too, from independent children of the worker's seed, so user
  code that draws from them is reproducible per worker. In *thread* workers these globals are
  shared with the caller and are never touched. numba-compiled code keeps its own generator
  state, which is not seeded; call ``np.random.seed`` inside an ``@njit`` function for that.

Process workers ignore SIGINT (the parent handles Ctrl-C and terminates them) and exit on their
own when the parent process dies.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import random
import signal
import struct
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from diffid_plugins.errors import ResultTypeError

__all__ = [
    "WORKER_ENV",
    "decode_task",
    "encode_task",
    "inline_worker",
    "process_worker_main",
    "seed_streams",
    "thread_worker_main",
    "worker_index",
    "worker_rng",
]

#: Environment set for every worker process before it starts, so that ``n`` workers do not
#: each start one thread per core (numba's threading layer, OpenMP, BLAS). Override or extend
#: it with ``ParallelExecutor(worker_env=...)``.
WORKER_ENV: Mapping[str, str] = MappingProxyType(
    {
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
)

_HEADER = struct.Struct("<q")
_PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass(frozen=True)
class _WorkerContext:
    """What :func:`worker_index` and :func:`worker_rng` return on this thread."""

    index: int
    rng: np.random.Generator


_local = threading.local()


def worker_index() -> int | None:
    """Index of the executor worker running the current task, or ``None`` outside one.

    Workers are numbered 0, 1, ... in the order an executor starts them; a worker that
    replaces a killed one gets the next free number.

    Returns
    -------
    int or None

    Examples
    --------
    >>> from diffid_plugins.parallel import worker_index
    >>> worker_index() is None  # not inside a worker
    True
    """
    context: _WorkerContext | None = getattr(_local, "context", None)
    return None if context is None else context.index


def worker_rng() -> np.random.Generator:
    """The random generator of the executor worker running the current task.

    Worker ``k`` of an executor built with ``seed=s`` is seeded from the ``k``-th child of
    ``np.random.SeedSequence(s)`` (``SeedSequence.spawn``), so its stream is the same in
    every run and independent of every other worker's.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    RuntimeError
        When called outside a function run by :class:`ParallelExecutor`.

    Examples
    --------
    >>> from diffid_plugins.parallel import ParallelExecutor, worker_rng
    >>> def noisy(x):
    ...     return x + worker_rng().normal()
    >>> ex = ParallelExecutor(num_threads=1, backend="thread", seed=0,
    ...                       disable_progress_bar=True)
    >>> len(ex.execute(noisy, [1.0, 2.0]))
    2
    """
    context: _WorkerContext | None = getattr(_local, "context", None)
    if context is None:
        raise RuntimeError(
            "`worker_rng()` was called outside a function run by ParallelExecutor. Call it "
            "inside the function you pass to `execute` or `map_batch`, or use "
            "`np.random.default_rng(seed)` directly."
        )
    return context.rng


def seed_streams(seed: np.random.SeedSequence, *, seed_globals: bool) -> np.random.Generator:
    """Return the worker's Generator; with ``seed_globals``, seed ``random``, ``np.random`` too."""
    py_seed, legacy_seed, generator_seed = seed.spawn(3)
    if seed_globals:
        random.seed(int.from_bytes(py_seed.generate_state(4, np.uint64).tobytes(), "little"))
        # The worker's own legacy global state, seeded on purpose (documented above).
        np.random.seed(legacy_seed.generate_state(4))  # noqa: NPY002
    return np.random.Generator(np.random.PCG64(generator_seed))


@contextmanager
def inline_worker(index: int, rng: np.random.Generator) -> Iterator[None]:
    """Make the calling thread act as worker ``index`` (the sequential path)."""
    previous = getattr(_local, "context", None)
    _local.context = _WorkerContext(index, rng)
    try:
        yield
    finally:
        _local.context = previous


def encode_task(attempt_id: int, item: object) -> bytes:
    """Serialise one task for a process worker: an 8-byte attempt id, then the pickled item."""
    return _HEADER.pack(attempt_id) + pickle.dumps(item, protocol=_PROTOCOL)


def decode_task(message: bytes) -> tuple[int, bytes]:
    """Split a task message into its attempt id and the pickled item."""
    (attempt_id,) = _HEADER.unpack_from(message)
    return attempt_id, message[_HEADER.size :]


def _watch_parent() -> None:
    """Exit this worker process as soon as its parent process is gone (no orphans)."""
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - always set for spawned children
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="diffid-parent-watch", daemon=True).start()


def _send_error(
    conn: multiprocessing.connection.Connection, attempt_id: int, exc: BaseException, tb: str
) -> None:
    """Report a failed task; the exception goes as bytes, or as text if it does not pickle."""
    try:
        exc_bytes: bytes | None = pickle.dumps(exc, protocol=_PROTOCOL)
    except Exception:
        exc_bytes = None
    conn.send(("err", attempt_id, exc_bytes, f"{type(exc).__qualname__}: {exc}", tb))


def process_worker_main(
    conn: multiprocessing.connection.Connection,
    function_bytes: bytes,
    seed: np.random.SeedSequence,
    index: int,
) -> None:
    """Entry point of a process worker: initialise once, then run tasks until told to stop.

    Messages to the parent: ``("ready", index, pid)``, ``("init_error", traceback)``,
    ``("ok", attempt_id, result_bytes)`` and
    ``("err", attempt_id, exception_bytes_or_None, summary, traceback)``. An empty task
    message, or the parent closing the pipe, ends the loop.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_parent()
    try:
        # The initializer: the callable reaches this worker once, here, not with every task.
        function: Callable[[Any], Any] = pickle.loads(function_bytes)
        _local.context = _WorkerContext(index, seed_streams(seed, seed_globals=True))
    except BaseException:
        conn.send(("init_error", traceback.format_exc()))
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the parent went away
        conn.send(("ready", index, os.getpid()))
        _serve(conn, function)


def _serve(conn: multiprocessing.connection.Connection, function: Callable[[Any], Any]) -> None:
    """The task loop of a process worker."""
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        attempt_id, item_bytes = decode_task(message)
        try:
            value = function(pickle.loads(item_bytes))
        except Exception as exc:
            _send_error(conn, attempt_id, exc, traceback.format_exc())
            continue
        try:
            payload = pickle.dumps(value, protocol=_PROTOCOL)
        except Exception as exc:
            error = ResultTypeError(
                f"the function returned a {type(value).__qualname__} that cannot be pickled, "
                f"so it cannot be sent back from the worker process ({exc}). Return plain "
                "data (numbers, arrays, tuples), or use backend='thread'."
            )
            _send_error(conn, attempt_id, error, traceback.format_exc())
            continue
        conn.send(("ok", attempt_id, payload))


def thread_worker_main(
    index: int,
    seed: np.random.SeedSequence,
    inbox: queue.SimpleQueue[tuple[int, Callable[[Any], Any], Any] | None],
    outbox: queue.SimpleQueue[tuple[Any, ...]],
) -> None:
    """Entry point of a thread worker; same protocol as the process worker, in memory.

    Messages: ``("ready", index)``, ``("ok", index, attempt_id, value)`` and
    ``("err", index, attempt_id, exception, traceback)``. ``None`` in the inbox ends the loop.
    """
    _local.context = _WorkerContext(index, seed_streams(seed, seed_globals=False))
    outbox.put(("ready", index))
    while True:
        task = inbox.get()
        if task is None:
            return
        attempt_id, function, item = task
        try:
            value = function(item)
        except BaseException as exc:  # a thread must report even SystemExit, or it hangs
            outbox.put(("err", index, attempt_id, exc, traceback.format_exc()))
            continue
        outbox.put(("ok", index, attempt_id, value))

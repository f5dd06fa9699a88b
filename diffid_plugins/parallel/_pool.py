"""Worker pools behind :class:`~diffid_plugins.parallel.ParallelExecutor`.

Both pools give the supervisor loop (``_supervisor.py``) one small interface: start workers up
to the pool size, list idle workers, send a task to one worker, poll for events (a worker is
ready, a task finished, a worker died), and get rid of one worker.

:class:`ProcessPool` is a set of ``spawn`` processes, each with its own duplex pipe.
``concurrent.futures.ProcessPoolExecutor`` is not used because it cannot stop one running task:
here the parent knows which worker runs which task, so a timed-out task is stopped by killing
exactly that worker (SIGKILL) and starting a replacement, and a worker that dies is noticed at
once through its process sentinel. One pipe per worker (rather than shared queues) means a
killed worker can never leave a shared lock held or a shared queue half written.

:class:`ThreadPool` runs tasks on daemon threads. A thread cannot be stopped, so "getting rid
of" a busy thread worker means abandoning it: it finishes its task in the background, its
result is ignored, and it then exits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from ._errors import RemoteTaskError, RemoteTraceback
from ._worker import encode_task, process_worker_main, thread_worker_main

__all__ = ["Event", "Pool", "PoolHolder", "ProcessPool", "ThreadPool", "WorkerHandle"]

logger = logging.getLogger(__name__)

#: Returns the index and the seed of the next worker an executor starts.
NextWorker = Callable[[], tuple[int, np.random.SeedSequence]]

_ENV_LOCK = threading.Lock()
_STOP_GRACE = 2.0  # seconds idle workers get to exit before they are killed


class WorkerHandle:
    """Parent-side view of one worker."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.ready = False  # initialised and waiting for tasks
        self.attempt: int | None = None  # id of the attempt it is running
        self.pid: int | None = None

    def __repr__(self) -> str:
        return f"<worker {self.index} pid={self.pid} attempt={self.attempt}>"


@dataclass(frozen=True, eq=False)
class Event:
    """Something a worker reported: ``ready``, ``done``, ``died`` or ``init_error``."""

    kind: str
    worker: WorkerHandle
    attempt: int = -1
    ok: bool = True
    value: Any = None
    error: BaseException | None = None
    traceback: str = ""
    exitcode: int | None = None


W = TypeVar("W", bound=WorkerHandle)


class Pool(ABC, Generic[W]):
    """Common part of the process and thread pools."""

    #: Whether :meth:`discard` really stops a running task.
    terminates: ClassVar[bool]

    def __init__(self, n_workers: int, next_worker: NextWorker) -> None:
        self.n_workers = n_workers
        self._next_worker = next_worker
        self.workers: list[W] = []

    def ensure_workers(self) -> None:
        """Start workers until the pool has ``n_workers`` (replacing discarded ones)."""
        while len(self.workers) < self.n_workers:
            self.workers.append(self._start(*self._next_worker()))

    def idle_workers(self) -> list[W]:
        """Workers that are initialised and not running a task, oldest first."""
        return [w for w in self.workers if w.ready and w.attempt is None]

    def _forget(self, worker: W) -> bool:
        """Remove ``worker`` from the pool; return whether it was still there."""
        for position, candidate in enumerate(self.workers):
            if candidate is worker:
                del self.workers[position]
                return True
        return False

    @abstractmethod
    def _start(self, index: int, seed: np.random.SeedSequence) -> W:
        """Start one worker."""

    @abstractmethod
    def submit(self, worker: W, attempt: int, item: Any, function: Callable[[Any], Any]) -> None:
        """Send one task to an idle worker; raise if ``item`` cannot be sent."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` seconds for events and return all that arrived."""

    @abstractmethod
    def discard(self, worker: W) -> None:
        """Stop (processes) or abandon (threads) one worker and drop it from the pool."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop every worker; the pool is empty afterwards."""


@contextmanager
def _worker_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` in this process while a child is started, so the child inherits it."""
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class _ProcessWorker(WorkerHandle):
    def __init__(self, index: int, process: BaseProcess, conn: Connection) -> None:
        super().__init__(index)
        self.process = process
        self.conn = conn


class ProcessPool(Pool[_ProcessWorker]):
    """Spawned worker processes that each hold the same unpickled function."""

    terminates = True

    def __init__(
        self,
        function_bytes: bytes,
        n_workers: int,
        next_worker: NextWorker,
        env: Mapping[str, str],
    ) -> None:
        super().__init__(n_workers, next_worker)
        self.function_bytes = function_bytes
        self._env = dict(env)
        self._ctx = multiprocessing.get_context("spawn")

    def _start(self, index: int, seed: np.random.SeedSequence) -> _ProcessWorker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=process_worker_main,
            args=(child_conn, self.function_bytes, seed, index),
            name=f"diffid-parallel-worker-{index}",
            daemon=True,
        )
        with _worker_environ(self._env):
            process.start()
        child_conn.close()
        return _ProcessWorker(index, process, parent_conn)

    def submit(
        self, worker: _ProcessWorker, attempt: int, item: Any, function: Callable[[Any], Any]
    ) -> None:
        message = encode_task(attempt, item)  # raises if the item does not pickle
        worker.attempt = attempt
        with contextlib.suppress(OSError):  # a dead worker is reported by its sentinel
            worker.conn.send_bytes(message)

    def poll(self, timeout: float) -> list[Event]:
        by_conn: dict[Any, _ProcessWorker] = {}
        by_sentinel: dict[Any, _ProcessWorker] = {}
        for worker in self.workers:
            by_conn[worker.conn] = worker
            by_sentinel[worker.process.sentinel] = worker
        ready = multiprocessing.connection.wait([*by_conn, *by_sentinel], timeout)
        events: list[Event] = []
        lost: dict[int, _ProcessWorker] = {}
        for obj in ready:
            if isinstance(obj, Connection):
                worker = by_conn[obj]
                if not self._drain(worker, events):
                    lost[worker.index] = worker
            else:
                worker = by_sentinel[obj]
                lost[worker.index] = worker
        for worker in lost.values():
            self._drain(worker, events)
            if self._forget(worker):
                exitcode = self._reap(worker)
                events.append(Event("died", worker, exitcode=exitcode))
        return events

    def _drain(self, worker: _ProcessWorker, events: list[Event]) -> bool:
        """Read every message waiting on the worker's pipe; False once the pipe is closed."""
        try:
            while worker.conn.poll():
                events.append(self._decode(worker, worker.conn.recv()))
        except (EOFError, OSError):
            return False
        return True

    @staticmethod
    def _decode(worker: _ProcessWorker, message: tuple[Any, ...]) -> Event:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            worker.pid = message[2]
            return Event("ready", worker)
        if kind == "init_error":
            return Event("init_error", worker, traceback=message[1])
        attempt = message[1]
        worker.attempt = None
        if kind == "ok":
            try:
                value = pickle.loads(message[2])
            except Exception as exc:
                error = RemoteTaskError(
                    f"the result could not be unpickled in the parent process "
                    f"({type(exc).__qualname__}: {exc})."
                )
                return Event("done", worker, attempt, ok=False, error=error)
            return Event("done", worker, attempt, value=value)
        _, _, exc_bytes, summary, tb = message
        remote: object = None
        if exc_bytes is not None:
            try:
                remote = pickle.loads(exc_bytes)
            except Exception:
                remote = None
        failure = remote if isinstance(remote, BaseException) else RemoteTaskError(summary)
        failure.__cause__ = RemoteTraceback(tb)
        return Event("done", worker, attempt, ok=False, error=failure, traceback=tb)

    @staticmethod
    def _reap(worker: _ProcessWorker) -> int | None:
        """Wait for a worker that has exited (or kill it) and release its resources."""
        worker.process.join(1.0)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
        return worker.process.exitcode

    def discard(self, worker: _ProcessWorker) -> None:
        self._forget(worker)
        if worker.process.is_alive():
            worker.process.kill()  # SIGKILL: a hung task may ignore or block SIGTERM
        worker.process.join(5.0)
        worker.conn.close()
        logger.debug("Killed worker %d (pid %s).", worker.index, worker.pid)

    def shutdown(self) -> None:
        workers, self.workers = list(self.workers), []
        for worker in workers:
            if worker.ready and worker.attempt is None:
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(b"")  # ask idle workers to exit
            elif worker.process.is_alive():
                worker.process.terminate()
        deadline = time.monotonic() + _STOP_GRACE
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()


class _ThreadWorker(WorkerHandle):
    def __init__(
        self,
        index: int,
        thread: threading.Thread,
        inbox: queue.SimpleQueue[tuple[int, Callable[[Any], Any], Any] | None],
    ) -> None:
        super().__init__(index)
        self.thread = thread
        self.inbox = inbox


class ThreadPool(Pool[_ThreadWorker]):
    """Daemon worker threads; the function is passed with each task (no pickling)."""

    terminates = False

    def __init__(self, n_workers: int, next_worker: NextWorker) -> None:
        super().__init__(n_workers, next_worker)
        self._outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._by_index: dict[int, _ThreadWorker] = {}

    def _start(self, index: int, seed: np.random.SeedSequence) -> _ThreadWorker:
        inbox: queue.SimpleQueue[tuple[int, Callable[[Any], Any], Any] | None]
        inbox = queue.SimpleQueue()
        thread = threading.Thread(
            target=thread_worker_main,
            args=(index, seed, inbox, self._outbox),
            name=f"diffid-parallel-worker-{index}",
            daemon=True,
        )
        worker = _ThreadWorker(index, thread, inbox)
        self._by_index[index] = worker
        worker.pid = os.getpid()
        thread.start()
        return worker

    def submit(
        self, worker: _ThreadWorker, attempt: int, item: Any, function: Callable[[Any], Any]
    ) -> None:
        worker.attempt = attempt
        worker.inbox.put((attempt, function, item))

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        try:
            message = self._outbox.get(timeout=timeout) if timeout > 0 else self._outbox.get(False)
        except queue.Empty:
            return events
        while True:
            event = self._decode(message)
            if event is not None:
                events.append(event)
            try:
                message = self._outbox.get(False)
            except queue.Empty:
                return events

    def _decode(self, message: tuple[Any, ...]) -> Event | None:
        worker = self._by_index.get(message[1])
        if worker is None:  # an abandoned thread finished; nobody waits for it
            return None
        if message[0] == "ready":
            worker.ready = True
            return Event("ready", worker)
        worker.attempt = None
        if message[0] == "ok":
            return Event("done", worker, message[2], value=message[3])
        return Event("done", worker, message[2], ok=False, error=message[3], traceback=message[4])

    def discard(self, worker: _ThreadWorker) -> None:
        self._forget(worker)
        self._by_index.pop(worker.index, None)
        worker.inbox.put(None)  # exit once the running task (if any) returns

    def shutdown(self) -> None:
        workers, self.workers = list(self.workers), []
        for worker in workers:
            self._by_index.pop(worker.index, None)
            worker.inbox.put(None)


class PoolHolder:
    """Holds an executor's live pool; the executor's finalizer calls :meth:`close`.

    The finalizer must not reference the executor, so the pool lives in this small box.
    """

    def __init__(self) -> None:
        self.pool: Pool[Any] | None = None

    def replace(self, pool: Pool[Any]) -> None:
        """Shut down the current pool, if any, and hold ``pool`` instead."""
        self.close()
        self.pool = pool

    def close(self) -> None:
        """Shut down the held pool (idempotent)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown()

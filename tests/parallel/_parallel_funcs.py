"""Functions run by the ParallelExecutor tests; importable by spawned worker processes.

Parameters travel inside the items, because a process worker receives the function once.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from diffid_plugins.parallel import worker_index, worker_rng


def square(x: float) -> float:
    """Return ``x * x``."""
    return x * x


def double_unless_negative(x: int) -> int:
    """Return ``2 * x``; raise ``ValueError`` for negative ``x``."""
    if x < 0:
        raise ValueError(f"negative item {x}")
    return 2 * x


def fail_on_three(x: int) -> int:
    """DSPy's test task: raise for item 3, else return the item."""
    if x == 3:
        raise ValueError("Intentional error")
    return x


def sleep_and_return(item: tuple[int, float]) -> int:
    """Sleep ``item[1]`` seconds, then return ``item[0]``."""
    index, seconds = item
    time.sleep(seconds)
    return index


def fail_fast_or_sleep(item: tuple[int, float, str]) -> int:
    """Item 0 raises once another item runs; the others record their pid and sleep."""
    index, seconds, folder = item
    if index == 0:
        deadline = time.monotonic() + 30
        while not list(Path(folder).glob("pid-*")) and time.monotonic() < deadline:
            time.sleep(0.01)  # wait until the other worker runs its long task
        raise RuntimeError("first item fails")
    Path(folder, f"pid-{os.getpid()}").write_text(str(os.getpid()))
    time.sleep(seconds)
    return index


def hang_on(item: tuple[int, int, str]) -> int:
    """Item ``item[1]`` records its pid in ``item[2]`` and hangs; the others are quick."""
    index, hung, folder = item
    if index == hung:
        Path(folder, f"hung-{os.getpid()}").write_text(str(os.getpid()))
        time.sleep(1000)
    time.sleep(0.01)
    return index


def slow_first_attempt(item: tuple[int, int, str, float]) -> tuple[str, int, int]:
    """The first attempt at item ``item[1]`` sleeps ``item[3]`` s; a duplicate is fast."""
    index, slow, folder, seconds = item
    if index == slow:
        try:
            with open(Path(folder, "first-attempt"), "x") as handle:
                handle.write(str(os.getpid()))
        except FileExistsError:
            return ("duplicate", index, os.getpid())
        time.sleep(seconds)
        return ("original", index, os.getpid())
    time.sleep(0.01)
    return ("normal", index, os.getpid())


def crash_on(item: tuple[int, int]) -> int:
    """Item ``item[1]`` kills its worker process with ``os._exit(3)``."""
    index, bad = item
    if index == bad:
        os._exit(3)
    time.sleep(0.01)
    return index


def record_pid_and_sleep(item: tuple[str, float]) -> int:
    """Write this worker's pid to folder ``item[0]`` and sleep ``item[1]`` seconds."""
    folder, seconds = item
    Path(folder, f"pid-{os.getpid()}").write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


_FIRST_DRAWS: tuple[Any, ...] | None = None


def first_draws(item: tuple[str, int]) -> tuple[Any, ...]:
    """This worker's first draws from each stream; blocks until ``item[1]`` workers joined.

    Each worker caches its first draws, registers itself in folder ``item[0]`` and waits
    until ``item[1]`` workers have registered, so every worker takes exactly one item.
    """
    global _FIRST_DRAWS
    if _FIRST_DRAWS is None:
        _FIRST_DRAWS = (
            worker_index(),
            random.random(),
            float(np.random.random()),  # noqa: NPY002 - the seeded legacy state is under test
            float(worker_rng().random()),
        )
    folder, n_workers = item
    Path(folder, f"worker-{worker_index()}").touch()
    deadline = time.monotonic() + 30
    while len(os.listdir(folder)) < n_workers and time.monotonic() < deadline:
        time.sleep(0.01)
    return _FIRST_DRAWS


def thread_draw(x: int) -> tuple[int | None, float]:
    """Worker index and one draw from the worker's generator (thread backend)."""
    return worker_index(), float(worker_rng().random())


def environment(_: object) -> dict[str, str | None]:
    """The thread-pinning variables as this worker sees them."""
    names = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MY_FLAG")
    return {name: os.environ.get(name) for name in names}


def busy_cost(x: np.ndarray) -> float:
    """Sum of squares of a parameter row (a scalar objective)."""
    return float(np.sum(x * x))


def odd_cost(x: np.ndarray) -> Any:
    """Costs for map_batch edge cases: raise, None, NaN, array, or a float."""
    kind = int(x[0])
    if kind == 0:
        raise ValueError("row fails")
    if kind == 1:
        return None
    if kind == 2:
        return float("nan")
    if kind == 3:
        return np.array([1.0, 2.0])
    return float(x[1])


class CountingCallable:
    """Adds one; every unpickling (one per worker start) appends a line to a log file."""

    def __init__(self, log: str) -> None:
        self.log = log

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with open(self.log, "a") as handle:
            handle.write(f"{os.getpid()}\n")

    def __call__(self, x: int) -> tuple[int, int]:
        return x + 1, os.getpid()


class BrokenOnLoad:
    """A callable that cannot be unpickled in a worker (its ``__setstate__`` raises)."""

    def __init__(self) -> None:
        self.loaded = False  # non-empty state, so unpickling calls __setstate__

    def __setstate__(self, state: dict[str, Any]) -> None:
        raise RuntimeError("cannot load me")

    def __call__(self, x: int) -> int:
        return x


class TwoArgError(Exception):
    """An exception whose ``__init__`` needs two arguments, so it does not unpickle."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}-{b}")


def raise_two_arg_error(x: int) -> int:
    """Raise an exception that cannot be rebuilt in the parent process."""
    raise TwoArgError("left", "right")


def return_unpicklable(x: int) -> Any:
    """Return something that cannot be pickled back (a lambda)."""
    return lambda: x


def dispatch(item: tuple[str, Any]) -> Any:
    """Call the helper named ``item[0]`` on ``item[1]``.

    Lets many tests share one process pool: the pool is kept while the pickled function is
    unchanged, and ``dispatch`` is always the same function.
    """
    name, argument = item
    return globals()[name](argument)


def run(executor: Any, name: str, data: list[Any]) -> Any:
    """``executor.execute`` of helper ``name`` over ``data`` through :func:`dispatch`."""
    return executor.execute(dispatch, [(name, x) for x in data])

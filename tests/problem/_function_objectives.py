"""Objectives and a stand-in problem for the FunctionProblem and DaskBackend tests.

They live in their own module so that spawned worker processes (ParallelExecutor workers,
Dask workers) can import them by name: workers inherit the parent's ``sys.path``, which
pytest has extended with this folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

#: Status the stand-in gives rows with a negative first parameter (a "failed solve").
STANDIN_FAILED = -3


def sphere(x: NDArray[np.float64]) -> float:
    """Sum of squares of ``x``: the closed-form scalar objective of the tests."""
    return float(np.sum(x * x))


def fails_when_negative(x: NDArray[np.float64]) -> float:
    """Sum of squares; raises ``ValueError`` when ``x[0] < 0``."""
    if x[0] < 0:
        raise ValueError(f"negative first parameter {x[0]}")
    return float(np.sum(x * x))


def hangs_when_large(x: NDArray[np.float64]) -> float:
    """Sum of squares; hangs (sleeps 1000 s) when ``x[0] > 100``."""
    if x[0] > 100:
        time.sleep(1000)
    return float(np.sum(x * x))


def crash_when_large(x: NDArray[np.float64]) -> float:
    """Sum of squares; kills its worker process (``os._exit(3)``) when ``x[0] > 100``."""
    if x[0] > 100:
        os._exit(3)
    return float(np.sum(x * x))


def pid_cost(x: NDArray[np.float64]) -> float:
    """The worker's process id, as a cost (shows which process evaluated a row)."""
    time.sleep(0.01)
    return float(os.getpid())


def odd_results(x: NDArray[np.float64]) -> object:
    """Unusable results by ``x[0]``: 0 -> None, 1 -> a string, 2 -> NaN, 3 -> an array."""
    return [None, "cost", float("nan"), np.ones(2)][int(x[0])]


def quadratic_predictions(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Predictions ``(20, 2)``: ``a t^2`` and ``b t`` at ``t = 0..19``; raises when a < 0."""
    a, b = float(x[0]), float(x[1])
    if a < 0:
        raise ValueError("negative amplitude")
    t = np.arange(20.0)
    return np.column_stack([a * t**2, b * t])


def scaled_square(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Predictions ``(20, 1)``: ``a t^2`` at ``t = 1..20`` (the closed-form cost tests)."""
    t = np.arange(1.0, 21.0)
    return (x[0] * t**2)[:, None]


_LV: dict[str, object] = {}


def lv_model() -> object:
    """The tutorial Lotka-Volterra model, compiled once per process (from the disk cache)."""
    if "model" not in _LV:
        from diffid_plugins import compile_model
        from diffid_plugins.examples import tutorial_text

        _LV["model"] = compile_model(tutorial_text())
    return _LV["model"]


def lv_predictions(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lotka-Volterra outputs ``(500, 2)`` at ``t = linspace(0, 100, 500)`` for ``x``."""
    from diffid_plugins import solve

    return solve(lv_model(), x, np.linspace(0.0, 100.0, 500)).y


def wrong_shape_predictions(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Predictions of the wrong shape ``(3, 1)``."""
    return np.zeros((3, 1))


def standin_cost(X: NDArray[np.float64]) -> NDArray[np.float64]:
    """Closed-form cost of the stand-in problem: ``sum((x - 1)^2) * exp(sin(x[0]))`` per row."""
    return np.sum((X - 1.0) ** 2, axis=1) * np.exp(np.sin(X[:, 0]))


class StandInProblem:
    """A tiny picklable problem with ``_evaluate_rows``, as the core ``Problem`` provides.

    Rows with ``x[0] < 0`` fail: cost ``inf``, status :data:`STANDIN_FAILED`. Each call
    sleeps ``delay`` seconds (so a batch is still running when a test kills a worker) and
    appends ``"<pid> <n_threads> <n_rows>"`` to ``log`` if given. If ``die_once`` names a
    file that does not exist yet, the first call to see that creates it and kills its own
    process with ``os._exit(1)``, as a crashing or OOM-killed worker would.
    """

    def __init__(
        self, delay: float = 0.0, log: str | None = None, die_once: str | None = None
    ) -> None:
        self.delay = delay
        self.log = log
        self.die_once = die_once

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if self.log is not None:  # one line per unpickling: "load <pid>"
            with open(self.log, "a") as handle:
                handle.write(f"load {os.getpid()}\n")

    def _evaluate_rows(
        self, X: NDArray[np.float64], n_threads: int
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        if self.die_once is not None:
            try:
                with open(self.die_once, "x") as handle:
                    handle.write(str(os.getpid()))
            except FileExistsError:
                pass
            else:
                os._exit(1)
        if self.log is not None:
            with open(self.log, "a") as handle:
                handle.write(f"{os.getpid()} {n_threads} {len(X)}\n")
        time.sleep(self.delay)
        costs = standin_cost(X)
        statuses = np.zeros(len(X), dtype=np.int64)
        bad = X[:, 0] < 0
        costs[bad] = np.inf
        statuses[bad] = STANDIN_FAILED
        return costs, statuses


def log_lines(log: str | Path) -> list[list[int]]:
    """The stand-in's block log as ``[pid, n_threads, n_rows]`` rows (loads left out)."""
    path = Path(log)
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [[int(v) for v in line.split()] for line in lines if not line.startswith("load")]


def load_count(log: str | Path) -> int:
    """How many times the stand-in was unpickled (in any process)."""
    path = Path(log)
    return path.read_text().count("load ") if path.exists() else 0

"""Benchmark the batch backends: processes for Python objectives, Dask for the ODE problem.

One table, two parts, every ratio measured back to back in this run:

1. A 20 ms Python objective through ``FunctionProblem(backend="process", n_workers=2)``
   against a sequential loop over the same rows, in two variants, labelled:

   - ``sleep``: ``time.sleep(0.02)``. It needs no CPU, so 2 workers give ~2x whatever else
     runs on the machine: this isolates the executor's own overhead.
   - ``busy``: a pure-Python loop calibrated to 20 ms. It needs a whole core per worker, so on
     a 2-core machine shared with other work 2 workers cannot reach 2x: the CPU share column
     (CPU seconds of this process and its workers per wall second, from ``/proc``) shows how
     many cores the variant actually got.

2. The Lotka-Volterra tutorial problem (500 points on [0, 100], SSE, data from scipy RK45 at
   default settings plus N(0, 0.3) noise with ``np.random.seed(42)``): rows per second of
   ``Problem.evaluate_batch`` on local numba threads (1 and 2) and on a
   ``distributed.LocalCluster`` of 2 worker processes with 1 thread each (``DaskBackend``),
   for a population of ``--rows`` rows drawn around the true parameters. Without Dask or the
   core ``Problem`` that part is skipped with a note.

Medians over ``--repeats`` repeats; the spread is min-max. Speed-ups are medians of the
per-repeat ratios. Run it from the repository root::

    python benchmarks/backends.py [--items 40] [--repeats 5] [--rows 4000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parallel_executor import _cpu_seconds, busy_objective, calibrate  # noqa: E402

from diffid_plugins.problem._function import FunctionProblem  # noqa: E402

__all__ = ["Row", "main", "python_objective_rows", "sleep_objective"]


def sleep_objective(x: np.ndarray) -> float:
    """A 20 ms objective that sleeps (no CPU): ``sum(x)`` after ``time.sleep(0.02)``."""
    time.sleep(0.02)
    return float(np.sum(x))


class BusyObjective:
    """A CPU-bound objective: :func:`busy_objective` with a calibrated iteration count."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations

    def __call__(self, x: np.ndarray) -> float:
        return busy_objective(x, self.iterations)


def _measure(call: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds of ``call`` and the CPU share it got (CPU seconds per wall second)."""
    cpu = _cpu_seconds()
    start = time.perf_counter()
    call()
    wall = time.perf_counter() - start
    return wall, (_cpu_seconds() - cpu) / wall


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    part: str
    name: str
    seconds: list[float]
    shares: list[float]
    speedups: list[float]
    per_item: float  # median ms per item (part 1) or rows/s (part 2)
    unit: str
    n_items: int

    @property
    def cpu_ms_per_item(self) -> float:
        """Median CPU milliseconds per item: the work plus each backend's own overhead."""
        return statistics.median(
            1e3 * wall * share / self.n_items
            for wall, share in zip(self.seconds, self.shares, strict=True)
        )


def python_objective_rows(n_items: int, repeats: int, workers: int) -> list[Row]:
    """Part 1: sleep- and CPU-bound 20 ms objectives, process backend vs a loop."""
    X = np.random.default_rng(0).uniform(size=(n_items, 4))
    rows: list[Row] = []
    objectives: dict[str, Callable[[np.ndarray], float]] = {
        "sleep": sleep_objective,
        "busy": BusyObjective(calibrate(20.0)),
    }
    for kind, objective in objectives.items():
        expected = np.array([objective(x) for x in X])
        with FunctionProblem(objective, ["a", "b", "c", "d"], n_workers=workers) as problem:
            problem.evaluate_batch(X[:workers])  # start the workers
            loop, pool = [], []
            for _ in range(repeats):
                loop.append(_measure(lambda f=objective: [f(x) for x in X]))  # type: ignore[misc]
                pool.append(_measure(lambda: problem.evaluate_batch(X)))
            if not np.array_equal(problem.evaluate_batch(X), expected):
                raise RuntimeError(f"{kind}: the process backend returned different costs")
        loop_s = [w for w, _ in loop]
        label = f"20 ms {kind} objective"
        for name, runs in (
            (f"{label}, sequential loop", loop),
            (f"{label}, {workers} procs", pool),
        ):
            seconds = [w for w, _ in runs]
            rows.append(
                Row(
                    "python",
                    name,
                    seconds,
                    [s for _, s in runs],
                    [a / b for a, b in zip(loop_s, seconds, strict=True)],
                    1e3 * statistics.median(seconds) / n_items,
                    "ms/item",
                    n_items,
                )
            )
    return rows


def tutorial_problem() -> Any:
    """The Lotka-Volterra tutorial problem (SSE) from ``diffid_plugins.examples``."""
    from diffid_plugins import compile_model
    from diffid_plugins.examples import tutorial_data, tutorial_text
    from diffid_plugins.problem import Problem

    return Problem(compile_model(tutorial_text()), tutorial_data())


def dask_rows(n_rows: int, repeats: int) -> tuple[list[Row], str]:
    """Part 2: rows/s on local threads vs a 2-process Dask LocalCluster."""
    try:
        import distributed

        problem = tutorial_problem()
    except ImportError as exc:
        return [], f"part 2 skipped: {exc}"
    from diffid_plugins.examples import TUTORIAL_TRUE
    from diffid_plugins.problem._dask import DaskBackend

    X = TUTORIAL_TRUE * np.random.default_rng(1).uniform(0.8, 1.2, size=(n_rows, 4))
    reference = problem.evaluate_batch(X, n_threads=1)
    runs: dict[str, list[tuple[float, float]]] = {"1": [], "2": [], "dask": []}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        backend = DaskBackend(client, timeout=600)
        if not np.array_equal(problem.evaluate_batch(X, backend=backend), reference):
            raise RuntimeError("Dask returned different costs than local threads")
        for _ in range(repeats):
            runs["1"].append(_measure(lambda: problem.evaluate_batch(X, n_threads=1)))
            runs["2"].append(_measure(lambda: problem.evaluate_batch(X, n_threads=2)))
            runs["dask"].append(_measure(lambda: problem.evaluate_batch(X, backend=backend)))
    one = [w for w, _ in runs["1"]]
    names = {
        "1": "LV tutorial, local numba, 1 thread",
        "2": "LV tutorial, local numba, 2 threads",
        "dask": "LV tutorial, Dask 2 procs x 1 thread",
    }
    rows = []
    for key, name in names.items():
        seconds = [w for w, _ in runs[key]]
        rows.append(
            Row(
                "ode",
                name,
                seconds,
                [s for _, s in runs[key]],
                [a / b for a, b in zip(one, seconds, strict=True)],
                n_rows / statistics.median(seconds),
                "rows/s",
                n_rows,
            )
        )
    n_failed = int(np.isinf(reference).sum())
    return rows, f"{n_rows} rows around the truth (+-20 %), {n_failed} failed rows (inf)"


def main() -> None:
    """Parse the command line, run both parts and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=40, help="rows of the 20 ms objective")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=4000, help="rows of the ODE population")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    rows = python_objective_rows(args.items, args.repeats, args.workers)
    ode_rows, note = dask_rows(args.rows, args.repeats)
    load_after = os.getloadavg()[0]

    print(
        f"{os.cpu_count()} cores, {args.repeats} repeats; python part: {args.items} items; "
        f"ODE part: {note}"
    )
    print(
        f"{'variant':<40} {'median s':>9} {'min-max s':>15} {'per item':>14} "
        f"{'CPU ms/item':>11} {'CPU share':>9} {'speedup':>8} {'min-max':>11}"
    )
    for row in rows + ode_rows:
        rate = (
            f"{row.per_item:8.2f} {row.unit}"
            if row.unit == "ms/item"
            else (f"{row.per_item:7.0f} {row.unit}")
        )
        print(
            f"{row.name:<40} {statistics.median(row.seconds):9.3f} "
            f"{min(row.seconds):7.3f}-{max(row.seconds):<7.3f} {rate:>14} "
            f"{row.cpu_ms_per_item:11.3f} {statistics.median(row.shares):9.2f} "
            f"{statistics.median(row.speedups):7.2f}x "
            f"{min(row.speedups):5.2f}-{max(row.speedups):<5.2f}"
        )
    print("speed-up: against the sequential loop (python) or 1 local thread (ODE), per repeat")
    print(
        "CPU ms/item: CPU time of this process and its worker processes per item; for the "
        "sleep rows it is the executor's own per-task cost"
    )
    print(f"1-minute load average: {load_before:.2f} before, {load_after:.2f} after")
    if max(load_before, load_after) > 0.5:
        print(
            "note: the machine was busy; CPU-bound rows cannot use more cores than the CPU "
            "share column shows, the sleep-bound row is unaffected."
        )


if __name__ == "__main__":
    main()

"""ParallelExecutor workers: the callable sent once, per-worker seeds, environment, map_batch."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _parallel_funcs as funcs
import numpy as np
import pytest

from diffid_plugins.parallel import (
    CANCELLED_MESSAGE,
    WORKER_ENV,
    ExecutionCancelledError,
    ParallelExecutor,
    worker_index,
    worker_rng,
)


def read_loads(log: Path, count: int) -> list[str]:
    """Lines of the load log once it has ``count`` of them (workers load in the background)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = log.read_text().split() if log.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"only {lines} loaded")


def test_callable_reaches_each_worker_once(tmp_path: Path) -> None:
    log = tmp_path / "loads.txt"
    function = funcs.CountingCallable(str(log))
    with ParallelExecutor(num_threads=2, disable_progress_bar=True) as executor:
        first = executor.execute(function, list(range(20)))
        second = executor.execute(function, list(range(5)))
        assert [value for value, _ in first + second] == list(range(1, 21)) + list(range(1, 6))
        loads = read_loads(log, 2)
        time.sleep(0.2)
        assert log.read_text().split() == loads
        # One unpickling per worker process (not per task), and the pool is reused.
        assert len(loads) == 2 and len(set(loads)) == 2
        assert {str(pid) for _, pid in first + second} <= set(loads)
        # A changed function (different pickle) gets a fresh pool.
        other = funcs.CountingCallable(str(tmp_path / "other.txt"))
        executor.execute(other, [1, 2, 3])
        assert len(set(read_loads(tmp_path / "other.txt", 2)) - set(loads)) == 2


def run_first_draws(folder: Path, seed: int | None) -> dict[int, tuple[Any, ...]]:
    folder.mkdir()
    with ParallelExecutor(num_threads=2, seed=seed, disable_progress_bar=True) as executor:
        draws = executor.execute(funcs.first_draws, [(str(folder), 2)] * 2)
    return {d[0]: d[1:] for d in draws}


def test_per_worker_seeds_differ_and_are_reproducible(tmp_path: Path) -> None:
    first = run_first_draws(tmp_path / "a", seed=1234)
    again = run_first_draws(tmp_path / "b", seed=1234)
    assert sorted(first) == [0, 1]  # both workers took one item each
    assert first == again  # same seed: same per-worker streams
    assert first[0] != first[1]  # workers draw different numbers from every stream
    assert all(a != b for a, b in zip(first[0], first[1], strict=True))
    # Worker k's generator is seeded from the k-th child of SeedSequence(seed), so another
    # seed gives other streams.
    for k in (0, 1):
        child = np.random.SeedSequence(1234).spawn(2)[k]
        assert first[k][2] == np.random.Generator(np.random.PCG64(child.spawn(3)[2])).random()


def test_thread_workers_seed_their_own_generators_only() -> None:
    state = random.getstate()
    legacy = np.random.get_state()[1].copy()  # noqa: NPY002 - checking it is untouched
    runs = []
    for _ in range(2):
        executor = ParallelExecutor(
            num_threads=1, backend="thread", seed=7, disable_progress_bar=True
        )
        runs.append(executor.execute(funcs.thread_draw, [0, 1, 2]))
    assert runs[0] == runs[1]
    assert [index for index, _ in runs[0]] == [0, 0, 0]
    assert random.getstate() == state
    assert np.array_equal(np.random.get_state()[1], legacy)  # noqa: NPY002


def test_worker_helpers_outside_a_worker() -> None:
    assert worker_index() is None
    with pytest.raises(RuntimeError, match="outside a function run by ParallelExecutor"):
        worker_rng()


def test_workers_are_pinned_to_one_thread() -> None:
    with ParallelExecutor(
        num_threads=2, disable_progress_bar=True, worker_env={"MY_FLAG": "on"}
    ) as executor:
        seen = executor.execute(funcs.environment, [0, 1])
    for env in seen:
        assert env["NUMBA_NUM_THREADS"] == WORKER_ENV["NUMBA_NUM_THREADS"] == "1"
        assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
        assert env["MY_FLAG"] == "on"


@pytest.fixture(scope="module")
def batch_executor() -> Iterator[ParallelExecutor]:
    with ParallelExecutor(num_threads=2, max_errors=1, disable_progress_bar=True) as executor:
        yield executor


@pytest.mark.parametrize("backend", ["process", "thread"])
def test_map_batch_values_and_failures(backend: str, batch_executor: ParallelExecutor) -> None:
    X = np.array([[0.0, 1.0], [4.0, 2.5], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [5.0, -1.5]])
    executor = batch_executor
    if backend == "thread":
        executor = ParallelExecutor(
            num_threads=2, backend="thread", max_errors=1, disable_progress_bar=True
        )
    costs = executor.map_batch(funcs.odd_cost, X)
    assert costs.dtype == np.float64 and costs.shape == (6,)
    # Row kinds (first column): 0 raises, 1 returns None, 2 NaN, 3 an array, else x[1].
    assert costs[1] == 2.5 and costs[5] == -1.5
    assert math.isnan(costs[3])  # NaN is a value, not a failure
    assert np.isposinf(costs[[0, 2, 4]]).all()
    assert executor.failed_indices == [0, 2, 4]  # and max_errors=1 did not cancel
    assert isinstance(executor.exceptions_map[0], ValueError)
    assert "row 2 returned None" in str(executor.exceptions_map[2])
    assert "needs a real scalar" in str(executor.exceptions_map[4])


def test_map_batch_matches_a_loop(batch_executor: ParallelExecutor) -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(4, 9, size=30), rng.normal(size=30)])
    costs = batch_executor.map_batch(funcs.odd_cost, X)
    assert np.array_equal(costs, [funcs.odd_cost(x) for x in X])
    assert batch_executor.failed_indices == []
    assert batch_executor.map_batch(funcs.odd_cost, np.empty((0, 2))).shape == (0,)


@pytest.mark.parametrize(
    ("X", "pattern"),
    [
        (np.zeros(3), r"`X` has shape \(3,\), but it must be 2-dimensional"),
        (np.zeros((2, 2, 2)), r"`X` has shape \(2, 2, 2\)"),
        ([[1.0, 2.0], [3.0]], r"`X` must be a 2-dimensional array of numbers"),
    ],
)
def test_map_batch_rejects_bad_shapes(X: Any, pattern: str) -> None:
    executor = ParallelExecutor(num_threads=1, backend="thread", disable_progress_bar=True)
    with pytest.raises(ValueError, match=pattern):
        executor.map_batch(funcs.busy_cost, X)


def test_parallel_never_imports_the_ode_stack() -> None:
    # architecture.md: `parallel` works on any callable and never imports the ODE stack.
    import ast
    import sys

    import diffid_plugins.parallel as package

    allowed_third_party = {"numpy", "tqdm"}
    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside diffid_plugins.parallel
                    assert node.level == 1, f"{path.name} imports outside the package"
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert (
                    top in sys.stdlib_module_names
                    or top in allowed_third_party
                    or name == "diffid_plugins.errors"
                ), f"{path.name} imports {name}"


def test_map_batch_max_errors_cancels(batch_executor: ParallelExecutor) -> None:
    # Rows with kind 0 raise (_parallel_funcs.odd_cost); two failures reach max_errors=2.
    X = np.array([[4.0, 1.0], [0.0, 0.0], [4.0, 2.0], [0.0, 0.0], [4.0, 3.0]])
    with pytest.raises(ExecutionCancelledError, match=CANCELLED_MESSAGE):
        batch_executor.map_batch(funcs.odd_cost, X, max_errors=2)
    assert batch_executor.failed_indices == [1, 3]
    assert batch_executor.map_batch(funcs.odd_cost, X[:2], max_errors=2).tolist() == [1.0, np.inf]
    with pytest.raises(ValueError, match="`max_errors` must be an integer >= 0"):
        batch_executor.map_batch(funcs.odd_cost, X, max_errors=-1)

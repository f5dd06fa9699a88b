"""DaskBackend on a real ``distributed.LocalCluster`` (2 worker processes, 1 thread each).

Expected values come from evaluating the same rows locally, in this process, with the same
``_evaluate_rows``: first on :class:`StandInProblem` (closed-form cost
``sum((x - 1)^2) * exp(sin(x0))``), then on the real ``Problem`` for the Lotka-Volterra
example when the core is available. Every call has a timeout so no test can hang.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _function_objectives as objectives
import numpy as np
import pytest

from diffid_plugins.problem._dask import DaskBackend

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="dask[distributed] not installed"
)

CALL_TIMEOUT = 60.0  # seconds; generous for a loaded 2-core machine, far below a hang


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One 2-process LocalCluster for the module (startup about 1 s here)."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, timeout="30s") as client,
    ):
        yield client


def rows(n: int, seed: int, d: int = 3) -> np.ndarray:
    """``n`` rows uniform on [-0.5, 2]^d; about a fifth have x0 < 0 and fail."""
    return np.random.default_rng(seed).uniform(-0.5, 2.0, size=(n, d))


def test_standin_results_equal_local(client: Any, tmp_path: Path) -> None:
    log = str(tmp_path / "blocks.log")
    problem = objectives.StandInProblem(log=log)
    X = rows(103, seed=1)
    expected_costs, expected_status = problem._evaluate_rows(X, 1)  # local reference
    Path(log).unlink()
    backend = DaskBackend(client, block_size=10, timeout=CALL_TIMEOUT)
    costs, statuses = backend.map_blocks(problem, X)
    assert costs.dtype == np.float64 and statuses.dtype == np.int64
    np.testing.assert_array_equal(costs, expected_costs)
    np.testing.assert_array_equal(statuses, expected_status)
    assert np.isinf(costs[X[:, 0] < 0]).all()
    assert (statuses[X[:, 0] < 0] == objectives.STANDIN_FAILED).all()
    blocks = objectives.log_lines(log)
    assert sorted(n for _, _, n in blocks) == [3] + [10] * 10  # ceil(103 / 10) blocks
    assert {threads for _, threads, _ in blocks} == {1}  # the worker's nthreads
    assert len({pid for pid, _, _ in blocks}) == 2  # both workers took part


def test_default_blocks_and_pinned_threads(client: Any, tmp_path: Path) -> None:
    log = str(tmp_path / "blocks.log")
    problem = objectives.StandInProblem(log=log)
    X = rows(40, seed=2)
    costs, _ = DaskBackend(client, timeout=CALL_TIMEOUT).map_blocks(problem, X)
    np.testing.assert_array_equal(costs, problem._evaluate_rows(X, 1)[0])
    assert [n for _, _, n in objectives.log_lines(log)].count(10) == 4  # 2 blocks x 2 workers
    Path(log).unlink()
    DaskBackend(client, threads_per_worker=3, timeout=CALL_TIMEOUT).map_blocks(problem, X)
    assert {threads for _, threads, _ in objectives.log_lines(log)} == {3}


def test_problem_is_unpickled_once_per_worker(client: Any, tmp_path: Path) -> None:
    # Workers cache the unpickled problem by the hash of its pickle: three calls with 8
    # blocks each unpickle it at most once per worker (an ODE Problem reloads its compiled
    # model when unpickled, so this is what keeps repeated generations cheap).
    log = str(tmp_path / "blocks.log")
    problem = objectives.StandInProblem(log=log)
    backend = DaskBackend(client, block_size=5, timeout=CALL_TIMEOUT)
    for seed in range(3):
        backend.map_blocks(problem, rows(40, seed=seed))
    assert 1 <= objectives.load_count(log) <= 2
    assert len(objectives.log_lines(log)) == 24


def test_empty_batch_and_bad_input(client: Any) -> None:
    backend = DaskBackend(client, timeout=CALL_TIMEOUT)
    costs, statuses = backend.map_blocks(objectives.StandInProblem(), np.empty((0, 3)))
    assert costs.shape == statuses.shape == (0,)
    with pytest.raises(ValueError, match="2-dimensional"):
        backend.map_blocks(objectives.StandInProblem(), np.ones(3))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"block_size": 0}, "`block_size` must be a positive integer"),
        ({"threads_per_worker": 1.5}, "`threads_per_worker` must be a positive integer"),
        ({"retries": -1}, "`retries` must be an integer >= 0"),
        ({"timeout": 0}, "`timeout` must be a positive number"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        DaskBackend(**kwargs)


def test_no_client_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import distributed

    def no_client() -> None:
        raise ValueError("No clients found")  # what distributed says when there is none

    monkeypatch.setattr(distributed, "get_client", no_client)
    with pytest.raises(ValueError, match="found no Dask client"):
        DaskBackend().map_blocks(objectives.StandInProblem(), np.ones((2, 3)))


def test_timeout_raises_instead_of_hanging(client: Any) -> None:
    slow = objectives.StandInProblem(delay=1.0)  # each block sleeps 1 s
    backend = DaskBackend(client, block_size=1, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish within timeout=0.3 s"):
        backend.map_blocks(slow, rows(6, seed=6))
    assert time.monotonic() - start < 5
    time.sleep(1.0)  # let the running blocks end before the next test uses the workers


def test_exception_in_a_block_propagates(client: Any) -> None:
    with pytest.raises(AttributeError):
        DaskBackend(client, timeout=CALL_TIMEOUT).map_blocks(object(), np.ones((4, 3)))  # type: ignore[arg-type]


@pytest.mark.parametrize("allowed_failures", [3, 0])
def test_worker_killed_mid_batch_loses_no_rows(
    client: Any, tmp_path: Path, allowed_failures: int, caplog: pytest.LogCaptureFixture
) -> None:
    # The first block evaluation kills its worker process (os._exit). With Dask's default
    # allowed-failures (3) the scheduler reschedules the block itself; with 0 it gives up on
    # it (KilledWorker) and DaskBackend resubmits it. Either way every row comes back equal
    # to the local evaluation.
    scheduler = client.cluster.scheduler
    previous = scheduler.allowed_failures
    scheduler.allowed_failures = allowed_failures
    marker = tmp_path / "died"
    problem = objectives.StandInProblem(delay=0.05, die_once=str(marker))
    X = rows(60, seed=3)
    try:
        costs, statuses = DaskBackend(client, block_size=5, timeout=CALL_TIMEOUT).map_blocks(
            problem, X
        )
    finally:
        scheduler.allowed_failures = previous
    assert marker.exists()  # a worker really died
    resubmitted = "resubmitting" in caplog.text
    assert resubmitted == (allowed_failures == 0)  # who recovered the block
    local = objectives.StandInProblem()
    expected_costs, expected_status = local._evaluate_rows(X, 1)
    np.testing.assert_array_equal(costs, expected_costs)
    np.testing.assert_array_equal(statuses, expected_status)
    client.wait_for_workers(2, timeout=30)  # the nanny restarts the dead worker


def test_lost_block_beyond_retries_raises(client: Any, tmp_path: Path) -> None:
    scheduler = client.cluster.scheduler
    previous = scheduler.allowed_failures
    scheduler.allowed_failures = 0
    problem = objectives.StandInProblem(die_once=str(tmp_path / "died"))
    try:
        with pytest.raises(RuntimeError, match="lost 1 times.*KilledWorker|lost 1 times"):
            DaskBackend(client, block_size=100, retries=0, timeout=CALL_TIMEOUT).map_blocks(
                problem, rows(10, seed=4)
            )
    finally:
        scheduler.allowed_failures = previous
    client.wait_for_workers(2, timeout=30)


def test_function_problem_on_dask_equals_local(client: Any) -> None:
    from diffid_plugins.problem._function import FunctionProblem

    X = rows(30, seed=5)
    X[3, 0] = np.nan  # never sent: NONFINITE_PARAMS
    local = FunctionProblem(objectives.fails_when_negative, ["a", "b", "c"], backend="thread")
    remote = FunctionProblem(
        objectives.fails_when_negative,
        ["a", "b", "c"],
        backend=DaskBackend(client, block_size=7, timeout=CALL_TIMEOUT),
    )
    expected = local.evaluate_batch(X)
    np.testing.assert_array_equal(remote.evaluate_batch(X), expected)
    np.testing.assert_array_equal(remote.last_statuses, local.last_statuses)
    assert remote.failed_indices == local.failed_indices
    assert "failed on a remote worker: RAISED" in str(
        remote.exceptions_map[local.failed_indices[-1]]
    )
    assert remote.stats == local.stats


@pytest.fixture(scope="module")
def lv_problem(lv_model: Any, lv_data: np.ndarray) -> Any:
    """The Lotka-Volterra tutorial problem (conftest: 500 points on [0, 100], noise 0.3)."""
    from diffid_plugins.problem import Problem

    return Problem(lv_model, lv_data)


def test_real_problem_on_dask_equals_local_bit_for_bit(client: Any, lv_problem: Any) -> None:
    # Rows from the box [0.5, 2] x [0.1, 1] x [0.01, 0.5] x [0.1, 1], plus four that
    # fail: they must come back from the workers with the same cost (inf) and status.
    from diffid_plugins.examples import TUTORIAL_BOX

    X = np.random.default_rng(7).uniform(*TUTORIAL_BOX.T, size=(64, 4))
    # Rows that fail locally with NONFINITE, NONFINITE_PARAMS, MAX_STEPS, NONFINITE_COST.
    X[[5, 20, 33, 60]] = [[50, 0, 0.5, 0.01], [np.nan, 1, 1, 1], [1e3] * 4, [5, 0, 0, 5]]
    local_costs, local_status = lv_problem.evaluate_batch(X, n_threads=1, return_status=True)
    # Each worker loads the compiled model when it unpickles the problem: from numba's disk
    # cache normally (well under a second), but a cold compile on a loaded machine can take
    # tens of seconds, hence the longer guard.
    backend = DaskBackend(client, block_size=16, timeout=5 * CALL_TIMEOUT)
    costs, statuses = lv_problem.evaluate_batch(X, backend=backend, return_status=True)
    np.testing.assert_array_equal(costs, local_costs)
    np.testing.assert_array_equal(statuses, local_status)
    assert np.isinf(costs[[5, 20, 33, 60]]).all() and (statuses[[5, 20, 33, 60]] < 0).all()

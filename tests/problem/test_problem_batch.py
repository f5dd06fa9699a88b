"""Batch evaluation: bit-identical to a loop, any thread count; failures; stats; backends;
pickling.

Reference numbers: the batch results are compared with our own single-point ``evaluate``
(bit for bit) and with each other across thread counts; no external numbers are used.
Failing parameter sets were found by running the tutorial model: b < 0 makes the prey
explode (``STEP_TOO_SMALL``), b = 0 with a = 5 overflows (``NONFINITE``).
"""

from __future__ import annotations

import pickle
import threading

import numba
import numpy as np
import pytest

from diffid_plugins import Problem, compile_model
from diffid_plugins.examples import TUTORIAL_BOX, TUTORIAL_TRUE, tutorial_text
from diffid_plugins.problem import GaussianNLL, ProblemError, status_message, status_name

FAILING = np.array([[1.1, -0.4, 0.1, 0.4], [5.0, 0.0, 0.1, 0.4]])


def _rows(n: int, seed: int = 1, fail_every: int = 0) -> np.ndarray:
    """Rows within +-20 % of the true parameters; every `fail_every`-th row fails."""
    rng = np.random.default_rng(seed)
    X = TUTORIAL_TRUE * rng.uniform(0.8, 1.2, (n, 4))
    if fail_every:
        X[::fail_every] = FAILING[np.arange(len(X[::fail_every])) % 2]
    return X


def test_batch_equals_loop_bit_for_bit(lv_model, lv_data) -> None:
    """evaluate_batch == [evaluate(x) for x in X] exactly, on 1 and 2 threads (failures too)."""
    problem = Problem(lv_model, lv_data)
    X = _rows(64, fail_every=7)
    loop = np.array([problem.evaluate(x) for x in X])
    for n_threads in (1, 2):
        batch = problem.evaluate_batch(X, n_threads=n_threads)
        assert batch.tobytes() == loop.tobytes(), n_threads
    # chunking changes with the batch size; a row's result must not
    assert problem.evaluate_batch(X[5:9], n_threads=2).tobytes() == loop[5:9].tobytes()
    assert np.isinf(loop[::7]).all() and np.isfinite(np.delete(loop, np.s_[::7])).all()


def test_thread_count_is_per_call(lv_model, lv_data) -> None:
    """n_threads changes neither this thread's numba setting nor another thread's."""
    problem = Problem(lv_model, lv_data)
    X = _rows(8)
    before = numba.get_num_threads()
    problem.evaluate_batch(X, n_threads=1)
    assert numba.get_num_threads() == before
    seen: list[int] = []

    def other() -> None:
        numba.set_num_threads(1)
        problem.evaluate_batch(X, n_threads=numba.config.NUMBA_NUM_THREADS)
        seen.append(numba.get_num_threads())

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen == [1] and numba.get_num_threads() == before


def test_small_batches_run_on_the_calling_thread(lv_model, lv_data) -> None:
    """Default threads: a batch estimated below 1 ms of single-thread work uses one thread
    (the estimate is the last single-thread time per row); an explicit n_threads is obeyed;
    a large batch uses the default count. The costs are the same whichever is used."""
    problem = Problem(lv_model, lv_data)
    default = numba.get_num_threads()
    small = problem.evaluate_batch(_rows(8))  # no timing yet: <= 16 rows count as small
    assert problem.last_threads == 1
    rows_per_ms = 1e-3 / problem._row_seconds
    assert problem.evaluate_batch(_rows(8), n_threads=default).tobytes() == small.tobytes()
    assert problem.last_threads == min(default, 8)
    n_large = int(4 * rows_per_ms) + 32  # ~4 ms of single-thread work
    problem.evaluate_batch(_rows(n_large))
    assert problem.last_threads == min(default, n_large)


def test_failed_solve_costs_inf_and_is_counted(lv_model, lv_data) -> None:
    problem = Problem(lv_model, lv_data)
    cost, status = problem.evaluate(FAILING[0], return_status=True)
    assert cost == np.inf and status_name(status) == "STEP_TOO_SMALL"
    assert "step size" in status_message(status)
    costs, statuses = problem.evaluate_batch(
        np.vstack([FAILING, [TUTORIAL_TRUE], [[np.nan, 0.4, 0.1, 0.4]]]), return_status=True
    )
    assert np.isinf(costs[[0, 1, 3]]).all() and np.isfinite(costs[2])
    assert [status_name(s) for s in statuses] == [
        "STEP_TOO_SMALL",
        "NONFINITE",
        "DONE",
        "NONFINITE_PARAMS",
    ]
    np.testing.assert_array_equal(problem.last_statuses, statuses)
    assert problem.stats.as_dict() == {
        "evaluations": 5,
        "n_failed": 4,
        "failures": {"STEP_TOO_SMALL": 2, "NONFINITE": 1, "NONFINITE_PARAMS": 1},
    }
    tight = Problem(lv_model, lv_data, max_steps=20)
    assert tight.evaluate(TUTORIAL_TRUE, return_status=True) == (np.inf, -1)
    assert tight.stats.failures == {"MAX_STEPS": 1}
    problem.reset_stats()
    assert problem.stats.evaluations == 0


def test_10000_rows_with_10_percent_failing(lv_model, lv_data) -> None:
    problem = Problem(lv_model, lv_data)
    X = _rows(10_000, seed=3, fail_every=10)
    costs, statuses = problem.evaluate_batch(X, n_threads=2, return_status=True)
    assert costs.shape == (10_000,) and costs.dtype == np.float64
    assert np.isinf(costs[::10]).all() and (statuses[::10] < 0).all()
    assert np.isfinite(np.delete(costs, np.s_[::10])).all()
    assert problem.stats.evaluations == 10_000 and problem.stats.n_failed == 1_000


def test_10000_box_draws_complete(lv_model, lv_data) -> None:
    """Uniform draws from the issue's box (it contains hard points like those of
    ../shared/data/lv_hard_points.csv) all complete; the time is in benchmarks/batch.py."""
    problem = Problem(lv_model, lv_data, bounds=[tuple(b) for b in TUTORIAL_BOX])
    rng = np.random.default_rng(2024)
    X = rng.uniform(TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1], (10_000, 4))
    costs, statuses = problem.evaluate_batch(X, n_threads=2, return_status=True)
    assert costs.shape == (10_000,)
    assert set(np.unique(statuses).tolist()) <= {0, -1, -2, -3}
    assert np.isfinite(costs[statuses == 0]).all()


def test_empty_batch(lv_model, lv_data) -> None:
    problem = Problem(lv_model, lv_data)
    assert problem.evaluate_batch(np.empty((0, 4))).shape == (0,)
    assert problem.stats.evaluations == 0


class _BlockBackend:
    """A stand-in for a remote backend: pickles the problem (as a worker receives it) and
    evaluates the rows in three blocks with ``_evaluate_rows``."""

    def __init__(self) -> None:
        self.calls = 0

    def map_blocks(self, problem: Problem, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        self.calls += 1
        remote = pickle.loads(pickle.dumps(problem))
        parts = [remote._evaluate_rows(block, 1) for block in np.array_split(X, 3)]
        assert remote.stats.evaluations == 0  # _evaluate_rows leaves stats alone
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_backend_hook(lv_model, lv_data) -> None:
    problem = Problem(lv_model, lv_data)
    X = _rows(20, fail_every=6)
    backend = _BlockBackend()
    costs = problem.evaluate_batch(X, backend=backend)
    assert backend.calls == 1
    assert costs.tobytes() == problem.evaluate_batch(X).tobytes()
    assert problem.stats.evaluations == 40 and problem.stats.n_failed == 8

    class Short:
        def map_blocks(self, problem, X):  # noqa: N803
            return np.zeros(len(X) - 1), np.zeros(len(X) - 1, dtype=np.int64)

    with pytest.raises(ProblemError, match=r"expected \(20,\) costs and statuses"):
        problem.evaluate_batch(X, backend=Short())
    assert problem.stats.evaluations == 40


def test_pickle_round_trip(lv_model, lv_data) -> None:
    """A pickled problem carries the model text, data, cost and settings; the copy
    recompiles from the on-disk cache and gives identical costs."""
    problem = Problem(
        lv_model,
        lv_data,
        cost=GaussianNLL(estimate_sigma="per_output", sigma=0.3),
        parameters=["a", "g"],
        bounds={"a": (0.5, 2.0)},
        rtol=1e-7,
        atol=[1e-9, 1e-9],
    )
    copy = pickle.loads(pickle.dumps(problem))
    assert copy.parameter_names == problem.parameter_names
    assert copy.bounds == problem.bounds and copy.rtol == 1e-7
    x = np.array([1.0, 0.45, 0.3, 0.35])
    assert copy.evaluate(x) == problem.evaluate(x)
    model = pickle.loads(pickle.dumps(lv_model))
    assert model.text == lv_model.text and model.read_dir is None
    assert model.input_names == lv_model.input_names


def test_model_text_matches_compiled_model(lv_model) -> None:
    assert compile_model(tutorial_text()).text == lv_model.text


def test_bound_model_problem_is_not_picklable(lv_data) -> None:
    from diffid_plugins.solvers import bind_model

    @numba.njit
    def rhs(t, y, p, dy):  # pragma: no cover - compiled lazily, never called here
        dy[0] = p[0] * y[0] - p[1] * y[0] * y[1]
        dy[1] = p[2] * y[0] * y[1] - p[3] * y[1]

    bound = bind_model(rhs, 2, u0=[10.0, 5.0], n_inputs=4, default_inputs=TUTORIAL_TRUE)
    problem = Problem(bound, lv_data)
    assert problem.parameter_names == ["p0", "p1", "p2", "p3"]
    with pytest.raises(TypeError, match=r"cannot be pickled \(a hand-written bind_model"):
        pickle.dumps(problem)


@pytest.mark.slow
def test_bound_model_batch(lv_model, lv_data) -> None:
    """A hand-written model (bind_model, no disk cache: compiles for ~10 s) gets the batch
    kernel too, and agrees with the DiffSL model to solver accuracy."""
    from diffid_plugins.solvers import bind_model

    @numba.njit
    def rhs(t, y, p, dy):
        dy[0] = p[0] * y[0] - p[1] * y[0] * y[1]
        dy[1] = p[2] * y[0] * y[1] - p[3] * y[1]

    bound = bind_model(
        rhs, 2, u0=[10.0, 5.0], n_inputs=4, default_inputs=TUTORIAL_TRUE, stiff=False
    )
    X = _rows(5)
    ours = Problem(bound, lv_data).evaluate_batch(X)
    np.testing.assert_allclose(ours, Problem(lv_model, lv_data).evaluate_batch(X), rtol=1e-6)
    # the per-output kernel is executed into the same namespace (its two columns, added in
    # the kernel's order, are the cost bit for bit: one SSE term of weight 1)
    values = Problem(bound, lv_data).evaluate_batch_per_output(X)
    assert np.array_equal(values[:, 0] + values[:, 1], ours)

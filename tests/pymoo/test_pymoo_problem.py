"""``diffid_plugins.pymoo.PymooProblem`` with pymoo's own ``minimize``, ``Evaluator`` and
algorithms (GA, DE, PSO, CMAES, NSGA2), on the seed tutorial (Lotka-Volterra on TUTORIAL_BOX).

References: our own ``Problem.evaluate_batch`` / ``evaluate_batch_per_output`` (bit for bit:
the adapter must pass their numbers through unchanged), pymoo's documented accounting
(``Evaluator.n_eval`` counts the rows it evaluates and skips evaluated ones), and repeated runs
(same seed, identical arrays). Calls are counted by ``CountingProblem`` (``_counting.py``), a
problem of our own; pymoo itself is never mocked. Generations are few: the tests check the
plumbing, not the optimum (``benchmarks/adapters_pymoo.py`` measures results and speed).
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

pytest.importorskip("pymoo")

from _counting import CountingProblem  # noqa: E402
from pymoo.algorithms.moo.nsga2 import NSGA2  # noqa: E402
from pymoo.algorithms.soo.nonconvex.cmaes import CMAES  # noqa: E402
from pymoo.algorithms.soo.nonconvex.de import DE  # noqa: E402
from pymoo.algorithms.soo.nonconvex.ga import GA  # noqa: E402
from pymoo.algorithms.soo.nonconvex.pso import PSO  # noqa: E402
from pymoo.core.evaluator import Evaluator  # noqa: E402
from pymoo.core.population import Population  # noqa: E402
from pymoo.core.problem import Problem as PymooBase  # noqa: E402
from pymoo.optimize import minimize  # noqa: E402

from diffid_plugins import Problem, compile_model  # noqa: E402
from diffid_plugins.errors import ArgumentError, ArgumentTypeError  # noqa: E402
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text  # noqa: E402
from diffid_plugins.pymoo import PymooProblem  # noqa: E402

BOX = [tuple(b) for b in TUTORIAL_BOX]
N_GEN = 4


@pytest.fixture(scope="module")
def model():
    return compile_model(tutorial_text())


@pytest.fixture(scope="module")
def data():
    return tutorial_data()


@pytest.fixture(scope="module")
def problem(model, data):
    return Problem(model, data, bounds=BOX)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """24 rows in the box, one of them failing (NaN parameter: status NONFINITE_PARAMS)."""
    rng = np.random.default_rng(5)
    X = rng.uniform(TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1], (24, 4))
    X[7, 2] = np.nan
    return X


def _algorithm(name: str):
    """A small instance of each algorithm; NSGA2 gets the per-output problem."""
    return {
        "GA": lambda: GA(pop_size=16),
        "DE": lambda: DE(pop_size=16),
        "PSO": lambda: PSO(pop_size=16),
        "CMAES": lambda: CMAES(popsize=8),
        "NSGA2": lambda: NSGA2(pop_size=16),
    }[name]()


ALGORITHMS = ["GA", "DE", "PSO", "CMAES", "NSGA2"]


def _objectives(name: str) -> str:
    return "per_output" if name == "NSGA2" else "cost"


# --- shape, values, statuses ------------------------------------------------------------------
def test_is_a_vectorised_pymoo_problem_with_the_box(problem) -> None:
    pp = PymooProblem(problem)
    assert isinstance(pp, PymooBase) and pp.elementwise is False
    assert (pp.n_var, pp.n_obj, pp.n_ieq_constr, pp.n_eq_constr) == (4, 1, 0, 0)
    assert np.array_equal(pp.xl, TUTORIAL_BOX[:, 0]) and np.array_equal(pp.xu, TUTORIAL_BOX[:, 1])
    assert pp.parameter_names == problem.parameter_names and pp.objective_names == ["cost"]
    po = PymooProblem(problem, objectives="per_output")
    assert po.n_obj == 2 and po.objective_names == ["output_0", "output_1"]


def test_F_equals_evaluate_batch_bit_for_bit(problem, rows) -> None:
    expected, statuses = problem.evaluate_batch(rows, return_status=True)
    F, status = PymooProblem(problem).evaluate(rows, return_values_of=["F", "status"])
    assert F.shape == (24, 1)
    assert np.array_equal(F[:, 0], expected)  # the failed row is inf on both sides
    assert np.isinf(F[7, 0]) and not np.isnan(F).any()
    assert np.array_equal(status, statuses)


def test_per_output_F_adds_up_to_the_total_sse(problem, rows) -> None:
    """F is evaluate_batch_per_output bit for bit; its columns added left to right (the
    kernel's order, one SSE term of weight 1) give the evaluate_batch cost exactly."""
    F = PymooProblem(problem, objectives="per_output").evaluate(rows)
    assert F.shape == (24, 2)
    assert np.array_equal(F, problem.evaluate_batch_per_output(rows))
    assert np.array_equal(F[:, 0] + F[:, 1], problem.evaluate_batch(rows))
    assert np.all(np.isinf(F[7]))


def test_n_threads_is_passed_through(problem, rows) -> None:
    counting = CountingProblem(problem)
    one = PymooProblem(counting, n_threads=1).evaluate(rows)
    two = PymooProblem(counting, n_threads=2).evaluate(rows)
    assert counting.thread_args == [1, 2]
    assert np.array_equal(one, two)  # results do not depend on the thread count
    PymooProblem(counting).evaluate(rows)
    assert counting.thread_args[-1] is None  # default: the problem's own default


# --- pymoo's bookkeeping ----------------------------------------------------------------------
def test_evaluator_counts_rows_and_skips_evaluated_ones(problem, rows) -> None:
    counting = CountingProblem(problem)
    pp = PymooProblem(counting)
    evaluator = Evaluator()
    pop = evaluator.eval(pp, Population.new("X", rows))
    assert evaluator.n_eval == 24 and counting.calls == 1 and counting.rows == 24
    assert np.array_equal(pop.get("F")[:, 0], problem.evaluate_batch(rows))
    evaluator.eval(pp, pop)  # already evaluated: pymoo skips them, no batch call
    assert evaluator.n_eval == 24 and counting.calls == 1
    more = Population.merge(pop, Population.new("X", rows[:5]))
    evaluator.eval(pp, more)
    assert evaluator.n_eval == 29 and counting.calls == 2 and counting.rows == 29


@pytest.mark.parametrize("name", ALGORITHMS)
def test_minimize_makes_one_batch_call_per_generation(problem, name) -> None:
    """Every generation pymoo evaluates is one batch call, and pymoo's n_eval equals the rows
    our problem scored (its stats agree)."""
    counting = CountingProblem(problem)
    pp = PymooProblem(counting, objectives=_objectives(name))
    calls_after_gen: list[int] = []
    problem.reset_stats()
    res = minimize(
        pp,
        _algorithm(name),
        ("n_gen", N_GEN),
        seed=3,
        callback=lambda algorithm: calls_after_gen.append(counting.calls),
    )
    assert res.algorithm.n_gen == N_GEN + 1  # pymoo's counter is one past the last generation
    assert calls_after_gen == list(range(1, N_GEN + 1))
    assert pp.n_batches == counting.calls == N_GEN
    assert res.algorithm.evaluator.n_eval == counting.rows == problem.stats.evaluations


@pytest.mark.parametrize("name", ALGORITHMS)
def test_minimize_reproduces_with_a_seed(problem, name) -> None:
    """Same seed: identical result and final population; another seed: a different one (so
    the comparison can fail)."""
    objectives = _objectives(name)

    def run(seed: int):
        res = minimize(
            PymooProblem(problem, objectives), _algorithm(name), ("n_gen", N_GEN), seed=seed
        )
        return res.X, res.F, res.pop.get("X"), res.pop.get("F")

    first, again, other = run(11), run(11), run(12)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b), name
    assert not np.array_equal(first[2], other[2]), name
    assert np.all(np.isfinite(first[1])), name


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("nan_rows", [False, True], ids=["inf", "nan"])
def test_failed_rows_are_inf_and_every_algorithm_copes(problem, name, nan_rows) -> None:
    """A third of the box fails (alpha > 1.5). The rows reach pymoo as inf (a NaN from a
    problem that breaks the contract too): no NaN anywhere, a finite optimum, and still one
    batch per generation (CMAES gets no NaN, so pycma never re-asks point by point)."""
    counting = CountingProblem(problem, fail_above=1.5, nan_rows=nan_rows)
    pp = PymooProblem(counting, objectives=_objectives(name))
    res = minimize(pp, _algorithm(name), ("n_gen", N_GEN), seed=4)
    F = res.pop.get("F")
    assert not np.isnan(F).any() and np.all(np.isfinite(res.F))
    assert np.all(res.X[..., 0] <= 1.5)
    assert counting.calls == N_GEN
    assert res.algorithm.evaluator.n_eval == counting.rows
    status = res.pop.get("status")
    assert np.array_equal(np.isinf(F).any(axis=1), status < 0)


# --- copies and pickling ----------------------------------------------------------------------
@pytest.mark.parametrize("objectives", ["cost", "per_output"])
def test_pickle_round_trip_evaluates_identically(problem, rows, objectives) -> None:
    pp = PymooProblem(problem, objectives, n_threads=2)
    clone = pickle.loads(pickle.dumps(pp))
    assert clone is not pp and clone.problem is not problem
    assert (clone.n_var, clone.n_obj, clone.n_threads) == (4, pp.n_obj, 2)
    assert np.array_equal(clone.xl, pp.xl) and np.array_equal(clone.xu, pp.xu)
    assert np.array_equal(clone.evaluate(rows), pp.evaluate(rows))
    res = minimize(clone, DE(pop_size=8) if objectives == "cost" else NSGA2(pop_size=8),
                   ("n_gen", 2), seed=1)  # fmt: skip
    assert np.all(np.isfinite(res.F))


def test_deepcopy_and_save_history_share_the_problem(problem) -> None:
    pp = PymooProblem(problem)
    clone = copy.deepcopy(pp)
    assert clone.problem is problem and clone.xl is not pp.xl
    res = minimize(pp, DE(pop_size=8), ("n_gen", 3), seed=2, save_history=True)
    assert len(res.history) == 3
    assert all(h.problem.problem is problem for h in res.history)


# --- bad input --------------------------------------------------------------------------------
def test_a_problem_without_bounds_is_a_clear_error(model, data) -> None:
    with pytest.raises(ArgumentError, match=r"parameter 'a' has bounds \(-inf, inf\).*bounds="):
        PymooProblem(Problem(model, data))
    half = {"a": (0.5, 2.0), "b": (0.1, 1.0), "d": (0.0, np.inf), "g": (0.1, 1.0)}
    with pytest.raises(ArgumentError, match=r"parameter 'd' has bounds \(0.0, inf\)"):
        PymooProblem(Problem(model, data, bounds=half))


def test_an_empty_box_is_a_clear_error(problem) -> None:
    class Flat(CountingProblem):
        @property
        def bounds(self):
            return [(1.0, 1.0)] + self.inner.bounds[1:]

    with pytest.raises(ArgumentError, match=r"parameter 'a' has bounds \(1.0, 1.0\).*lower"):
        PymooProblem(Flat(problem))


def test_unknown_objectives_name_the_argument_value_and_choices(problem) -> None:
    with pytest.raises(ArgumentError) as info:
        PymooProblem(problem, objectives="pareto")
    message = str(info.value)
    assert "`objectives`" in message and "'pareto'" in message
    assert "'cost'" in message and "'per_output'" in message
    with pytest.raises(ArgumentError, match="`objectives`"):
        PymooProblem(problem, objectives=None)  # type: ignore[arg-type]


def test_other_bad_arguments(problem) -> None:
    with pytest.raises(ArgumentTypeError, match="`problem` must be a diffid_plugins problem"):
        PymooProblem(lambda x: 0.0)

    scalar = Problem.from_function(
        lambda x: float(x[0] ** 2), ["x"], bounds=[(-1.0, 1.0)], backend="thread"
    )
    try:
        assert PymooProblem(scalar).evaluate(np.array([[0.5]]))[0, 0] == 0.25
        with pytest.raises(ArgumentTypeError, match="objectives='per_output' needs a problem"):
            PymooProblem(scalar, objectives="per_output")
    finally:
        scalar.close()
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ArgumentError, match="`n_threads`"):
            PymooProblem(problem, n_threads=bad)  # type: ignore[arg-type]


def test_failed_value_replaces_every_non_finite_objective(problem, rows) -> None:
    """A finite failed_value reaches pymoo instead of inf (NaN from a contract-breaking problem
    too); finite rows are untouched, and NSGA2 runs on it."""
    expected = problem.evaluate_batch(rows)
    F = PymooProblem(problem, failed_value=1e300).evaluate(rows)[:, 0]
    assert F[7] == 1e300 and np.array_equal(np.delete(F, 7), np.delete(expected, 7))
    counting = CountingProblem(problem, fail_above=1.5, nan_rows=True)
    po = PymooProblem(counting, objectives="per_output", failed_value=1e300)
    res = minimize(po, NSGA2(pop_size=16), ("n_gen", N_GEN), seed=4)
    assert np.all(np.isfinite(res.pop.get("F"))) and np.all(res.X[:, 0] <= 1.5)
    for bad in (np.nan, -np.inf, "inf", None):
        with pytest.raises(ArgumentError, match="`failed_value`"):
            PymooProblem(problem, failed_value=bad)  # type: ignore[arg-type]

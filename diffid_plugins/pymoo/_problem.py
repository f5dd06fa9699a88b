"""``PymooProblem``: the vectorised pymoo ``Problem`` over a diffid_plugins problem."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

try:
    from pymoo.core.problem import Problem as _PymooBase
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "diffid_plugins.pymoo needs pymoo (0.6.x); install it with `pip install pymoo`."
    ) from exc

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.problem._protocols import PerOutputProblemLike, ProblemLike

__all__ = ["OBJECTIVES", "PymooProblem"]

OBJECTIVES = ("cost", "per_output")
"""Choices of ``PymooProblem(objectives=...)``."""


def _check_problem(problem: Any, objectives: Any) -> None:
    """Type and ``objectives`` checks (ArgumentTypeError / ArgumentError naming the fix)."""
    if not isinstance(problem, ProblemLike):
        raise ArgumentTypeError(
            f"`problem` must be a diffid_plugins problem (Problem(model, data, ...), "
            f"Problem.from_function(...) or any ProblemLike with parameter_names, bounds and "
            f"evaluate_batch), got {type(problem).__name__}."
        )
    if not isinstance(objectives, str) or objectives not in OBJECTIVES:
        raise ArgumentError(
            f"`objectives` must be one of {list(OBJECTIVES)}, got {objectives!r}: 'cost' "
            f"minimises the problem's cost (one objective), 'per_output' the cost restricted "
            f"to each model output (one objective per output, for NSGA-II/III)."
        )
    if objectives == "per_output" and not isinstance(problem, PerOutputProblemLike):
        raise ArgumentTypeError(
            f"objectives='per_output' needs a problem that can split its cost by output "
            f"(n_outputs and evaluate_batch_per_output, as diffid_plugins.Problem has); "
            f"{type(problem).__name__} cannot. Use objectives='cost', or build the problem "
            f"with Problem(model, data, ...)."
        )


def _box(problem: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(xl, xu)`` from ``problem.bounds``: finite, lower < upper, one pair per parameter."""
    names = [str(n) for n in problem.parameter_names]
    bounds = list(problem.bounds)
    if len(bounds) != len(names):
        raise ArgumentError(
            f"`problem.bounds` has {len(bounds)} pairs for {len(names)} parameters {names}; "
            f"a problem must give one (lower, upper) pair per parameter."
        )
    lower, upper = [], []
    for name, pair in zip(names, bounds, strict=True):
        lo, hi = (float(v) for v in pair)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ArgumentError(
                f"parameter {name!r} has bounds ({lo}, {hi}), but pymoo's algorithms sample "
                f"and normalise inside a finite box: every parameter needs finite bounds. "
                f"Pass them when you build the problem, e.g. Problem(model, data, "
                f"bounds={{{name!r}: (lower, upper), ...}})."
            )
        if not lo < hi:
            raise ArgumentError(
                f"parameter {name!r} has bounds ({lo}, {hi}); the lower bound must be below "
                f"the upper one. Fix the `bounds=` given to the problem."
            )
        lower.append(lo)
        upper.append(hi)
    return np.array(lower, dtype=np.float64), np.array(upper, dtype=np.float64)


def _check_failed_value(value: Any) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or math.isnan(value) or value == -math.inf:
        raise ArgumentError(
            f"`failed_value` must be a number or inf (the objective value of a failed row, "
            f"worse than any real cost), got {value!r}; NaN is not allowed (pycma would "
            f"re-ask for those points one at a time)."
        )
    return float(value)


def _check_threads(n_threads: Any) -> int | None:
    if n_threads is None:
        return None
    ok = isinstance(n_threads, int | np.integer) and not isinstance(n_threads, bool)
    if not ok or n_threads < 1:
        raise ArgumentError(
            f"`n_threads` must be None (the problem's default: every core) or an integer "
            f">= 1, got {n_threads!r}."
        )
    return int(n_threads)


class PymooProblem(_PymooBase):
    """A diffid_plugins problem as a vectorised pymoo ``Problem`` (``elementwise=False``).

    pymoo hands each population to ``_evaluate`` as one ``(n, n_var)`` array, which is
    scored by one ``problem.evaluate_batch`` call (all cores, no Python per row). Use it
    with any pymoo algorithm; never with an ``elementwise_runner`` (those apply to
    elementwise problems only, and would be slower: the batch is already parallel).

    Parameters
    ----------
    problem : ProblemLike
        A :class:`~diffid_plugins.Problem` (or any
        :class:`~diffid_plugins.problem.ProblemLike`) with finite bounds for every
        parameter: they become ``xl``/``xu``.
    objectives : {"cost", "per_output"}, default "cost"
        ``"cost"``: one objective, the problem's cost (``F`` equals ``evaluate_batch``
        bit for bit). ``"per_output"``: one objective per model output, the cost restricted
        to that output (:meth:`diffid_plugins.Problem.evaluate_batch_per_output`), for
        multi-objective algorithms (NSGA2, NSGA3, ...); for ``SSE`` they add up to the cost.
    n_threads : int, optional, keyword-only
        Threads of each batch (``evaluate_batch(n_threads=...)``); default: the problem's
        default (every core).
    failed_value : float, keyword-only, default inf
        Objective value of a failed row (in every objective). ``inf`` is pymoo's own
        convention (see Notes); a large finite number (say ``1e300``) also works with every
        algorithm and silences numpy's "invalid value" warnings that NSGA2's crowding
        distance raises on an all-``inf`` front. Never NaN.

    Attributes
    ----------
    problem : ProblemLike
        The wrapped problem (its ``stats`` count every evaluated row).
    n_var, n_obj : int
    xl, xu : ndarray (n_var,)
        The problem's bounds.
    parameter_names : list of str
        Names of the ``n_var`` variables, in order.
    objective_names : list of str
        ``["cost"]``, or ``["output_0", "output_1", ...]`` with ``"per_output"``.
    n_batches : int
        Number of batch evaluations so far (one per population pymoo evaluates).

    Raises
    ------
    ArgumentTypeError
        ``problem`` is not a problem, or ``"per_output"`` on a problem that cannot split its
        cost by output.
    ArgumentError
        A missing (infinite) or empty bound (the message names the parameter and how to pass
        ``bounds=``), an unknown ``objectives`` value, a bad ``n_threads`` or
        ``failed_value``.

    Notes
    -----
    **Failed rows.** A row whose solve fails costs ``inf`` (in every objective with
    ``"per_output"``), and ``inf`` (or ``failed_value``) is what reaches pymoo. That is
    pymoo's own convention: it fills objectives a problem leaves unset with ``inf``, its
    CMAES assigns ``inf`` to infeasible points before handing them to pycma, and GA, DE and
    PSO select by sorting and comparing ``F``, where ``inf`` is simply the worst. NSGA2 ranks
    such rows in the last front (every finite row dominates them) and its crowding distance
    maps the resulting ``inf - inf`` to 0. NaN is never returned (any non-finite value, such
    as a NaN from a third-party problem, becomes ``failed_value``): pycma treats NaN as a
    rejected sample and re-asks for points *one at a time*, which would defeat the batch and
    stall CMAES. Each row's status (0 success, negative: failure, see
    :func:`diffid_plugins.problem.status_name`) is returned in ``out["status"]`` as well, so
    ``res.pop.get("status")`` holds it (pymoo stores it as float).

    **Copies and pickling.** The object pickles (pymoo runners, Dask, multiprocessing) and
    unpickles into a working problem: a :class:`~diffid_plugins.Problem` travels as its
    model text and settings and is rebuilt (from the disk cache) on the other side.
    ``copy.deepcopy`` (pymoo's ``save_history=True`` copies the algorithm, problem
    included, every generation) shares the wrapped problem instead of rebuilding it.

    Examples
    --------
    >>> from pymoo.algorithms.soo.nonconvex.de import DE  # doctest: +SKIP
    >>> from pymoo.optimize import minimize  # doctest: +SKIP
    >>> pp = PymooProblem(problem)  # doctest: +SKIP
    >>> res = minimize(pp, DE(pop_size=40), ("n_gen", 50), seed=1)  # doctest: +SKIP
    >>> res.X, res.F  # doctest: +SKIP
    """

    def __init__(
        self,
        problem: Any,
        objectives: str = "cost",
        *,
        n_threads: int | None = None,
        failed_value: float = math.inf,
    ) -> None:
        _check_problem(problem, objectives)
        xl, xu = _box(problem)
        self.problem = problem
        self.objectives = objectives
        self.n_threads = _check_threads(n_threads)
        self.failed_value = _check_failed_value(failed_value)
        self.parameter_names = [str(n) for n in problem.parameter_names]
        n_obj = int(problem.n_outputs) if objectives == "per_output" else 1
        self.objective_names = (
            [f"output_{j}" for j in range(n_obj)] if objectives == "per_output" else ["cost"]
        )
        self.n_batches = 0
        super().__init__(
            n_var=len(self.parameter_names),
            n_obj=n_obj,
            xl=xl,
            xu=xu,
            vtype=float,
            elementwise=False,
        )

    def _evaluate(self, x: Any, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Score the population ``x`` (n, n_var) with one batch call: ``out["F"]`` (n, n_obj)
        and ``out["status"]`` (n,)."""
        X = np.asarray(x, dtype=np.float64)  # noqa: N806
        if self.objectives == "per_output":
            values, statuses = self.problem.evaluate_batch_per_output(
                X, self.n_threads, return_status=True
            )
            F = np.asarray(values, dtype=np.float64).reshape(X.shape[0], self.n_obj)  # noqa: N806
        else:
            costs, statuses = self.problem.evaluate_batch(X, self.n_threads, return_status=True)
            F = np.asarray(costs, dtype=np.float64).reshape(X.shape[0], 1)  # noqa: N806
        self.n_batches += 1
        failed = ~np.isfinite(F)  # inf (the contract), or NaN from a problem that breaks it
        if failed.any():  # never NaN to pymoo: pycma would re-ask for those points one by one
            F = np.where(failed, self.failed_value, F)  # noqa: N806
        out["F"] = F
        out["status"] = np.asarray(statuses)

    def __deepcopy__(self, memo: dict[int, Any]) -> PymooProblem:
        """A copy that shares the wrapped problem (and its compiled model and statistics);
        every other attribute is deep-copied."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, value if key == "problem" else copy.deepcopy(value, memo))
        return clone

    def __repr__(self) -> str:
        return (
            f"PymooProblem(n_var={self.n_var}, n_obj={self.n_obj}, "
            f"objectives={self.objectives!r}, parameters={self.parameter_names})"
        )

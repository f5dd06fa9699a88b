"""Problems whose objective is a Python function, evaluated in batches on worker processes.

:class:`FunctionProblem` gives a Python objective the surface of the ODE
:class:`~diffid_plugins.problem.Problem` (``evaluate``, ``evaluate_batch``, ``parameter_names``,
``n_params``, ``x0``, ``bounds``, statistics), so optimisers and samplers drive either one.
Two forms:

- scalar: ``function(x) -> float`` is the cost;
- vector: ``function(x) -> predictions`` of shape ``(n_times, n_outputs)``, scored against
  ``data`` (``(n_times, 1 + n_outputs)``: times in column 0) by a cost, with the formulas of the
  core kernel (``_batch.py``), computed here in numpy inside the worker, so only a float comes
  back per row.

Batches run through :class:`~diffid_plugins.parallel.ParallelExecutor` (DSPy semantics: input
order, failures recorded, ``max_errors``, ``timeout`` and straggler resubmission, a tqdm bar),
by default on worker processes that receive the objective once and keep it between calls; or
on a Dask cluster through :class:`~diffid_plugins.problem._dask.DaskBackend`.

A row never raises inside a batch: a call that raises, times out, crashes its worker or returns
something unusable, and a row with NaN or inf parameters, costs ``inf`` and gets a negative
status (``_function_objective.FUNCTION_STATUS_NAMES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError, ResultError
from diffid_plugins.parallel import ExecutionCancelledError, ParallelExecutor, RemoteTaskError
from diffid_plugins.problem._codes import (
    COST_GAUSSIAN_NLL,
    STATUS_BAD_SIGMA,
    STATUS_NONFINITE_COST,
    STATUS_NONFINITE_PARAMS,
)
from diffid_plugins.problem._costs import SSE, Cost, EncodedCost, encode_cost
from diffid_plugins.problem._function_objective import (
    Objective,
    check_names,
    check_x0,
    status_label,
    status_of,
)
from diffid_plugins.problem._stats import BatchBackend, ProblemStats
from diffid_plugins.problem._validation import ProblemError, as_data, resolve_bounds

if TYPE_CHECKING:  # pragma: no cover - typing only
    from diffid_plugins.problem._dask import DaskBackend

__all__ = ["FunctionProblem"]


class FunctionProblem:
    """A problem whose cost is computed by a Python function, evaluated in parallel batches.

    Build it with ``Problem.from_function`` (same arguments). With ``data=None`` the function
    is the objective, ``function(x) -> float``; with ``data`` it returns predictions,
    ``function(x) -> (n_times, n_outputs)``, scored against ``data[:, 1:]`` by ``cost``. The
    surface is the ODE :class:`~diffid_plugins.problem.Problem`'s: ``evaluate``,
    ``evaluate_batch`` (``n_threads``, ``backend``, ``return_status``), ``parameter_names``,
    ``n_params``, ``x0``, ``bounds``, ``stats``, ``last_statuses``, ``reset_stats``.

    Parameters
    ----------
    function : callable
        ``function(x)`` with ``x`` a float64 array of shape ``(n_fit,)`` (the parameters
        before any estimated noise levels), in the order of `parameters`. For
        ``backend="process"`` it must pickle by reference: define it at module level in an
        importable module (a script needs the ``if __name__ == "__main__":`` guard).
    parameters : sequence of str
        Names of the parameters of ``function``, in the order of ``x``.
    bounds : sequence of (lower, upper) or mapping of name to (lower, upper), optional
        As for ``Problem``: metadata for optimisers and samplers; evaluation does not clip.
        Default ``(-inf, inf)``, and ``(0, inf)`` for estimated noise levels.
    data : array_like, shape (n_times, 1 + n_outputs), optional, keyword-only
        Observations for the vector form: time in column 0 (non-decreasing), output ``j`` in
        column ``j + 1``; finite.
    cost : Cost, optional, keyword-only
        ``SSE()`` (the default), ``RMSE()``, ``GaussianNLL(...)`` or a sum of them, with the
        formulas of the ODE problem's kernel. Only with `data`. A
        ``GaussianNLL(estimate_sigma=...)`` appends its noise parameters to ``x``.
    x0 : array_like, shape (n_params,), optional, keyword-only
        Starting point. ``None``: the middle of each finite box, else its finite end, else 0;
        an estimated noise level starts at the cost's ``sigma``.
    backend : {"process", "thread", "dask"} or DaskBackend, keyword-only, default "process"
        ``"process"``: worker processes that receive the objective once (CPU-bound Python;
        timed-out calls are killed). ``"thread"``: threads (functions that release the GIL,
        or that cannot be pickled). ``"dask"`` (the default client) or a
        :class:`~diffid_plugins.problem._dask.DaskBackend`: blocks of rows on a Dask
        cluster; there `timeout`, `max_errors` and `progress` do not apply, and
        ``exceptions_map`` holds a :class:`~diffid_plugins.parallel.RemoteTaskError` naming
        each failed row's status (exceptions do not travel back).
    n_workers : int, optional, keyword-only
        Worker processes or threads. ``None``: one per core.
    timeout : float, optional, keyword-only
        Seconds one call may run; then :class:`~diffid_plugins.parallel.ParallelExecutor`'s
        straggler rule and termination apply and the row costs ``inf`` (status
        ``TIMEOUT``). ``None``: no limit.
    max_errors : int, optional, keyword-only
        ``evaluate_batch`` raises :class:`~diffid_plugins.parallel.ExecutionCancelledError`
        (DSPy's message) once this many rows have failed. ``None``: never.
    straggler_limit : int, keyword-only, default 3
        As for :class:`~diffid_plugins.parallel.ParallelExecutor`.
    progress : bool, keyword-only, default False
        Show a tqdm progress bar during ``evaluate_batch``.
    seed : int, optional, keyword-only
        Root of the per-worker seeds (:func:`~diffid_plugins.parallel.worker_rng`).
    provide_traceback : bool, keyword-only, default False
        Log each failed row with the worker's traceback (DEBUG level).

    Attributes
    ----------
    parameter_names : list of str
    n_params : int
    stats : ProblemStats
        Rows evaluated and failures by status name (:data:`FUNCTION_STATUS_NAMES`).
    last_statuses : numpy.ndarray of int64, shape (n,), or None
        Row statuses of the last call (0: success).
    failed_indices : list of int
        Rows of the last call that failed (status < 0), sorted.
    exceptions_map : dict of int to Exception
        ``row -> exception`` for those rows: what the function raised,
        :class:`~diffid_plugins.parallel.TaskTimeoutError`,
        :class:`~diffid_plugins.parallel.WorkerDiedError`, :class:`ObjectiveResultError`, an
        :class:`~diffid_plugins.errors.ArgumentError` naming the status of a row that was not
        evaluated (NaN/inf parameters, bad noise level), or a
        :class:`~diffid_plugins.errors.ResultError` for a NaN or infinite cost (both are
        ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> from diffid_plugins.problem._function import FunctionProblem
    >>> def sphere(x):
    ...     return float(np.sum(x * x))
    >>> problem = FunctionProblem(sphere, ["a", "b"], backend="thread", n_workers=1)
    >>> problem.evaluate([1.0, 2.0])
    5.0
    >>> problem.evaluate_batch([[1.0, 2.0], [np.nan, 0.0], [0.0, 3.0]])
    array([ 5., inf,  9.])
    >>> problem.failed_indices, problem.stats.failures
    ([1], {'NONFINITE_PARAMS': 1})
    """

    parameter_names: list[str]
    n_params: int
    stats: ProblemStats
    last_statuses: NDArray[np.int64] | None
    failed_indices: list[int]
    exceptions_map: dict[int, BaseException]

    def __init__(
        self,
        function: Callable[[NDArray[np.float64]], Any],
        parameters: Sequence[str],
        bounds: Sequence[tuple[float, float]] | Mapping[str, tuple[float, float]] | None = None,
        *,
        data: ArrayLike | None = None,
        cost: Cost | None = None,
        x0: ArrayLike | None = None,
        backend: Literal["process", "thread", "dask"] | DaskBackend = "process",
        n_workers: int | None = None,
        timeout: float | None = None,
        max_errors: int | None = None,
        straggler_limit: int = 3,
        progress: bool = False,
        seed: int | None = None,
        provide_traceback: bool = False,
    ) -> None:
        if not callable(function):
            raise ArgumentTypeError(
                f"`function` must be callable, `function(x) -> float`; got "
                f"{type(function).__name__}."
            )
        names = check_names(parameters)
        n_fit = len(names)
        encoded: EncodedCost | None = None
        values: NDArray[np.float64] | None = None
        if data is None:
            if cost is not None:
                raise ProblemError(
                    f"`cost` ({cost!r}) needs `data`: a scalar objective is its own cost. "
                    "Pass `data=` for the vector form (predictions scored by the cost), or "
                    "drop `cost`."
                )
        else:
            shape = np.shape(data)
            n_outputs = shape[1] - 1 if len(shape) == 2 and shape[1] > 1 else 1
            values = as_data(data, n_outputs, -math.inf)  # the function knows its own t0
            values.setflags(write=False)
            encoded = encode_cost(SSE() if cost is None else cost, n_outputs, n_fit, names)
            names = [*names, *encoded.sigma_names]
        self.function = function
        self.data = values
        self.cost = cost
        self.parameter_names = names
        self.n_params = len(names)
        self._n_fit = n_fit
        self._encoded = encoded
        defaults = [(-math.inf, math.inf)] * n_fit + [(0.0, math.inf)] * (len(names) - n_fit)
        self._bounds = resolve_bounds(bounds, names, defaults, n_fit)
        self._x0 = check_x0(x0, self._bounds, n_fit, [] if encoded is None else encoded.sigma_x0)
        self._objective = Objective(
            function, n_fit, None if values is None else values[:, 1:].copy(), encoded
        )
        self.backend = backend
        self.max_errors = max_errors
        self._dask = _dask_backend(backend)
        if n_workers is not None and (
            isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1
        ):
            raise ProblemError(
                f"`n_workers` must be a positive integer or None (one per core); got "
                f"{n_workers!r}."
            )
        self._executor = ParallelExecutor(
            num_threads=n_workers,
            max_errors=max_errors,
            disable_progress_bar=not progress,
            provide_traceback=provide_traceback,
            timeout=timeout,
            straggler_limit=straggler_limit,
            backend="thread" if backend == "thread" else "process",
            seed=seed,
        )
        self.stats = ProblemStats()
        self.last_statuses = None
        self.failed_indices, self.exceptions_map = [], {}

    @property
    def x0(self) -> NDArray[np.float64]:
        """Starting point, shape ``(n_params,)`` (a copy)."""
        return self._x0.copy()

    @property
    def bounds(self) -> list[tuple[float, float]]:
        """``(lower, upper)`` per parameter, in parameter order."""
        return list(self._bounds)

    def __repr__(self) -> str:
        form = "scalar" if self.data is None else f"data {self.data.shape}, cost={self.cost!r}"
        name = getattr(self.function, "__qualname__", type(self.function).__name__)
        return (
            f"FunctionProblem({name}, parameters={self.parameter_names}, {form}, "
            f"backend={self.backend!r})"
        )

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(self, x: ArrayLike, *, return_status: bool = False) -> Any:
        """Cost of one parameter vector, computed in this process; ``inf`` if it fails.

        Like ``Problem.evaluate`` it never raises for a bad row: a call that raises or
        returns something unusable, a NaN/inf cost, or a non-finite ``x`` gives ``inf``; the
        exception is kept in ``exceptions_map[0]`` (with its traceback) and the status in
        ``last_statuses``.

        Parameters
        ----------
        x : array_like, shape (n_params,)
        return_status : bool, keyword-only, default False
            Return ``(cost, status)``.

        Returns
        -------
        float, or (float, int)

        Raises
        ------
        ProblemError
            ``x`` has the wrong shape.
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 0 and self.n_params == 1:
            arr = arr.reshape(1)
        if arr.shape != (self.n_params,):
            raise ProblemError(
                f"`x` must have shape ({self.n_params},) (values for {self.parameter_names}), "
                f"got {arr.shape}."
            )
        rows = arr.reshape(1, -1)
        statuses = self._precheck(rows)
        errors = self._not_evaluated(statuses)
        costs = np.full(1, np.inf)
        if statuses[0] == 0:
            try:
                costs[0] = self._objective(rows[0].copy())
            except Exception as exc:
                statuses[0] = status_of(exc)
                errors[0] = exc
        cost = float(self._finish(costs, statuses, errors)[0])
        return (cost, int(statuses[0])) if return_status else cost

    __call__ = evaluate

    def evaluate_batch(
        self,
        X: ArrayLike,  # noqa: N803
        n_threads: int | None = None,
        backend: BatchBackend | None = None,
        *,
        return_status: bool = False,
    ) -> Any:
        """Costs of many parameter vectors, evaluated in parallel; failed rows cost ``inf``.

        Parameters
        ----------
        X : array_like, shape (n, n_params)
            One parameter vector per row (columns :attr:`parameter_names`).
        n_threads : int, optional
            Accepted for compatibility with ``Problem`` and ignored: the number of workers is
            fixed at construction (`n_workers`).
        backend : object with ``map_blocks(problem, X) -> (costs, statuses)``, optional
            Evaluate elsewhere for this call (e.g. a ``DaskBackend``); default: the backend
            chosen at construction.
        return_status : bool, keyword-only, default False
            Also return the row statuses.

        Returns
        -------
        costs : numpy.ndarray, shape (n,), float64
            In row order; ``inf`` for every failed row, listed in ``failed_indices`` with its
            exception in ``exceptions_map``.
        statuses : numpy.ndarray, shape (n,), int64
            Only with ``return_status=True``; also kept in :attr:`last_statuses`.

        Raises
        ------
        ExecutionCancelledError
            ``max_errors`` rows failed (process and thread backends); ``failed_indices`` and
            ``exceptions_map`` hold the failures seen so far; ``stats`` is not updated.
        ProblemError
            ``X`` does not have shape ``(n, n_params)``.
        """
        rows = self._as_rows(X)
        statuses = self._precheck(rows)
        errors = self._not_evaluated(statuses)
        costs = np.full(len(rows), np.inf)
        todo = np.flatnonzero(statuses == 0)
        remote = backend if backend is not None else self._dask
        try:
            if todo.size and remote is not None:
                costs[todo] = self._run_remote(remote, rows[todo], todo, statuses, errors)
            elif todo.size:
                costs[todo] = self._run_local(rows[todo], todo, statuses, errors)
        except ExecutionCancelledError:
            self.failed_indices = sorted(errors)
            self.exceptions_map = {i: errors[i] for i in self.failed_indices}
            raise
        costs = self._finish(costs, statuses, errors)
        return (costs, statuses) if return_status else costs

    def reset_stats(self) -> None:
        """Zero :attr:`stats`."""
        self.stats = ProblemStats()

    def close(self) -> None:
        """Stop the worker processes now (they also stop when the problem is collected)."""
        self._executor.close()

    def __enter__(self) -> FunctionProblem:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _as_rows(self, X: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
        try:
            rows = np.array(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise ProblemError(
                f"`X` must be a numeric array of shape (n, {self.n_params}), got "
                f"{type(X).__name__}."
            ) from None
        if rows.ndim != 2 or rows.shape[1] != self.n_params:
            raise ProblemError(
                f"`X` must have shape (n, {self.n_params}) (one row per parameter set, columns "
                f"{self.parameter_names}), got {rows.shape}. For one point use evaluate(x) or "
                "X.reshape(1, -1)."
            )
        return rows

    def _precheck(self, rows: NDArray[np.float64]) -> NDArray[np.int64]:
        """Statuses of rows that are not evaluated, as in the core kernel: NaN/inf, bad sigma."""
        statuses = np.zeros(len(rows), dtype=np.int64)
        cost = self._encoded
        if cost is not None:
            columns = np.unique(cost.sigma_index[cost.kind == COST_GAUSSIAN_NLL])
            columns = columns[columns >= 0]
            if columns.size:
                sigma = rows[:, columns]
                statuses[~((sigma > 0) & np.isfinite(sigma)).all(axis=1)] = STATUS_BAD_SIGMA
        statuses[~np.isfinite(rows).all(axis=1)] = STATUS_NONFINITE_PARAMS
        return statuses

    @staticmethod
    def _not_evaluated(statuses: NDArray[np.int64]) -> dict[int, BaseException]:
        return {
            int(i): ArgumentError(f"row {i} was not evaluated: {status_label(int(statuses[i]))}.")
            for i in np.flatnonzero(statuses < 0)
        }

    def _run_local(
        self,
        rows: NDArray[np.float64],
        todo: NDArray[np.intp],
        statuses: NDArray[np.int64],
        errors: dict[int, BaseException],
    ) -> NDArray[np.float64]:
        """Rows ``todo`` of the batch through the ParallelExecutor; failures into the maps."""
        try:
            return self._executor.map_batch(self._objective, rows, max_errors=self.max_errors)
        finally:
            for j, error in self._executor.exceptions_map.items():
                errors[int(todo[j])] = error
                statuses[todo[j]] = status_of(error)

    def _run_remote(
        self,
        backend: BatchBackend,
        rows: NDArray[np.float64],
        todo: NDArray[np.intp],
        statuses: NDArray[np.int64],
        errors: dict[int, BaseException],
    ) -> NDArray[np.float64]:
        """Rows ``todo`` of the batch through ``backend.map_blocks`` (Dask)."""
        costs, codes = backend.map_blocks(self, rows)  # type: ignore[arg-type]
        codes = np.asarray(codes, dtype=np.int64).reshape(len(rows))
        for j in np.flatnonzero(codes < 0):
            errors[int(todo[j])] = RemoteTaskError(
                f"row {todo[j]} failed on a remote worker: {status_label(int(codes[j]))}."
            )
        statuses[todo] = codes
        return np.asarray(costs, dtype=np.float64).reshape(len(rows))

    def _finish(
        self,
        costs: NDArray[np.float64],
        statuses: NDArray[np.int64],
        errors: dict[int, BaseException],
    ) -> NDArray[np.float64]:
        """NaN/inf costs become NONFINITE_COST failures; record stats and the failure maps."""
        bad = (statuses == 0) & ~np.isfinite(costs)
        statuses[bad] = STATUS_NONFINITE_COST
        for k in np.flatnonzero(bad):
            errors[int(k)] = ResultError(f"row {k}: the objective returned {costs[k]}.")
        costs[statuses < 0] = np.inf
        self.last_statuses = statuses
        self.failed_indices = sorted(errors)
        self.exceptions_map = {i: errors[i] for i in self.failed_indices}
        self.stats.evaluations += len(statuses)
        for code in statuses[statuses < 0].tolist():
            name = status_label(code)
            self.stats.failures[name] = self.stats.failures.get(name, 0) + 1
        return costs

    def _evaluate_rows(
        self, X: NDArray[np.float64], n_threads: int | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Evaluate rows one after another in this process (one block on a Dask worker).

        ``n_threads`` is ignored: Python code holds the GIL, so threads would not help.
        Returns costs ``(n,)`` (NaN/inf as returned) and statuses ``(n,)``; stats untouched.
        """
        rows = np.asarray(X, dtype=np.float64)
        costs = np.full(len(rows), np.inf)
        statuses = self._precheck(rows)
        for i in np.flatnonzero(statuses == 0):
            try:
                costs[i] = self._objective(rows[i].copy())
            except Exception as exc:
                statuses[i] = status_of(exc)
        return costs, statuses

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["stats"] = ProblemStats()  # a copy (a Dask worker's) starts its own counters
        state["failed_indices"], state["exceptions_map"] = [], {}
        if state["_dask"] is not None:  # a Dask client does not pickle; a copy runs locally
            state["_dask"], state["backend"] = None, "process"
        return state


def _dask_backend(backend: object) -> DaskBackend | None:
    if backend in ("process", "thread"):
        return None
    from diffid_plugins.problem._dask import DaskBackend

    if backend == "dask":
        return DaskBackend()
    if isinstance(backend, DaskBackend):
        return backend
    raise ProblemError(
        f"`backend` must be 'process', 'thread', 'dask' or a DaskBackend; got {backend!r}. "
        "Use 'process' for CPU-bound Python objectives."
    )

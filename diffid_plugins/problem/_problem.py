"""``Problem``: a compiled model, data, fitted parameters and a cost, evaluated in batches.

The Python side validates once at construction and packs everything the kernel needs into
arrays; :meth:`Problem.evaluate_batch` then makes one call of the compiled ``batch_kernel``
(``_batch.py``, compiled together with the model) per batch. numba is imported on first
evaluation only.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins.errors import ArgumentTypeError
from diffid_plugins.problem._costs import SSE, Cost, encode_cost
from diffid_plugins.problem._stats import (
    BatchBackend,
    ProblemStats,
    status_message,
    status_name,
)
from diffid_plugins.problem._validation import (
    ProblemError,
    as_data,
    resolve_bounds,
    resolve_parameters,
)
from diffid_plugins.solvers._kernelset import KernelSet
from diffid_plugins.solvers._protocols import KernelModel
from diffid_plugins.solvers._settings import DEFAULT_MAX_STEPS, solver_settings
from diffid_plugins.solvers._status import (
    METHOD_AUTO,
    METHOD_DOPRI5,
)

__all__ = ["BatchBackend", "Problem", "ProblemStats", "status_message", "status_name"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_CHUNKS_PER_THREAD = 16  # prange tasks per thread: small enough to balance slow rows
_LANE_CHUNK_ROWS = 16  # lanes kernel: at least this many rows per chunk (4 lanes, refilled)
# Default thread count for small batches: a batch whose single-thread work is estimated below
# this runs on the calling thread. Waking the pool costs ~10-50 us on an idle machine and
# milliseconds on a loaded one (OpenMP layer, 2 shared cores: 8 tutorial rows took 7.6 ms on
# 2 threads against 0.27 ms on 1), so a few rows of a cheap model never gain from threads.
_SMALL_BATCH_SECONDS = 1e-3
_SMALL_BATCH_ROWS = 16  # before any timing is known, batches up to this size run on 1 thread


def _batch_kernel(kernels: KernelSet, lanes: bool = False, name: str | None = None) -> Any:
    """The serving tier's ``batch_kernel`` (``lanes_kernel`` with ``lanes``; or the batch
    template entry point ``name``, e.g. ``batch_outputs_kernel``).

    Compiled models get them from :mod:`diffid_plugins._kernels` (both tiers include the
    batch templates); hand-written models (``bind_model``, tier ``"bound"``) get them here,
    executed into their in-memory namespace on first use.
    """
    if name is None:
        name = "lanes_kernel" if lanes else "batch_kernel"
    if not kernels.has(name):
        if kernels.tier != "bound":
            raise ArgumentTypeError(f"`model.kernels` has no `{name}`; compile the model first.")
        from diffid_plugins._templates import exec_template, template_source
        from diffid_plugins.problem import _batch_templates

        namespace = vars(kernels.module)
        for module in _batch_templates():
            defines = module.__name__.rsplit("_", 1)[-1] + "_kernel"  # batch_kernel, ...
            if defines not in namespace:
                exec_template(template_source(module), module.__name__, namespace)
    return kernels.entry(name)


class Problem:
    """A model fitted to data: parameters by name, a cost, and fast batch evaluation.

    Parameters
    ----------
    model : CompiledModel or BoundModel
        From :func:`diffid_plugins.compile_model` (or :func:`diffid_plugins.solvers.bind_model`).
    data : array_like, shape (n_times, 1 + n_outputs)
        Time in column 0 (finite, non-decreasing, >= ``t0``), output ``j`` in column ``j + 1``.
    cost : Cost, default SSE()
        ``SSE``, ``RMSE``, ``GaussianNLL`` or a sum of them (``SSE() + 0.5 * RMSE()``).
    parameters : sequence of str, optional
        Names of the ``in`` labels to fit, in the order of the parameter vector. Default: every
        input in declaration order (diffid's positional convention). Other inputs stay at the
        model's default values. Estimated noise levels (``GaussianNLL(estimate_sigma=...)``)
        are appended after them.
    bounds : sequence of (float, float) or mapping of str to (float, float), optional
        ``(lower, upper)`` per parameter (a list in parameter order, or a dict by name; a list
        may omit the noise parameters). Default ``(-inf, inf)``, and ``(0, inf)`` for noise
        levels. Bounds are metadata for optimisers and samplers; evaluation does not clip.
    method : {"auto", "dopri5", "tsit5", "rodas5p"}, default "auto"
        Solver (see :func:`diffid_plugins.solve`).
    rtol : float, default 1e-6
    atol : float or array_like (n_states,), default 1e-8
    t0 : float, default 0.0
        Integration start (diffid and diffsol use 0).
    max_steps : int, default 100000
        Accepted + rejected steps per solve; a row that needs more fails with ``MAX_STEPS``.

    Attributes
    ----------
    parameter_names : list of str
    n_params : int
    n_outputs : int
        Number of model outputs (data columns after time).
    x0 : ndarray (n_params,)
        Model defaults of the fitted inputs, then the initial noise levels.
    bounds : list of (float, float)
    stats : ProblemStats
    last_statuses : ndarray of int64 or None
        Row statuses of the last ``evaluate``/``evaluate_batch`` call (0 success).
    last_tier : str or None
        Compilation tier that served the last local evaluation (``"generic"``,
        ``"specialised"`` or ``"bound"``; see :func:`diffid_plugins.compile_model`).
    last_threads : int or None
        Threads the last local evaluation ran on (with the default ``n_threads``, a batch
        estimated below 1 ms of single-thread work runs on the calling thread alone).

    Raises
    ------
    ProblemError
        Invalid data, parameter names, bounds, cost sizes or settings (message names the
        argument, the value, what was expected and the fix).
    TypeError
        Arguments of the wrong kind.

    Examples
    --------
    >>> import numpy as np
    >>> from diffid_plugins import Problem, SSE, compile_model
    >>> m = compile_model("in_i { k = 1 } u_i { x = 1 } F_i { -k * x }")
    >>> t = np.linspace(0, 2, 5)
    >>> problem = Problem(m, np.column_stack([t, np.exp(-0.5 * t)]), cost=SSE())
    >>> problem.parameter_names, problem.x0
    (['k'], array([1.]))
    >>> bool(problem.evaluate([0.5]) < 1e-10)
    True
    """

    def __init__(
        self,
        model: KernelModel,
        data: ArrayLike,
        cost: Cost | None = None,
        parameters: list[str] | tuple[str, ...] | None = None,
        bounds: Any = None,
        method: str = "auto",
        rtol: float = 1e-6,
        atol: float | ArrayLike = 1e-8,
        t0: float = 0.0,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        kernels = getattr(model, "kernels", None)
        if not isinstance(kernels, KernelSet):
            raise ArgumentTypeError(
                f"`model` must be a compiled model (compile_model(text)) or a BoundModel, got "
                f"{type(model).__name__}."
            )
        self.model = model
        self._kernels = kernels
        n_inputs, n_outputs = int(kernels.N_INPUTS), int(kernels.N_OUTPUTS)
        if not (isinstance(t0, int | float | np.integer | np.floating) and math.isfinite(t0)):
            raise ProblemError(f"`t0` must be a finite number, got {t0!r}.")
        self.t0 = float(t0)
        self._data = as_data(data, n_outputs, self.t0)
        self._data.setflags(write=False)
        self._times = np.ascontiguousarray(self._data[:, 0])
        self._obs = np.ascontiguousarray(self._data[:, 1:])
        self._method_code, self.rtol, self._atol, self.max_steps = solver_settings(
            method, rtol, atol, max_steps, kernels, error=ProblemError
        )
        self.method = method.lower()
        self._atol_arg = atol

        input_names = [str(n) for n in model.input_names]
        index = resolve_parameters(parameters, input_names)
        defaults = getattr(model, "default_inputs", None)
        if defaults is None:
            if len(index) != n_inputs:
                raise ProblemError(
                    "`model` has no default inputs, so every input must be fitted; pass "
                    "parameters=None or list all of them."
                )
            defaults = np.zeros(n_inputs)
        self._p_default = np.ascontiguousarray(defaults, dtype=np.float64).reshape(n_inputs)
        self._param_index = np.array(index, dtype=np.int64)
        fitted = [input_names[i] for i in index]
        self.cost = SSE() if cost is None else cost
        self._enc = encode_cost(self.cost, n_outputs, len(index), fitted)
        self.parameter_names: list[str] = fitted + self._enc.sigma_names
        self.n_params = len(self.parameter_names)
        self._x0 = np.array(
            [float(self._p_default[i]) for i in index] + self._enc.sigma_x0, dtype=np.float64
        )
        default_bounds = [(-math.inf, math.inf)] * len(index) + [(0.0, math.inf)] * len(
            self._enc.sigma_names
        )
        self._bounds = resolve_bounds(bounds, self.parameter_names, default_bounds, len(index))
        self._parameters_arg = None if parameters is None else list(parameters)
        self._bounds_arg = bounds
        self._lock = threading.Lock()
        self.stats = ProblemStats()
        self.last_statuses: IntArray | None = None
        self._kernel: Any = None
        self._kernel_module: Any = None
        self._outputs_kernel: Any = None
        self._use_lanes = False
        self._row_seconds: float | None = None  # last single-thread kernel time per row
        self.last_threads: int | None = None  # threads of the last local kernel call
        self.last_tier: str | None = None
        # Explicit solves without mass matrix or `stop` run lane-interleaved (``_lanes.py``);
        # evaluate() uses the same kernel, so its results equal the batch rows bit for bit.
        self._lanes = (
            int(kernels.N_STOP) == 0
            and not kernels.HAS_MASS
            and self._method_code in (METHOD_AUTO, METHOD_DOPRI5)
        )

    # ------------------------------------------------------------------ properties
    @property
    def x0(self) -> FloatArray:
        """Initial parameter vector (n_params,): model defaults, then initial noise levels."""
        return self._x0.copy()

    @property
    def atol(self) -> float | FloatArray:
        """Absolute tolerance as given (a number, or one per state)."""
        a = self._atol_arg
        return float(np.asarray(a)) if np.ndim(a) == 0 else np.array(a, dtype=np.float64)

    @property
    def bounds(self) -> list[tuple[float, float]]:
        """``(lower, upper)`` per parameter, in parameter order."""
        return list(self._bounds)

    @property
    def n_outputs(self) -> int:
        """Number of model outputs (data columns after time)."""
        return int(self._kernels.N_OUTPUTS)

    @property
    def data(self) -> FloatArray:
        """The validated data (n_times, 1 + n_outputs), read-only."""
        return self._data

    def __repr__(self) -> str:
        return (
            f"Problem(n_params={self.n_params}, parameters={self.parameter_names}, "
            f"n_times={self._data.shape[0]}, cost={self.cost!r}, method={self.method!r})"
        )

    # ------------------------------------------------------------------ evaluation
    def _as_rows(self, X: Any) -> FloatArray:  # noqa: N803
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise ProblemError(
                f"`X` must be a numeric array of shape (n, {self.n_params}), got "
                f"{type(X).__name__}."
            ) from None
        if arr.ndim != 2 or arr.shape[1] != self.n_params:
            raise ProblemError(
                f"`X` must have shape (n, {self.n_params}) (one row per parameter set, columns "
                f"{self.parameter_names}), got {arr.shape}. For one point use evaluate(x) or "
                f"X.reshape(1, -1)."
            )
        return np.ascontiguousarray(arr)

    def _threads(self, n_threads: Any, n_rows: int) -> int:
        import numba

        limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        if n_threads is None:
            n_threads = numba.get_num_threads()
        ok = isinstance(n_threads, int | np.integer) and not isinstance(n_threads, bool)
        if not ok or not 1 <= n_threads <= limit:
            raise ProblemError(
                f"`n_threads` must be an integer in [1, {limit}] (NUMBA_NUM_THREADS), got "
                f"{n_threads!r}."
            )
        return max(1, min(int(n_threads), n_rows))

    def _evaluate_rows(
        self,
        X: ArrayLike,  # noqa: N803
        n_threads: int | None = None,
    ) -> tuple[FloatArray, IntArray]:
        """Evaluate rows locally with the batch kernel, without touching :attr:`stats`.

        Parameters
        ----------
        X : array_like, shape (n, n_params)
        n_threads : int, optional
            Threads for this call only (thread-local numba setting, restored afterwards).
            Default: the calling thread's ``numba.get_num_threads()``.

        Returns
        -------
        costs : ndarray, shape (n,), float64
            ``inf`` for failed rows.
        statuses : ndarray, shape (n,), int64
            Row statuses (0 success; see :func:`status_name`).
        """
        costs, statuses, _ = self._run_kernel(X, n_threads, per_output=False)
        return costs, statuses

    def _run_kernel(
        self,
        X: ArrayLike,  # noqa: N803
        n_threads: int | None,
        per_output: bool,
    ) -> tuple[FloatArray, IntArray, FloatArray | None]:
        """One call of the serving tier's batch kernel: ``(costs, statuses, values)``.

        ``values`` (n, n_outputs) is None unless ``per_output``, which runs the scalar
        ``batch_outputs_kernel`` (the same costs and statuses, bit for bit, plus the cost
        restricted to each output).
        """
        import numba

        rows = self._as_rows(X)
        n = rows.shape[0]
        costs = np.empty(n, dtype=np.float64)
        statuses = np.empty(n, dtype=np.int64)
        values = np.empty((n, self.n_outputs), dtype=np.float64) if per_output else None
        if n == 0:
            return costs, statuses, values
        threads = self._threads(n_threads, n)
        if n_threads is None and threads > 1 and self._small(n):
            threads = 1
        self.last_threads = threads
        self._kernels.refresh()  # a faster tier may be ready (possibly swapped in by another
        # user of the same model, so compare modules rather than trust refresh()'s answer)
        if self._kernel is None or self._kernel_module is not self._kernels.module:
            # The generic tier scores with the scalar batch kernel: the lanes index per-lane
            # views on every model call, and through an opaque kernel address each view costs
            # reference counting that the specialised tier's inlined calls optimise away
            # (measured 5x slower). Both kernels give the same costs, bit for bit.
            self._use_lanes = self._lanes and self._kernels.tier != "generic"
            self._kernel = _batch_kernel(self._kernels, self._use_lanes)
            self._kernel_module = self._kernels.module
            self._outputs_kernel = None
        kernel = self._kernel
        lanes = self._use_lanes and not per_output
        if per_output:
            if self._outputs_kernel is None:
                self._outputs_kernel = _batch_kernel(self._kernels, name="batch_outputs_kernel")
            kernel = self._outputs_kernel
        self.last_tier = self._kernels.tier
        n_chunks = 1 if threads == 1 else min(n, _CHUNKS_PER_THREAD * threads)
        if lanes:  # enough rows per chunk to keep the lanes busy
            n_chunks = min(n_chunks, max(threads, n // _LANE_CHUNK_ROWS))
        enc = self._enc
        outputs = (costs, statuses) if values is None else (costs, statuses, values)
        # Both numba settings are thread-local: other Python threads are unaffected. Each
        # set/get costs ~2 us, so unchanged settings are left alone (evaluate() pays ~4 us).
        previous = numba.get_num_threads()
        previous_chunk = numba.get_parallel_chunksize() if n_chunks > 1 else 0
        try:
            if threads != previous:
                numba.set_num_threads(threads)
            if previous_chunk != 1 and n_chunks > 1:
                numba.set_parallel_chunksize(1)  # chunks are handed out dynamically
            start = time.perf_counter()
            kernel(
                rows,
                (self._p_default, self._param_index, self.t0, self._times, self._obs),
                (self._method_code, self.rtol, self._atol, self.max_steps),
                (enc.kind, enc.weight, enc.out_weight, enc.sigma, enc.sigma_index),
                n_chunks,
                *outputs,
            )
            if threads == 1:
                self._row_seconds = (time.perf_counter() - start) / n
        finally:
            if previous_chunk != 1 and n_chunks > 1:
                numba.set_parallel_chunksize(previous_chunk)
            if threads != previous:
                numba.set_num_threads(previous)
        return costs, statuses, values

    def _small(self, n: int) -> bool:
        """Whether ``n`` rows are too little work for the thread pool (default threads only).

        The estimate is the last single-thread kernel time per row; before one is known,
        batches of up to ``_SMALL_BATCH_ROWS`` rows count as small (and measure it). Results
        do not depend on the thread count, so this changes only the time.
        """
        if self._row_seconds is None:
            return n <= _SMALL_BATCH_ROWS
        return n * self._row_seconds < _SMALL_BATCH_SECONDS

    def _record(self, statuses: IntArray) -> None:
        failed = statuses[statuses < 0]
        with self._lock:
            self.stats.evaluations += int(statuses.shape[0])
            if failed.size:
                codes, counts = np.unique(failed, return_counts=True)
                for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
                    name = status_name(code)
                    self.stats.failures[name] = self.stats.failures.get(name, 0) + count
            self.last_statuses = statuses

    def evaluate_batch(
        self,
        X: ArrayLike,  # noqa: N803
        n_threads: int | None = None,
        backend: BatchBackend | None = None,
        *,
        return_status: bool = False,
    ) -> Any:
        """Costs of many parameter sets at once.

        Parameters
        ----------
        X : array_like, shape (n, n_params)
            One parameter vector per row (columns :attr:`parameter_names`).
        n_threads : int, optional
            numba threads for this call (default: the calling thread's current setting,
            normally every core, except that a batch estimated below 1 ms of work on one
            thread runs on the calling thread alone). The setting of other callers is not
            changed.
        backend : object with ``map_blocks(problem, X) -> (costs, statuses)``, optional
            Evaluate elsewhere (e.g. a Dask cluster); default: local threads.
        return_status : bool, default False
            Also return the row statuses.

        Returns
        -------
        costs : ndarray, shape (n,), float64
            ``inf`` where the solve failed (never raises for a bad row).
        statuses : ndarray, shape (n,), int64
            Only with ``return_status=True``; also kept in :attr:`last_statuses`.

        Raises
        ------
        ProblemError
            ``X`` of the wrong shape, or ``n_threads`` outside [1, NUMBA_NUM_THREADS].

        Notes
        -----
        Results are bit-identical to ``[evaluate(x) for x in X]`` for any thread count. Rows
        are split into up to 16 chunks per thread, handed out dynamically, so a few slow rows
        do not hold up the batch. :attr:`stats` counts the rows and failures.
        """
        if backend is None:
            costs, statuses = self._evaluate_rows(X, n_threads)
        else:
            rows = self._as_rows(X)
            remote = [np.asarray(a) for a in backend.map_blocks(self, rows)]
            if len(remote) != 2 or any(a.shape != (rows.shape[0],) for a in remote):
                raise ProblemError(
                    f"`backend`.map_blocks returned arrays of shapes "
                    f"{[a.shape for a in remote]}; expected ({rows.shape[0]},) costs and "
                    f"statuses, one per row of X, in row order."
                )
            costs = remote[0].astype(np.float64, copy=False)
            statuses = remote[1].astype(np.int64, copy=False)
        self._record(statuses)
        return (costs, statuses) if return_status else costs

    def evaluate_batch_per_output(
        self,
        X: ArrayLike,  # noqa: N803
        n_threads: int | None = None,
        *,
        return_status: bool = False,
    ) -> Any:
        """The cost of many parameter sets restricted to each model output.

        Column ``j`` is the cost evaluated on output ``j``'s residuals alone (as if the data
        had only that output): for the objectives of a multi-objective optimiser (one
        objective per output, e.g. a Pareto front with NSGA-II) or to see which output
        dominates a fit. Per cost term, with ``S_j`` the sum of squared residuals of output
        ``j`` over the ``n_t`` data times, ``w`` the term weight and ``v_j`` the output
        weight:

        * ``SSE``: ``w v_j S_j``;
        * ``RMSE``: ``w sqrt(v_j S_j / n_t)``, the RMSE of that output's residuals;
        * ``GaussianNLL``: ``w v_j (n_t/2 ln(2 pi sigma_j^2) + S_j / (2 sigma_j^2))``, that
          output's share of the log-likelihood;

        and a sum of terms gives the sum of the restricted terms.

        Parameters
        ----------
        X : array_like, shape (n, n_params)
            One parameter vector per row (columns :attr:`parameter_names`).
        n_threads : int, optional
            numba threads for this call (as :meth:`evaluate_batch`).
        return_status : bool, default False
            Also return the row statuses.

        Returns
        -------
        values : ndarray, shape (n, n_outputs), float64
            ``inf`` in every column of a failed row (the rows that :meth:`evaluate_batch`
            fails; a value that overflows is also ``inf``).
        statuses : ndarray, shape (n,), int64
            Only with ``return_status=True``; also kept in :attr:`last_statuses`.

        Raises
        ------
        ProblemError
            ``X`` of the wrong shape, or ``n_threads`` outside [1, NUMBA_NUM_THREADS].

        Notes
        -----
        For ``SSE`` and ``GaussianNLL`` (and sums of them) the row's values add up to its
        :meth:`evaluate_batch` cost: exactly (bit for bit, adding the columns left to right)
        for a single term of weight 1, such as the default ``SSE()``, since the kernel adds
        the same products in the same order; to within rounding (a few ulp of the sum of
        the absolute terms) otherwise. ``RMSE`` is not additive: the total is
        ``w sqrt(sum_j (value_j / w)^2 / n_outputs)``. Rows are scored by the scalar batch
        kernel (not the lane-interleaved one that :meth:`evaluate_batch` may use for
        explicit solvers), with the same results. Local threads only: there is no
        ``backend``. :attr:`stats` counts the rows and failures. Results are bit-identical
        for any thread count.
        """
        _, statuses, values = self._run_kernel(X, n_threads, per_output=True)
        self._record(statuses)
        return (values, statuses) if return_status else values

    def evaluate(self, x: ArrayLike, *, return_status: bool = False) -> Any:
        """Cost of one parameter vector.

        Parameters
        ----------
        x : array_like, shape (n_params,)
            Values for :attr:`parameter_names`.
        return_status : bool, default False
            Also return the row status (0 success; :func:`status_name` gives its name).

        Returns
        -------
        float or (float, int)
            The cost, ``inf`` when the solve fails (the failure is counted in :attr:`stats`,
            never raised); with ``return_status=True`` the pair ``(cost, status)``.

        Raises
        ------
        ProblemError
            ``x`` of the wrong shape.
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 0 and self.n_params == 1:
            arr = arr.reshape(1)
        if arr.shape != (self.n_params,):
            raise ProblemError(
                f"`x` must have shape ({self.n_params},) (values for {self.parameter_names}), "
                f"got {arr.shape}."
            )
        costs, statuses = self._evaluate_rows(arr.reshape(1, -1), 1)
        self._record(statuses)
        cost = float(costs[0])
        return (cost, int(statuses[0])) if return_status else cost

    __call__ = evaluate

    @classmethod
    def from_function(
        cls, function: Any, parameters: Any, bounds: Any = None, **kwargs: Any
    ) -> Any:
        """A problem whose cost is a Python function, evaluated in parallel batches.

        Returns a :class:`~diffid_plugins.problem._function.FunctionProblem` (same surface as
        ``Problem``); see it for the arguments (``data=``/``cost=`` for the vector form,
        ``backend``, ``n_workers``, ``timeout``, ``max_errors``, ``progress``, ...).
        """
        from diffid_plugins.problem._function import FunctionProblem

        return FunctionProblem(function, parameters, bounds, **kwargs)

    def reset_stats(self) -> None:
        """Zero :attr:`stats`."""
        with self._lock:
            self.stats = ProblemStats()

    # ------------------------------------------------------------------ pickling
    def with_settings(
        self,
        *,
        rtol: float | None = None,
        atol: float | ArrayLike | None = None,
        method: str | None = None,
        max_steps: int | None = None,
    ) -> Problem:
        """A new problem on the same model, data, cost, parameters and bounds, with other
        solver settings (``None`` keeps the current value); the model is not recompiled.

        The nested sampler uses it to re-evaluate points at a tighter tolerance.
        """
        state = self._settings_state()
        for key, value in (("rtol", rtol), ("atol", atol), ("method", method)):
            if value is not None:
                state[key] = value
        if max_steps is not None:
            state["max_steps"] = max_steps
        model, data = state.pop("model"), state.pop("data")
        return type(self)(model, data, **state)

    def _settings_state(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "data": np.array(self._data),
            "cost": self.cost,
            "parameters": self._parameters_arg,
            "bounds": self._bounds_arg,
            "method": self.method,
            "rtol": self.rtol,
            "atol": self._atol_arg,
            "t0": self.t0,
            "max_steps": self.max_steps,
        }

    def __getstate__(self) -> dict[str, Any]:
        if self._kernels.tier == "bound":
            raise ArgumentTypeError(
                "This Problem's model cannot be pickled (a hand-written bind_model model); "
                "build the problem on a compile_model(text) model to send it to workers."
            )
        return self._settings_state()

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        state = dict(state)
        model = state.pop("model")
        data = state.pop("data")
        self.__init__(model, data, **state)  # type: ignore[misc]

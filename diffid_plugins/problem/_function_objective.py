"""The objective sent to workers by :class:`~diffid_plugins.problem._function.FunctionProblem`.

:class:`Objective` wraps the user's function: scalar form (the function returns the cost)
or vector form (it returns predictions, scored here against the data with the formulas of the
core batch kernel, ``_batch.py``, in the same order of operations). Also the mapping of a
failed call to its row status (the codes, names and messages of Python objectives live in
the package's status registry, :mod:`diffid_plugins._status_codes`, and are re-exported here)
and the argument checks of ``FunctionProblem``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins._status_codes import (
    STATUS_BAD_RESULT,
    STATUS_BAD_SIGMA,
    STATUS_NONFINITE_COST,
    STATUS_NONFINITE_PARAMS,
    STATUS_RAISED,
    STATUS_TIMEOUT,
    STATUS_WORKER_DIED,
    describe_status,
)
from diffid_plugins.errors import ArgumentTypeError, ResultTypeError
from diffid_plugins.parallel import TaskTimeoutError, WorkerDiedError
from diffid_plugins.problem._codes import COST_GAUSSIAN_NLL, COST_RMSE
from diffid_plugins.problem._costs import EncodedCost
from diffid_plugins.problem._validation import ProblemError

__all__ = [
    "FUNCTION_STATUS_NAMES",
    "STATUS_BAD_RESULT",
    "STATUS_RAISED",
    "STATUS_TIMEOUT",
    "STATUS_WORKER_DIED",
    "ObjectiveResultError",
    "check_names",
    "check_x0",
    "status_label",
    "status_of",
    "Objective",  # the callable sent to workers
]

_LOG_2PI = math.log(2.0 * math.pi)

FUNCTION_STATUS_NAMES: dict[int, str] = {
    code: describe_status(code).name
    for code in (
        STATUS_RAISED,
        STATUS_BAD_RESULT,
        STATUS_TIMEOUT,
        STATUS_WORKER_DIED,
        STATUS_NONFINITE_COST,
        STATUS_NONFINITE_PARAMS,
        STATUS_BAD_SIGMA,
    )
}
"""Name of each row status a :class:`FunctionProblem` can report (0 is success)."""


class ObjectiveResultError(ResultTypeError):
    """The objective returned something that is not a real scalar (or predictions array).

    A :class:`~diffid_plugins.errors.ResultTypeError` (so a ``DiffidError`` and a
    ``TypeError``); :func:`status_of` maps it to ``STATUS_BAD_RESULT``.
    """


def _score(
    predictions: NDArray[np.float64],
    data: NDArray[np.float64],
    cost: EncodedCost,
    x: NDArray[np.float64],
) -> float:
    """The core kernel's cost (``_batch.py``, ``_bt_row``) in numpy, in the same order.

    ``S_j = sum_i r_ij^2`` with ``r = predictions - data`` summed over times in order
    (``np.add.accumulate`` is sequential, as the kernel's loop); then per term
    ``SSE = w sum_j v_j S_j``, ``RMSE = w sqrt(sum_j v_j S_j / (n_t m))`` and
    ``NLL = w sum_j v_j (n_t/2 (ln 2 pi + ln sigma_j^2) + S_j / (2 sigma_j^2))``, where an
    estimated ``sigma_j`` is read from ``x``. Non-finite totals are returned as they are.
    """
    n_t, m = data.shape
    residuals = predictions - data
    sq = np.add.accumulate(residuals * residuals, axis=0)[-1]
    total = 0.0
    for term in range(cost.kind.shape[0]):
        value = 0.0
        if cost.kind[term] == COST_GAUSSIAN_NLL:
            for j in range(m):
                col = cost.sigma_index[term, j]
                s = float(cost.sigma[term, j] if col < 0 else x[col])
                var = s * s
                value += float(cost.out_weight[term, j]) * (
                    0.5 * n_t * (_LOG_2PI + math.log(var)) + float(sq[j]) / (2.0 * var)
                )
        else:
            for j in range(m):
                value += float(cost.out_weight[term, j]) * float(sq[j])
            if cost.kind[term] == COST_RMSE:
                value = math.sqrt(value / (n_t * m))
        total += float(cost.weight[term]) * value
    return total


class Objective:
    """The picklable callable sent to workers: ``x -> cost`` (a float, maybe NaN or inf).

    Scalar form when ``cost is None``; else ``function`` returns predictions that are scored
    against ``data`` (``(n_times, n_outputs)``, the data without its time column).
    """

    def __init__(
        self,
        function: Callable[[NDArray[np.float64]], Any],
        n_fit: int,
        data: NDArray[np.float64] | None,
        cost: EncodedCost | None,
    ) -> None:
        self.function = function
        self.n_fit = n_fit
        self.data = data
        self.cost = cost

    def __call__(self, x: NDArray[np.float64]) -> float:
        value = self.function(x[: self.n_fit].copy())
        if self.data is None or self.cost is None:
            return _as_scalar(value)
        return _score(_as_predictions(value, self.data.shape), self.data, self.cost, x)


def _as_scalar(value: Any) -> float:
    array = np.asarray(value) if value is not None else np.asarray(None, dtype=object)
    if array.shape != () or array.dtype.kind not in "biuf":
        raise ObjectiveResultError(
            f"the objective returned {value!r} (type {type(value).__name__}), but a scalar "
            "objective must return a real number: the cost. For predictions, pass `data=`."
        )
    return float(array)


def _as_predictions(value: Any, shape: tuple[int, ...]) -> NDArray[np.float64]:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ObjectiveResultError(
            f"the objective returned {type(value).__name__}, which is not an array of numbers "
            f"({exc}); with `data=` it must return predictions of shape {shape}."
        ) from exc
    if array.ndim == 1 and shape[1] == 1:
        array = array[:, None]
    if array.shape != shape:
        raise ObjectiveResultError(
            f"the objective returned predictions of shape {array.shape}, but `data` needs "
            f"{shape}: one row per data time, one column per output (data column 1 on)."
        )
    return array


def status_of(error: BaseException) -> int:
    """The row status of a failed call: TIMEOUT, WORKER_DIED, BAD_RESULT or RAISED."""
    if isinstance(error, TaskTimeoutError):
        return STATUS_TIMEOUT
    if isinstance(error, WorkerDiedError):
        return STATUS_WORKER_DIED
    if isinstance(error, ObjectiveResultError):
        return STATUS_BAD_RESULT
    return STATUS_RAISED


def status_label(code: int) -> str:
    """Name of a row status of a :class:`FunctionProblem` (or of the ODE problem).

    The same as :func:`~diffid_plugins.problem.status_name`: both read the status registry.

    Examples
    --------
    >>> status_label(-30), status_label(-23)
    ('RAISED', 'NONFINITE_PARAMS')
    """
    return describe_status(code).name


def check_names(parameters: Sequence[str]) -> list[str]:
    """The parameter names as a list: non-empty strings, each once.

    Examples
    --------
    >>> check_names(("a", "b"))
    ['a', 'b']
    """
    if isinstance(parameters, str) or not isinstance(parameters, Sequence):
        raise ArgumentTypeError(
            f"`parameters` must be a list of parameter names (str), got {parameters!r}; "
            "write e.g. parameters=['a', 'b'] (one name per entry of `x`)."
        )
    names = list(parameters)
    if not names:
        raise ProblemError("`parameters` is empty; name at least one parameter.")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError(
                f"`parameters` must hold non-empty names (str), got {name!r} of type "
                f"{type(name).__name__}; write e.g. parameters=['a', 'b']."
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ProblemError(f"`parameters` lists {repeated} more than once; name each once.")
    return names


def check_x0(
    x0: ArrayLike | None,
    bounds: Sequence[tuple[float, float]],
    n_fit: int,
    sigma_x0: Sequence[float],
) -> NDArray[np.float64]:
    """The starting point: given, or the middle of the box (a finite end; 0) per parameter."""
    if x0 is None:
        box = np.array(bounds, dtype=np.float64).reshape(len(bounds), 2)
        lo, hi = box[:, 0], box[:, 1]
        start = np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0))
        boxed = np.isfinite(lo) & np.isfinite(hi)
        start[boxed] = 0.5 * (lo[boxed] + hi[boxed])
        start[n_fit:] = sigma_x0  # a noise level starts at the cost's sigma
        return start
    try:
        values = np.array(x0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"`x0` must be an array of numbers; {exc}.") from exc
    if values.shape != (len(bounds),) or not np.isfinite(values).all():
        raise ProblemError(
            f"`x0` must hold {len(bounds)} finite numbers (one per parameter), got {x0!r}."
        )
    return values

"""A problem of our own for the pymoo adapter tests: wraps a ``Problem`` and counts calls.

Module-level (so it pickles by reference). It is a :class:`ProblemLike` (and a
``PerOutputProblemLike``) in its own right, not a mock of pymoo: pymoo runs for real against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class CountingProblem:
    """Forwards to ``inner`` and counts batch calls and rows.

    ``fail_above`` (optional): rows whose first parameter exceeds it cost ``inf`` (status -99)
    in every objective, a stand-in for failed solves in a chosen region. ``nan_rows``: return
    NaN instead of ``inf`` for those rows (a third-party problem that breaks the contract).
    """

    def __init__(self, inner: Any, fail_above: float | None = None, nan_rows: bool = False):
        self.inner = inner
        self.fail_above = fail_above
        self.nan_rows = nan_rows
        self.parameter_names = list(inner.parameter_names)
        self.n_params = inner.n_params
        self.last_statuses = None
        self.calls = 0
        self.rows = 0
        self.thread_args: list[Any] = []

    @property
    def x0(self) -> np.ndarray:
        return self.inner.x0

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return self.inner.bounds

    @property
    def n_outputs(self) -> int:
        return self.inner.n_outputs

    def _count(self, X: Any, n_threads: Any) -> np.ndarray:  # noqa: N803
        X = np.asarray(X, dtype=np.float64)  # noqa: N806
        self.calls += 1
        self.rows += X.shape[0]
        self.thread_args.append(n_threads)
        return X

    def _fail(self, X: np.ndarray, values: np.ndarray, statuses: np.ndarray) -> None:  # noqa: N803
        if self.fail_above is not None:
            bad = X[:, 0] > self.fail_above
            values[bad] = np.nan if self.nan_rows else np.inf
            statuses[bad] = -99
        self.last_statuses = statuses

    def evaluate_batch(self, X, n_threads=None, backend=None, *, return_status=False):  # noqa: N803
        X = self._count(X, n_threads)  # noqa: N806
        costs, statuses = self.inner.evaluate_batch(X, n_threads, return_status=True)
        self._fail(X, costs, statuses)
        return (costs, statuses) if return_status else costs

    def evaluate_batch_per_output(self, X, n_threads=None, *, return_status=False):  # noqa: N803
        X = self._count(X, n_threads)  # noqa: N806
        values, statuses = self.inner.evaluate_batch_per_output(X, n_threads, return_status=True)
        self._fail(X, values, statuses)
        return (values, statuses) if return_status else values

    def evaluate(self, x, *, return_status=False):
        costs, statuses = self.evaluate_batch(np.asarray(x)[None, :], 1, return_status=True)
        return (costs[0], statuses[0]) if return_status else costs[0]

    def reset_stats(self) -> None:
        self.inner.reset_stats()

"""``Counting``: a ProblemLike that forwards to a problem and records each batch's size.

Used by the Optuna driver tests to show one ``evaluate_batch`` call per generation (a
wrapper of our own, not a mock of Optuna).
"""

from __future__ import annotations

from typing import Any


class Counting:
    """Forwards to ``problem``; ``calls`` lists the row count of every ``evaluate_batch``."""

    def __init__(self, problem: Any) -> None:
        self.problem = problem
        self.parameter_names = problem.parameter_names
        self.n_params = problem.n_params
        self.bounds = problem.bounds
        self.x0 = problem.x0
        self.last_statuses = None
        self.calls: list[int] = []

    def evaluate_batch(self, X: Any, n_threads: Any = None, **kwargs: Any) -> Any:  # noqa: N803
        self.calls.append(len(X))
        return self.problem.evaluate_batch(X, n_threads=n_threads, **kwargs)

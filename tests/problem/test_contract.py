"""``Problem`` and ``FunctionProblem`` both satisfy the ``ProblemLike`` contract
(``tests/contracts.py``): the same checks run on each."""

from __future__ import annotations

import sys
from pathlib import Path

import _function_objectives as objectives
import numpy as np

from diffid_plugins import CompiledModel, Problem
from diffid_plugins.problem import FunctionProblem, ProblemLike

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contracts import check_problem_contract  # noqa: E402

GOOD = np.array([[1.1, 0.4, 0.1, 0.4], [1.0, 0.5, 0.1, 0.3]])
BAD = np.array([np.nan, 0.4, 0.1, 0.4])


def test_problem_satisfies_the_contract(lv_model: CompiledModel, lv_data: np.ndarray) -> None:
    problem = Problem(lv_model, lv_data, bounds=[(0.5, 2), (0.1, 1), (0.01, 0.5), (0.1, 1)])
    check_problem_contract(problem, GOOD, BAD)


def test_function_problem_satisfies_the_contract() -> None:
    with FunctionProblem(
        objectives.fails_when_negative, ["a", "b", "c", "d"], backend="thread", n_workers=2
    ) as problem:
        assert isinstance(problem, ProblemLike)
        check_problem_contract(problem, np.abs(GOOD), np.array([-1.0, 0.0, 0.0, 0.0]))

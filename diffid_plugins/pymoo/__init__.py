"""pymoo adapter: a diffid_plugins problem as a vectorised ``pymoo.core.problem.Problem``.

:class:`PymooProblem` lets every pymoo algorithm (GA, DE, PSO, CMAES, NSGA2, NSGA3, ...)
optimise a :class:`~diffid_plugins.Problem` (or any
:class:`~diffid_plugins.problem.ProblemLike`) with one ``evaluate_batch`` call per population::

    from pymoo.algorithms.soo.nonconvex.de import DE
    from pymoo.optimize import minimize
    from diffid_plugins.pymoo import PymooProblem

    pp = PymooProblem(problem)                       # or objectives="per_output"
    res = minimize(pp, DE(pop_size=40), ("n_gen", 100), seed=1)

This subpackage imports pymoo (it is the only one that does); ``import diffid_plugins`` does
not import it.
"""

from __future__ import annotations

from diffid_plugins.pymoo._problem import OBJECTIVES, PymooProblem

__all__ = ["OBJECTIVES", "PymooProblem"]

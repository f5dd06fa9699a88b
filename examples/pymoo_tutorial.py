"""Fit diffid's tutorial problem (Lotka-Volterra) with pymoo through ``PymooProblem``.

Run from the repository root::

    python examples/pymoo_tutorial.py

1. Differential evolution (pymoo's ``DE``) over the tutorial's search box, each generation
   scored by one parallel ``evaluate_batch`` call, then a Nelder-Mead polish from its best
   point; the result is re-scored with a tight solver tolerance.
2. NSGA-II on ``objectives="per_output"``: the prey and predator SSE as two objectives, a
   Pareto front of the trade-off between fitting one species and the other.

The first run compiles the model (some seconds); later runs load it from the disk cache.
Takes a few seconds in all.
"""

from __future__ import annotations

import time

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.algorithms.soo.nonconvex.de import DE
from pymoo.algorithms.soo.nonconvex.nelder import NelderMead
from pymoo.optimize import minimize

from diffid_plugins import SSE, Problem, compile_model
from diffid_plugins.examples import TUTORIAL_BOX, TUTORIAL_TRUE, tutorial_data, tutorial_text
from diffid_plugins.problem import status_name
from diffid_plugins.pymoo import PymooProblem


def main() -> None:
    model = compile_model(tutorial_text())
    data = tutorial_data()  # 500 noisy (prey, predator) points on [0, 100]
    box = [tuple(b) for b in TUTORIAL_BOX]  # pymoo needs finite bounds for every parameter
    problem = Problem(model, data, cost=SSE(), bounds=box)
    accurate = Problem(model, data, cost=SSE(), rtol=1e-10, atol=1e-12)
    pp = PymooProblem(problem)
    print(pp.__repr__())

    # 1. DE over the box (one batch of 40 rows per generation), then a local polish.
    start = time.perf_counter()
    de = minimize(pp, DE(pop_size=40, variant="DE/best/1/bin", CR=0.9, F=0.6), ("n_gen", 80),
                  seed=1)  # fmt: skip
    de_batches = pp.n_batches
    polish = minimize(pp, NelderMead(x0=de.X), ("n_eval", 400), seed=1)
    elapsed = time.perf_counter() - start
    statuses = de.pop.get("status")
    print(f"\nDE: {de.algorithm.evaluator.n_eval} evaluations in {de_batches} batches")
    print(f"  best SSE {de.F[0]:.2f}; after Nelder-Mead ({polish.algorithm.evaluator.n_eval} "
          f"evaluations) {polish.F[0]:.2f}; {elapsed:.2f} s in all")  # fmt: skip
    print(f"  SSE re-scored with rtol 1e-10: {accurate.evaluate(polish.X):.2f}")
    print("  parameter      fit     true")
    for name, value, true in zip(problem.parameter_names, polish.X, TUTORIAL_TRUE, strict=True):
        print(f"  {name:>9} {value:8.4f} {true:8.4f}")
    failed = sorted({status_name(int(s)) for s in statuses if s < 0})
    print(f"  failed rows in DE's final population: {int(np.sum(statuses < 0))} {failed}")
    print(f"  problem stats: {problem.stats.as_dict()}")

    # 2. NSGA-II on the two outputs: a Pareto front of prey SSE vs predator SSE.
    po = PymooProblem(problem, objectives="per_output")
    start = time.perf_counter()
    res = minimize(po, NSGA2(pop_size=40), ("n_gen", 60), seed=1)
    elapsed = time.perf_counter() - start
    front = res.F[np.argsort(res.F[:, 0])]
    print(f"\nNSGA-II (per_output): {len(front)} Pareto points in {elapsed:.2f} s")
    print("   prey SSE  predator SSE      total")
    for f in front[:: max(1, len(front) // 6)]:
        print(f"  {f[0]:9.2f}  {f[1]:12.2f}  {f[0] + f[1]:9.2f}")


if __name__ == "__main__":
    main()

"""Score a population of parameter sets on diffid's tutorial problem (Lotka-Volterra).

Run from the repository root::

    python examples/tutorial_population.py

The first run compiles the model with numba (some seconds); later runs load it from the disk
cache. Prints the cheapest parameter sets of a random population, the failures, and the time
per evaluation on 1 and 2 threads.
"""

from __future__ import annotations

import time

import numpy as np

from diffid_plugins import SSE, Problem, compile_model
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text
from diffid_plugins.problem import status_name


def main() -> None:
    # The tutorial's model and data: 500 noisy points of (prey, predator) on [0, 100].
    model = compile_model(tutorial_text())
    problem = Problem(
        model,
        tutorial_data(),
        cost=SSE(),
        bounds=[tuple(b) for b in TUTORIAL_BOX],
        rtol=1e-6,
        atol=1e-8,
    )
    print(problem)

    # A population: uniform draws from the search box, plus the model's defaults.
    rng = np.random.default_rng(42)
    lower, upper = np.array(problem.bounds).T
    X = np.vstack([problem.x0, rng.uniform(lower, upper, (4999, problem.n_params))])

    for n_threads in (1, 2):
        start = time.perf_counter()
        costs, statuses = problem.evaluate_batch(X, n_threads=n_threads, return_status=True)
        elapsed = time.perf_counter() - start
        print(
            f"{len(X)} evaluations on {n_threads} thread(s): {elapsed:.3f} s "
            f"({1e6 * elapsed / len(X):.1f} us per evaluation)"
        )

    print()
    print(f"{'rank':>4}  " + "  ".join(f"{n:>7}" for n in problem.parameter_names) + "        SSE")
    for rank, i in enumerate(np.argsort(costs)[:8], start=1):
        values = "  ".join(f"{v:7.4f}" for v in X[i])
        print(f"{rank:>4}  {values}  {costs[i]:9.2f}")

    failed = statuses < 0
    names = sorted({status_name(s) for s in statuses[failed]})
    print(f"\nfailed rows: {int(failed.sum())} {names}; stats: {problem.stats.as_dict()}")


if __name__ == "__main__":
    main()

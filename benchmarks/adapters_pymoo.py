"""Benchmark: pymoo DE and CMAES through ``PymooProblem`` (vectorised) vs an elementwise problem.

Both variants run the same pymoo algorithm with the same seed on the seed tutorial (diffid's
Lotka-Volterra fit, ``TUTORIAL_BOX``, SSE):

* ``vectorised``: :class:`diffid_plugins.pymoo.PymooProblem`, one ``evaluate_batch`` call per
  generation (numba threads over the rows: every core, or ``--threads``);
* ``vectorised/1``: the same on one thread (the batch without thread start-up: on a busy
  machine, waking the other threads of a parallel region can cost more than a small batch);
* ``elementwise``: a ``pymoo.core.problem.ElementwiseProblem`` whose ``_evaluate`` calls
  ``problem.evaluate(x)`` for one point (what a user writes by hand; pymoo's default looped
  runner).

``problem.evaluate`` equals ``evaluate_batch`` bit for bit, so both variants follow the same
trajectory and reach the same final SSE (the table checks it: ``same``). Time per generation is
measured with a ``minimize`` callback (wall clock between consecutive generations, the first
generation, which includes setup and the initial sampling, left out); per run its median is
taken, then the median and min-max spread over seeds. ``ratio`` is the median over seeds of
elementwise / vectorised time per generation (the variants run the same seed back to back, so
slow drifts of a shared machine cancel). ``hits``: runs whose final point re-scored with a
tight solver tolerance (rtol 1e-10) has SSE <= 330 (issue 8's criterion).

Run from the repository root::

    python benchmarks/adapters_pymoo.py [--quick] [--seeds 10] [--threads N]

``run(seeds=..., quick=False)`` returns the rows as dicts (``benchmarks/adapters.py`` imports it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from pymoo.algorithms.soo.nonconvex.cmaes import CMAES
from pymoo.algorithms.soo.nonconvex.de import DE
from pymoo.core.problem import ElementwiseProblem
from pymoo.optimize import minimize

from diffid_plugins import SSE, Problem, compile_model
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text
from diffid_plugins.pymoo import PymooProblem

__all__ = ["ElementwiseTutorial", "main", "run"]

HIT_SSE = 330.0


class ElementwiseTutorial(ElementwiseProblem):
    """The hand-written peer: pymoo calls ``_evaluate`` once per point."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        lower, upper = np.array(problem.bounds).T
        super().__init__(n_var=problem.n_params, n_obj=1, xl=lower, xu=upper)

    def _evaluate(self, x: Any, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        out["F"] = self.problem.evaluate(x)


def _algorithms(quick: bool) -> dict[str, tuple[Any, int]]:
    """Name -> (algorithm factory, generations)."""
    n_gen = 20 if quick else 100
    return {
        "DE (pop 40)": (lambda: DE(pop_size=40, variant="DE/best/1/bin", CR=0.9, F=0.6), n_gen),
        "CMAES (pop 16)": (lambda: CMAES(popsize=16, sigma=0.3), n_gen),
    }


def _timed_run(pymoo_problem: Any, algorithm: Any, n_gen: int, seed: int) -> dict[str, Any]:
    stamps: list[float] = []
    start = time.perf_counter()
    res = minimize(
        pymoo_problem,
        algorithm,
        ("n_gen", n_gen),
        seed=seed,
        callback=lambda _: stamps.append(time.perf_counter()),
    )
    total = time.perf_counter() - start
    per_gen = np.diff(stamps)  # generation k's own work (the first one, with setup, left out)
    return {
        "x": np.asarray(res.X, dtype=np.float64).reshape(-1),
        "sse": float(np.asarray(res.F).reshape(-1)[0]),
        "gen_s": float(np.median(per_gen)) if per_gen.size else float("nan"),
        "n_gen": len(stamps),
        "n_eval": int(res.algorithm.evaluator.n_eval),
        "total_s": total,
    }


def run(
    seeds: Iterable[int] = range(1, 11), quick: bool = False, n_threads: int | None = None
) -> list[dict[str, Any]]:
    """Run every algorithm and variant on every seed; one summary row per (algorithm, variant).

    Parameters
    ----------
    seeds : iterable of int
        pymoo seeds (each variant runs each seed). Not 0: pymoo passes the seed to pycma,
        which reads 0 as "seed from the clock", so CMAES with seed 0 does not reproduce.
    quick : bool
        20 generations instead of 100 (and the caller usually passes fewer seeds).
    n_threads : int, optional
        Threads of the vectorised variant's batches (default: every core).

    Returns
    -------
    list of dict
        Keys: ``host``, ``algorithm``, ``variant``, ``seeds``, ``generations`` (median run
        length), ``evaluations`` (median per run), ``gen_ms_median``, ``gen_ms_min``,
        ``gen_ms_max`` (over seeds of the per-run median), ``ratio`` (elementwise time per
        generation / this variant's, median over seeds: the speed-up; 1.0 on the elementwise
        row), ``sse_median``,
        ``sse_best``, ``hits`` (accurate SSE <= 330), ``same`` (both variants reached the
        same point on every seed), ``total_s``.
    """
    seeds = list(seeds)
    model = compile_model(tutorial_text())
    data = tutorial_data()
    box = [tuple(b) for b in TUTORIAL_BOX]
    problem = Problem(model, data, cost=SSE(), bounds=box)
    accurate = Problem(model, data, cost=SSE(), rtol=1e-10, atol=1e-12)
    variants = {
        "vectorised": PymooProblem(problem, n_threads=n_threads),
        "vectorised/1": PymooProblem(problem, n_threads=1),
        "elementwise": ElementwiseTutorial(problem),
    }
    problem.evaluate_batch(np.tile(problem.x0, (4, 1)))  # compile / load before timing
    rows: list[dict[str, Any]] = []
    for name, (factory, n_gen) in _algorithms(quick).items():
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for seed in seeds:
            for variant, pymoo_problem in variants.items():
                runs[variant].append(_timed_run(pymoo_problem, factory(), n_gen, seed))
        same = all(
            np.array_equal(e["x"], v["x"])
            for variant in variants
            for e, v in zip(runs["elementwise"], runs[variant], strict=True)
        )
        for variant, results in runs.items():
            ratios = [
                e["gen_s"] / v["gen_s"] for e, v in zip(runs["elementwise"], results, strict=True)
            ]
            gen_ms = [1e3 * r["gen_s"] for r in results]
            sse = [r["sse"] for r in results]
            hits = sum(accurate.evaluate(r["x"]) <= HIT_SSE for r in results)
            rows.append(
                {
                    "host": "pymoo",
                    "algorithm": name,
                    "variant": variant,
                    "seeds": len(results),
                    "generations": int(statistics.median(r["n_gen"] for r in results)),
                    "evaluations": int(statistics.median(r["n_eval"] for r in results)),
                    "gen_ms_median": statistics.median(gen_ms),
                    "gen_ms_min": min(gen_ms),
                    "gen_ms_max": max(gen_ms),
                    "ratio": statistics.median(ratios),
                    "sse_median": statistics.median(sse),
                    "sse_best": min(sse),
                    "hits": int(hits),
                    "same": same,
                    "total_s": sum(r["total_s"] for r in results),
                }
            )
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'algorithm':<15} {'variant':<13} {'gens':>5} {'evals':>6} {'ms/gen (min-max)':>22} "
        f"{'ratio':>6} {'SSE median':>11} {'best':>8} {'hits':>6} {'same':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        spread = f"{r['gen_ms_median']:.2f} ({r['gen_ms_min']:.2f}-{r['gen_ms_max']:.2f})"
        lines.append(
            f"{r['algorithm']:<15} {r['variant']:<13} {r['generations']:>5} "
            f"{r['evaluations']:>6} {spread:>22} {r['ratio']:>5.1f}x {r['sse_median']:>11.2f} "
            f"{r['sse_best']:>8.2f} {r['hits']:>3}/{r['seeds']:<2} "
            f"{'yes' if r['same'] else 'NO':>5}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 generations, 3 seeds")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 10)")
    parser.add_argument("--threads", type=int, default=None, help="threads of the batches")
    args = parser.parse_args()
    n_seeds = args.seeds if args.seeds is not None else (3 if args.quick else 10)
    start = time.perf_counter()
    rows = run(seeds=range(1, n_seeds + 1), quick=args.quick, n_threads=args.threads)
    print(_table(rows))
    load = os.getloadavg()[0]
    print(
        f"\n{n_seeds} seeds; {time.perf_counter() - start:.1f} s; 1-minute load average "
        f"{load:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()

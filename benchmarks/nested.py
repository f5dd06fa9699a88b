"""The seed tutorial's evidence: our nested sampler against UltraNest and an independent reference.

Run from the repository root::

    python benchmarks/nested.py               # ~3-5 minutes (reference from the JSON cache)
    python benchmarks/nested.py --recompute   # recompute the reference (~1 minute more)
    python benchmarks/nested.py --quick       # smoke run: one seed, one budget repeat
    python benchmarks/nested.py --json out.json

The posterior (issue 9): the seed tutorial's Lotka-Volterra fit, ``GaussianNLL(sigma=0.3)``
(normalising constant included), ``logL = -cost``, prior uniform on ``TUTORIAL_BOX``
(4 parameters). The sampled likelihood is solved at rtol 1e-8 and atol 1e-8: the tutorial's
and ``Problem``'s default atol (the issue only tightens rtol from 1e-6). The reference reports
that atol 1e-10 would move logL by less than 0.001 on posterior points, far below the goal.

Rows of the table:

* **reference**: ``nested_reference.reference_logz`` (re-exported here), importance sampling
  with a heavy-tailed Student-t proposal at rtol 1e-10 / atol 1e-12, with the Laplace value,
  a check proposal, the solver-tolerance shifts and the secondary-mode bound (see that
  module's docstring). Cached in ``benchmarks/nested_reference.json``; how it was made is
  printed every time.
* **UltraNest** 4.6 ``ReactiveNestedSampler(..., vectorized=True)`` on the same
  ``evaluate_batch`` likelihood, ``run(show_status=False, viz_callback=False)`` with its
  default targets, no log_dir, logging silenced (a non-finite logL would become -1e100,
  UltraNest's own convention; none occurs here).
* **ours**: ``DynamicNestedSampler.from_problem(problem, seed=s).run_nested(logzerr_target=0.15)``
  (the goal's error bar as the stop target; posterior ESS target at its default) for several
  seeds, their median and spread (min-max), then once at rtol 1e-6 with its ``solver_check``
  (the solver's share of the error). "not available" while ``diffid_plugins.nested`` (with
  ``from_problem``) is missing.

Goals (issue 9): |logZ - reference| <= 0.15, logzerr <= 0.15, the wall time of our run <= the
time of 100 000 likelihood evaluations measured in the same run (``evaluate_batch`` in batches
of 1 000 on 2 threads; rows uniform on the box and rows from the posterior; the goal uses the
smaller of the two), and calls <= UltraNest's calls / 3.

Threads: numba batches on 2 threads (the machine's cores); BLAS on one thread (idle OpenBLAS
threads spin and steal the second core). Background compiles are off and the specialised tier
is compiled explicitly. Times drift by tens of percent on a shared machine: the load average is
printed with them.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("DIFFID_PLUGINS_BACKGROUND", "0")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nested_reference import (  # noqa: E402
    BENCH_TOL,
    DEFAULT_TOL,
    describe_reference,
    reference_logz,
    tutorial_problem,
)

from diffid_plugins import Problem  # noqa: E402
from diffid_plugins.examples import TUTORIAL_BOX  # noqa: E402

__all__ = [
    "main",
    "reference_logz",
    "run_ours",
    "run_ours_solver_check",
    "run_ultranest",
    "time_budget",
]

FloatArray = NDArray[np.float64]

BUDGET_EVALS = 100_000
BUDGET_BATCH = 1_000
GOAL_DLOGZ = 0.15
GOAL_LOGZERR = 0.15
GOAL_CALL_RATIO = 3.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _loglike(problem: Problem, X: FloatArray) -> FloatArray:
    out: FloatArray = -problem.evaluate_batch(X)
    return out


# --- UltraNest -----------------------------------------------------------------------------------
def run_ultranest(problem: Problem, seed: int = 0) -> dict[str, Any]:
    """UltraNest 4.6 ``ReactiveNestedSampler(vectorized=True)``, default targets.

    Returns
    -------
    dict
        ``logz``, ``logzerr``, ``calls``, ``wall`` (s), ``seed``.
    """
    import ultranest

    for name in ("ultranest", "ultranest.integrator"):
        logger = logging.getLogger(name)
        if not logger.handlers:  # keeps create_logger from adding its stdout handler
            logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.WARNING)
    lo, span = TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1] - TUTORIAL_BOX[:, 0]

    def loglike(X: FloatArray) -> FloatArray:
        logl = _loglike(problem, np.ascontiguousarray(X))
        logl[~np.isfinite(logl)] = -1e100
        return logl

    def transform(U: FloatArray) -> FloatArray:
        out: FloatArray = lo + U * span
        return out

    np.random.seed(seed)  # noqa: NPY002 (UltraNest draws from numpy's global generator)
    start = time.perf_counter()
    sampler = ultranest.ReactiveNestedSampler(
        list(problem.parameter_names), loglike, transform, vectorized=True
    )
    result = sampler.run(show_status=False, viz_callback=False)
    wall = time.perf_counter() - start
    return {
        "logz": float(result["logz"]),
        "logzerr": float(result["logzerr"]),
        "calls": int(result["ncall"]),
        "wall": wall,
        "seed": seed,
    }


# --- the budget: 100 000 evaluations -------------------------------------------------------------
def time_budget(
    problem: Problem, posterior_points: FloatArray, repeats: int, seed: int = 0
) -> dict[str, Any]:
    """Time ``BUDGET_EVALS`` rows through ``evaluate_batch`` in batches of 1 000 on 2 threads.

    Parameters
    ----------
    problem : Problem
    posterior_points : ndarray, shape (m, 4)
        Equal-weight posterior points; the posterior rows are drawn from them with replacement.
    repeats : int
        Timed passes per row kind (alternating kinds); the median is reported.

    Returns
    -------
    dict
        Per kind (``uniform``, ``posterior``): ``seconds`` (median), ``min``, ``max``,
        ``us_per_eval``; and ``budget_seconds`` (the smaller median), ``n_threads``.
    """
    rng = np.random.default_rng(seed)
    lo, hi = TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1]
    rows = {
        "uniform": rng.uniform(lo, hi, (BUDGET_EVALS, lo.size)),
        "posterior": posterior_points[rng.integers(0, len(posterior_points), BUDGET_EVALS)],
    }
    n_threads = min(2, os.cpu_count() or 1)
    times: dict[str, list[float]] = {k: [] for k in rows}

    def one_pass(X: FloatArray) -> float:
        start = time.perf_counter()
        for i in range(0, len(X), BUDGET_BATCH):
            problem.evaluate_batch(X[i : i + BUDGET_BATCH], n_threads=n_threads)
        return time.perf_counter() - start

    for X in rows.values():
        problem.evaluate_batch(X[:BUDGET_BATCH], n_threads=n_threads)  # warm the pool
    for _ in range(repeats):
        for kind, X in rows.items():
            times[kind].append(one_pass(X))
    out: dict[str, Any] = {"n_threads": n_threads, "repeats": repeats}
    for kind, t in times.items():
        med = statistics.median(t)
        out[kind] = {
            "seconds": med,
            "min": min(t),
            "max": max(t),
            "us_per_eval": 1e6 * med / BUDGET_EVALS,
        }
    out["budget_seconds"] = min(out["uniform"]["seconds"], out["posterior"]["seconds"])
    return out


# --- ours ----------------------------------------------------------------------------------------
def _sampler_class() -> Any:
    """``DynamicNestedSampler`` when it is importable and has ``from_problem``, else None."""
    try:
        from diffid_plugins.nested import DynamicNestedSampler
    except ImportError:
        return None
    return DynamicNestedSampler if hasattr(DynamicNestedSampler, "from_problem") else None


def run_ours(problem: Problem, seed: int) -> dict[str, Any] | None:
    """Our ``DynamicNestedSampler.from_problem(problem, seed=seed).run_nested()``.

    Returns
    -------
    dict or None
        ``logz``, ``logzerr``, ``calls`` (sum of ``results.ncall``), ``wall`` (s, sampler
        construction included), ``seed``, ``solver_check`` (dict or None); None when
        ``diffid_plugins.nested`` is not importable.
    """
    cls = _sampler_class()
    if cls is None:
        return None
    start = time.perf_counter()
    sampler = cls.from_problem(problem, seed=seed)
    sampler.run_nested(logzerr_target=GOAL_LOGZERR)
    wall = time.perf_counter() - start
    res = sampler.results
    return {
        "logz": float(res.logz[-1]),
        "logzerr": float(res.logzerr[-1]),
        "calls": int(np.sum(res.ncall)),
        "wall": wall,
        "seed": seed,
        "solver_check": getattr(res, "solver_check", None),
    }


def run_ours_solver_check(seed: int = 0) -> dict[str, Any] | None:
    """The same run at the default rtol 1e-6 (its ``solver_check`` is the point)."""
    return run_ours(tutorial_problem(*DEFAULT_TOL), seed)


# --- report --------------------------------------------------------------------------------------
def _row(name: str, r: dict[str, Any], ref_logz: float, spread: str = "") -> str:
    us = 1e6 * r["wall"] / r["calls"] if r.get("calls") else math.nan
    err = f"{r['logzerr']:.3f}" if r.get("logzerr") is not None else "-"
    return (
        f"{name:<24} {r['logz']:>11.3f} {err:>8} {r['calls']:>9} {r['wall']:>8.1f} {us:>8.1f} "
        f"{abs(r['logz'] - ref_logz):>8.3f} {spread}"
    )


def _header() -> list[str]:
    head = (
        f"{'':<24} {'logZ':>11} {'logzerr':>8} {'calls':>9} {'wall s':>8} {'us/call':>8} "
        f"{'|dlogZ|':>8} spread (min-max)"
    )
    return [head, "-" * len(head)]


def _goals(r: dict[str, Any], ref_logz: float, budget_s: float, un_calls: int | None) -> str:
    checks = [
        ("|dlogZ| <= 0.15", abs(r["logz"] - ref_logz) <= GOAL_DLOGZ),
        ("logzerr <= 0.15", r["logzerr"] <= GOAL_LOGZERR),
        (f"wall <= T(100k) = {budget_s:.1f} s", r["wall"] <= budget_s),
    ]
    if un_calls is not None:
        checks.append(
            (
                f"calls <= UltraNest/3 = {un_calls / GOAL_CALL_RATIO:.0f}",
                r["calls"] <= un_calls / GOAL_CALL_RATIO,
            )
        )
    return "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks)


def _machine() -> str:
    try:
        up = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:
        up = ""
    import numba

    try:
        import ultranest

        un = ultranest.__version__
    except ImportError:
        un = "missing"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"UltraNest {un}; uptime: {up.strip()}"
    )


def _spread(values: list[float], fmt: str) -> str:
    return f"{format(min(values), fmt)} to {format(max(values), fmt)}"


def _median_row(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    keys = ("logz", "logzerr", "calls", "wall")
    med: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in keys}
    med["calls"] = int(med["calls"])
    logz, calls, wall = ([r[k] for r in runs] for k in ("logz", "calls", "wall"))
    spread = (
        f"logZ {_spread(logz, '.3f')}, calls {_spread(calls, 'd')}, wall {_spread(wall, '.1f')}"
    )
    return med, spread


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run every part and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, one budget repeat")
    parser.add_argument("--recompute", action="store_true", help="recompute the IS reference")
    parser.add_argument("--seeds", type=int, default=None, help="seeds of ours (default 3)")
    parser.add_argument("--repeats", type=int, default=None, help="budget passes (default 3)")
    parser.add_argument("--no-ultranest", action="store_true", help="skip UltraNest")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    n_seeds = args.seeds or (1 if args.quick else 3)
    repeats = args.repeats or (1 if args.quick else 3)

    load_start = os.getloadavg()
    print(_machine())
    ref = reference_logz(recompute=args.recompute)
    ref_logz = float(ref["logz"])
    for line in describe_reference(ref):
        print(line)

    problem = tutorial_problem()
    print(f"\nSampled likelihood: rtol {BENCH_TOL[0]:g}, atol {BENCH_TOL[1]:g}, 2 threads")
    _log("[budget] timing 100 000 evaluations ...")
    budget = time_budget(problem, np.array(ref["posterior_points"]), repeats)
    for kind in ("uniform", "posterior"):
        b = budget[kind]
        print(
            f"  100 000 evaluations, rows {kind:<9}: {b['seconds']:.2f} s "
            f"({_spread([b['min'], b['max']], '.2f')} over {repeats}), "
            f"{b['us_per_eval']:.1f} us/eval"
        )
    print(
        f"  budget T(100k) = {budget['budget_seconds']:.2f} s (the smaller of the two: the wall "
        "goal compares our run with it)"
    )

    results: dict[str, Any] = {"reference": ref, "budget": budget}
    lines = _header()
    lines.append(
        f"{'reference (IS)' + (' cached' if ref['source'] != 'computed' else ''):<24} "
        f"{ref_logz:>11.3f} {ref['err']:>8.3f} {ref['evaluations']:>9} "
        f"{ref['seconds']:>8.1f} {1e6 * ref['seconds'] / ref['evaluations']:>8.1f} "
        f"{0.0:>8.3f} Laplace {ref['laplace']:.3f}"
    )
    un = None
    if not args.no_ultranest:
        _log("[UltraNest] running ...")
        un = run_ultranest(problem, seed=0)
        lines.append(_row("UltraNest (seed 0)", un, ref_logz))
        _log(lines[-1])
    results["ultranest"] = un

    ours = []
    if _sampler_class() is None:
        lines.append(
            f"{'ours':<24} not available (diffid_plugins.nested.DynamicNestedSampler with "
            "from_problem is not importable)"
        )
    else:
        for seed in range(n_seeds):
            _log(f"[ours] seed {seed} ...")
            r = run_ours(problem, seed)
            if r is not None:
                ours.append(r)
                lines.append(_row(f"ours (seed {seed})", r, ref_logz))
                _log(lines[-1])
        if len(ours) > 1:
            med, spread = _median_row(ours)
            lines.append(_row(f"ours (median of {len(ours)})", med, ref_logz, spread))
    results["ours"] = ours
    loose = None
    if ours:
        _log("[ours] rtol 1e-6 run ...")
        loose = run_ours_solver_check(0)
        if loose is not None:
            lines.append(_row("ours rtol 1e-6 (seed 0)", loose, ref_logz))
    results["ours_rtol_1e-6"] = loose
    print()
    print("\n".join(lines))
    print(
        "reference row: the evaluations and wall time it took when it was made; |dlogZ| is "
        "against the reference (rtol 1e-10), so the rtol 1e-6 row includes the solver's bias"
    )

    if ours:
        print("\nGoals (issue 9), per seed:")
        un_calls = un["calls"] if un else None
        for r in ours:
            print(f"  seed {r['seed']}: {_goals(r, ref_logz, budget['budget_seconds'], un_calls)}")
        if len(ours) > 1:
            med, _ = _median_row(ours)
            print(f"  median: {_goals(med, ref_logz, budget['budget_seconds'], un_calls)}")
    else:
        print("\nGoals (issue 9): ours not available")
    if loose is not None:
        print(f"\nours at rtol 1e-6, solver_check: {loose['solver_check']}")

    load_end = os.getloadavg()
    print(
        f"\nload average (1, 5, 15 min) at start {', '.join(f'{v:.2f}' for v in load_start)}; "
        f"at end {', '.join(f'{v:.2f}' for v in load_end)} on {os.cpu_count()} cores "
        "(2-thread timings are only meaningful on an idle machine)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


if __name__ == "__main__":
    main()

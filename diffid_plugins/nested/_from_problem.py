"""The nested sampler on a problem: prior from its bounds, logL = -cost, and the solver check.

A problem is taken by its protocol (``ProblemLike``: ``evaluate_batch``, ``bounds``,
``parameter_names``); this module imports nothing of the ODE stack.

**Solver check.** The log-likelihood of an ODE fit carries the solver's error: at rtol 1e-6
the seed tutorial's logL near the optimum is off by about half a nat, more than a typical
logZ error. After the run, ``n_check`` posterior draws (systematic resampling by the
importance weights) are evaluated again with ``rtol`` and ``atol`` divided by
``check_factor`` (``problem.with_settings``); to first order ln Z moves by the posterior
mean of the logL shift, which is reported with its median and largest absolute value. The
check is ``ok`` when that mean shift is at most a quarter of ``logzerr``; otherwise a warning
says which rtol would bring it below a tenth of ``logzerr`` (assuming the shift scales
linearly with rtol, as measured for the tutorial).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError, DiffidError

__all__ = ["SolverToleranceWarning", "problem_functions", "solver_check"]

FloatArray = NDArray[np.float64]


class SolverToleranceWarning(DiffidError, UserWarning):
    """The solver's tolerance shifts ln Z by more than a quarter of its error bar.

    A :class:`~diffid_plugins.errors.DiffidError` (the package's promise for every class it
    raises or warns with) and a ``UserWarning`` (how it is issued)."""


def problem_functions(problem: Any, n_threads: int | None) -> tuple[Any, Any, int, list[str]]:
    """``(loglikelihood, prior_transform, ndim, names)`` of a problem (module docstring)."""
    if not callable(getattr(problem, "evaluate_batch", None)) or not hasattr(problem, "bounds"):
        raise ArgumentTypeError(
            f"`problem` must be a Problem (evaluate_batch and bounds), got "
            f"{type(problem).__name__}."
        )
    cost = getattr(problem, "cost", None)
    if not getattr(cost, "is_log_likelihood", False):
        raise ArgumentError(
            f"`problem`'s cost {cost!r} is not a log-likelihood, so -cost cannot be one: the "
            "evidence needs a normalised likelihood. Build the problem with "
            "cost=GaussianNLL(sigma=...) (the noise level of the data; or estimate_sigma=True "
            "with bounds on sigma), or give DynamicNestedSampler your own loglikelihood."
        )
    names = [str(n) for n in problem.parameter_names]
    bounds = np.asarray(problem.bounds, dtype=np.float64).reshape(len(names), 2)
    bad = [n for n, (lo, hi) in zip(names, bounds, strict=True) if not np.isfinite([lo, hi]).all()]
    if bad:
        raise ArgumentError(
            f"`problem` has no finite bounds for {bad}: the prior is uniform on the bounds, so "
            "every parameter needs them. Build the problem with bounds={name: (lo, hi), ...}."
        )
    lo, width = bounds[:, 0].copy(), bounds[:, 1] - bounds[:, 0]

    def prior_transform(u: FloatArray) -> FloatArray:
        return lo + u * width

    def loglikelihood(v: FloatArray) -> FloatArray:
        return -np.asarray(problem.evaluate_batch(v, n_threads=n_threads), dtype=np.float64)

    return loglikelihood, prior_transform, len(names), names


def solver_check(
    problem: Any,
    results: Any,
    *,
    n_check: int,
    check_factor: float,
    n_threads: int | None,
    rng: np.random.Generator,
) -> dict[str, Any] | None:
    """The solver-error report of a finished run (module docstring); None if unsupported."""
    with_settings = getattr(problem, "with_settings", None)
    rtol = getattr(problem, "rtol", None)
    if not callable(with_settings) or rtol is None:
        return None
    atol = getattr(problem, "atol", 1e-8)
    tight = with_settings(
        rtol=float(rtol) / check_factor, atol=np.asarray(atol, dtype=np.float64) / check_factor
    )
    draws = results.samples_equal(rng)
    pick = draws[rng.choice(draws.shape[0], size=min(n_check, draws.shape[0]), replace=False)]
    base = -np.asarray(problem.evaluate_batch(pick, n_threads=n_threads))
    fine = -np.asarray(tight.evaluate_batch(pick, n_threads=n_threads))
    ok_rows = np.isfinite(base) & np.isfinite(fine)
    shift = fine[ok_rows] - base[ok_rows]
    logzerr = float(results.logzerr[-1])
    mean_shift = float(shift.mean()) if shift.size else math.nan
    ok = bool(abs(mean_shift) <= 0.25 * logzerr)
    advice = ""
    if not ok:
        wanted = float(rtol) * 0.1 * logzerr / max(abs(mean_shift), 1e-300)
        suggest = 10.0 ** math.floor(math.log10(wanted))
        advice = (
            f"the solver tolerance rtol={float(rtol):g} moves ln Z by about {mean_shift:+.3f} "
            f"nats (posterior mean logL shift at rtol={float(rtol) / check_factor:g}), more "
            f"than a quarter of logzerr={logzerr:.3f}; rebuild the problem with "
            f"rtol<={suggest:g} (problem.with_settings(rtol={suggest:g})) and run again."
        )
        warnings.warn(advice, SolverToleranceWarning, stacklevel=3)
    return {
        "rtol": float(rtol),
        "rtol_check": float(rtol) / check_factor,
        "n_points": int(shift.size),
        "logz_shift": mean_shift,
        "max_shift": float(np.abs(shift).max()) if shift.size else math.nan,
        "median_shift": float(np.median(shift)) if shift.size else math.nan,
        "logzerr": logzerr,
        "ok": ok,
        "advice": advice,
    }

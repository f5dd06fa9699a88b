"""Stopping rules of one CMA-ES run (used by :class:`~diffid_plugins.optim.RestartingCMA`).

Every rule works in the engine's normalised coordinates (the genotype; the box is
``[0, 1]^d``), so lengths are in units of the box width. The rules are checked after every
generation in the order of :data:`STOP_REASONS`; the first that holds ends the run and is
recorded as the run's ``reason``.

References
----------
.. [H16] N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (2016),
   appendix B.3 ("Termination criteria").
.. [AH05] A. Auger and N. Hansen, "A Restart CMA Evolution Strategy With Increasing Population
   Size", IEEE CEC 2005, pp. 1769-1776.
.. [H09] N. Hansen, "Benchmarking a BI-Population CMA-ES on the BBOB-2009 Function Testbed",
   GECCO 2009 workshop (BBOB), pp. 2389-2396.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "STAGNATION_MAX",
    "STOP_REASONS",
    "RunTrace",
    "StopRules",
    "fun_history_length",
    "stop_reason",
]

#: The stop reasons, in the order they are checked.
#:
#: ``"tolfun"``: the range of the best values of the last ``10 + ceil(30 d / popsize)``
#: generations and of all finite values of the current generation is below
#: ``tolfun + tolfunrel * |f_low|`` (``f_low`` the lowest of these values; defaults
#: ``tolfun = 1e-11`` absolute and ``tolfunrel = 0``) [AH05]_, [H16]_ (TolFun; it includes
#: EqualFunValues). The relative part is for costs known only to a relative precision
#: (an ODE solved at a finite ``rtol``): their values never settle to 1e-11.
#: ``"tolx"``: every coordinate of ``sigma * sqrt(diag C)`` and of ``sigma * p_c`` is below
#: ``tolx`` box widths (default 1e-11) [H16]_ (TolX).
#: ``"noeffectaxis"``: adding 0.1 standard deviations along principal axis
#: ``generation mod d`` leaves the mean unchanged in floating point [H16]_.
#: ``"noeffectcoord"``: adding 0.2 standard deviations in some coordinate leaves the mean
#: unchanged [H16]_.
#: ``"condition"``: the condition number of ``C`` (largest over smallest eigenvalue) exceeds
#: ``max_condition`` (default 1e14) [H16]_ (ConditionCov). The ``cmaes`` package compares the
#: square root of it (``max(D) / min(D)``) with 1e14; this engine uses the eigenvalue ratio.
#: ``"tolxup"``: ``sigma * max(D)`` grew more than 1e4 times the run's initial ``sigma``
#: (divergence, or a far too small initial step) [H16]_ (TolXUp).
#: ``"stagnation"``: over the last 20 % of the run's generations (at least
#: ``120 + 30 d / popsize``, at most 20000), the median of the most recent 30 % of both the
#: best and the median values per generation is not better than the median of the first
#: 30 % [H09]_. Only when ``stagnation=True`` (the default).
#: ``"nofinite"``: no evaluation of the last ``10 + ceil(30 d / popsize)`` generations was
#: finite (every point failed): the run has no ranking information left. Not in the
#: references; a restart elsewhere in the box is the useful answer.
STOP_REASONS = (
    "tolfun",
    "tolx",
    "noeffectaxis",
    "noeffectcoord",
    "condition",
    "tolxup",
    "stagnation",
    "nofinite",
)

_TOLXUP = 1e4
#: Longest stagnation window [H09]_; the run keeps no longer a trace than this.
STAGNATION_MAX = 20000


@dataclass(frozen=True)
class StopRules:
    """Thresholds of the stop rules (see :data:`STOP_REASONS`); ``tolfunrel`` is relative to
    the best value in the tolfun window."""

    tolfun: float
    tolx: float
    stagnation: bool
    max_condition: float
    tolfunrel: float = 0.0


@dataclass
class RunTrace:
    """Per-generation values of the current run that the rules read.

    ``best`` and ``median`` hold, per generation, the best finite value (``inf`` when every
    point failed) and the median of the values with failures counted as ``inf``; only the
    last :data:`STAGNATION_MAX` generations are kept.
    """

    best: list[float]
    median: list[float]


def fun_history_length(n_dim: int, popsize: int) -> int:
    """``10 + ceil(30 d / popsize)``: the window of the tolfun rule [H16]_."""
    return 10 + math.ceil(30 * n_dim / popsize)


def _stagnated(trace: RunTrace, n: int, n_dim: int, popsize: int) -> bool:
    window = min(max(math.ceil(0.2 * n), math.ceil(120 + 30 * n_dim / popsize)), STAGNATION_MAX)
    if n < window:
        return False
    k = math.ceil(0.3 * window)
    for hist in (trace.best, trace.median):
        recent = np.asarray(hist[-window:], dtype=np.float64)
        if not np.median(recent[-k:]) >= np.median(recent[:k]):
            return False
    return True


def stop_reason(
    rules: StopRules,
    trace: RunTrace,
    values: np.ndarray,
    *,
    mean: np.ndarray,
    sigma: float,
    sigma0: float,
    C: np.ndarray,
    B: np.ndarray,
    D: np.ndarray,
    pc: np.ndarray,
    generation: int,
) -> str | None:
    """The first stop rule that holds after a generation, or ``None``.

    Parameters
    ----------
    rules : StopRules
    trace : RunTrace
        The run's history, including the generation just told.
    values : ndarray, shape (popsize,)
        The generation's values; non-finite entries are failures.
    mean, pc : ndarray, shape (d,)
        Mean and evolution path ``p_c`` after the update (normalised coordinates).
    sigma, sigma0 : float
        Step size after the update, and at the start of the run.
    C, B : ndarray, shape (d, d)
        Covariance matrix and its eigenvectors (columns).
    D : ndarray, shape (d,)
        Square roots of the eigenvalues of ``C``.
    generation : int
        Generations told in this run (at least 1).
    """
    n_dim = mean.shape[0]
    popsize = values.shape[0]
    term = fun_history_length(n_dim, popsize)
    if generation >= term:
        recent = np.asarray(trace.best[-term:], dtype=np.float64)
        finite = values[np.isfinite(values)]
        if np.all(np.isfinite(recent)) and finite.size:
            lo = min(float(recent.min()), float(finite.min()))
            hi = max(float(recent.max()), float(finite.max()))
            if hi - lo < rules.tolfun + rules.tolfunrel * abs(lo):
                return "tolfun"
    dC = np.diag(C)
    sd = sigma * np.sqrt(dC)
    if np.all(sd < rules.tolx) and np.all(sigma * np.abs(pc) < rules.tolx):
        return "tolx"
    i = generation % n_dim
    if np.all(mean == mean + 0.1 * sigma * D[i] * B[:, i]):
        return "noeffectaxis"
    if np.any(mean == mean + 0.2 * sd):
        return "noeffectcoord"
    if float(D.max()) ** 2 > rules.max_condition * float(D.min()) ** 2:
        return "condition"
    if sigma * float(D.max()) > _TOLXUP * sigma0:
        return "tolxup"
    if rules.stagnation and _stagnated(trace, generation, n_dim, popsize):
        return "stagnation"
    if generation >= term and not np.any(np.isfinite(trace.best[-term:])):
        return "nofinite"
    return None

"""Dynamic nested sampling: where the next batch of live points goes, and when to stop.

**Stopping rule.** The run stops when both targets hold: the evidence error ``logzerr``
(the larger of the thread-bootstrap and the single-run estimate, ``_run.py``) is at most
``logzerr_target``, and the posterior's effective sample size (Kish, ``(sum w)^2 / sum w^2``)
is at least ``n_effective``. Or when ``maxbatch``/``maxcall`` run out.

**Weight function** (Higson et al. 2019; dynesty's ``weight_function`` in form). Each dead
sample gets ``w = pfrac * p / max(p) + (1 - pfrac) * z / max(z)``, with ``p`` its posterior
(importance) weight and ``z = (1 - Z_<i / Z) / n_i`` the evidence still above its level per live
point. ``pfrac`` follows what is still missing: with ``a = n_effective / ESS`` (the factor of
samples the posterior needs) and ``b = (logzerr / logzerr_target)^2`` (the factor the evidence
needs), counting only unmet targets, ``pfrac = a / (a + b)``. The next batch covers the
likelihood band of the samples with ``w > maxfrac * max(w)`` (``maxfrac = 0.8``), widened by
``pad = 1`` sample each side; a band starting at the first sample starts from the prior.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ._run import Integrals

__all__ = ["band", "kish", "pfrac_for"]

FloatArray = NDArray[np.float64]


def kish(logwt: FloatArray) -> float:
    """Kish effective sample size of importance weights ``exp(logwt)``."""
    if logwt.size == 0:
        return 0.0
    w = np.exp(logwt - logwt.max())
    return float(w.sum() ** 2 / np.sum(w * w))


def pfrac_for(ess: float, n_effective: float, logzerr: float, logzerr_target: float) -> float:
    """Posterior share of the next batch's weight (module docstring)."""
    a = n_effective / max(ess, 1.0) if ess < n_effective else 0.0
    b = (logzerr / logzerr_target) ** 2 if logzerr > logzerr_target else 0.0
    if a + b == 0.0:
        return 0.8
    return a / (a + b)


def band(
    ints: Integrals,
    logl_sorted: FloatArray,
    pfrac: float,
    maxfrac: float = 0.8,
    pad: int = 1,
) -> tuple[float, float, float]:
    """``(logl_min, logl_max, logvol_min)`` of the next batch (module docstring).

    ``logl_min`` is ``-inf`` when the band starts at the first sample; ``logl_max`` is
    ``+inf`` when it ends at the last. ``logvol_min`` is ln X at ``logl_min``.
    """
    n = logl_sorted.size
    logz = ints.logz[-1]
    p = np.exp(ints.logwt - ints.logwt.max())
    zprev = np.concatenate(([-math.inf], ints.logz[:-1]))
    remain = -np.expm1(np.minimum(zprev - logz, 0.0))
    z = remain / ints.samples_n
    w = pfrac * p / p.max() + (1.0 - pfrac) * z / max(float(z.max()), 1e-300)
    hot = np.flatnonzero(w > maxfrac * w.max())
    lo = max(int(hot[0]) - pad, 0)
    hi = min(int(hot[-1]) + pad, n - 1)
    logl_min = -math.inf if lo == 0 else float(logl_sorted[lo])
    logl_max = math.inf if hi == n - 1 else float(logl_sorted[hi])
    logvol_min = 0.0 if lo == 0 else float(ints.logvol[lo])
    return logl_min, logl_max, logvol_min

"""The integrals of a nested-sampling run, and their bootstrap error, from its dead points.

A run is a set of samples, each with its log-likelihood ``logl`` and its *birth* level
``birth``: the likelihood threshold above which it was drawn (``-inf`` for a draw from the
prior). Nothing else is needed: when the samples are put in order of ``logl``, the number of
live points at the death of sample ``p`` (0-based position in that order) is

    n_p = #{j : birth_j < logl_p} - p,

the points born below its level minus the points that died before it. This one formula covers a
static run with batch removal (``n`` drops from ``K`` to ``K - m + 1`` while ``m`` points die,
then the replacements are born), the final live points (``n`` drops to 1), and any union of runs
(the baseline and the dynamic batches, Higson et al. 2019, "Dynamic nested sampling"). The
prior volume follows the usual expectation ``ln X_p = sum_{q <= p} ln(n_q / (n_q + 1))``, the
weights the trapezoid rule, as in dynesty.

**Error bar.** ``bootstrap_logz`` resamples *threads*, the chains of points that followed one
live-point slot (``samples_id``), with replacement, separately within each batch (the
baseline is batch 0), and recomputes the evidence of each replica with the formula above
(Higson, Handley, Hobson & Lasenby 2018, "Sampling errors in nested sampling parameter
estimation", Bayesian Analysis 13, 873: the spread of such replicas estimates the run-to-run
error of both the evidence and posterior means, shrinkage noise and bound imperfections
included). The classic single-run value ``sqrt(sum dH dlnX)`` (dynesty's ``logzerr``) is
kept too; the sampler reports the larger of the two.

Pure numpy; ``logl`` of ``-inf`` must already be mapped to a finite floor (the sampler uses
``LOGL_FLOOR``) so that order statistics stay defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ResultError

__all__ = ["LOGL_FLOOR", "Integrals", "bootstrap_logz", "integrate", "live_counts"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

LOGL_FLOOR = -1e300
"""Log-likelihood given to rows whose likelihood is zero (``-inf``) or undefined (NaN)."""


@dataclass(frozen=True)
class Integrals:
    """Cumulative integrals of a run, every array of shape (N,) in ``order``.

    Attributes
    ----------
    order : (N,) int64
        Positions of the samples sorted by ``logl`` (stable).
    samples_n : (N,) int64
        Live points at each death.
    logvol, logwt, logz, information, logzvar : (N,) float64
        ln X, ln of the trapezoid weight, cumulative ln Z, cumulative H (nats), and dynesty's
        cumulative variance estimate ``|sum dH dlnX|``.
    """

    order: IntArray
    samples_n: IntArray
    logvol: FloatArray
    logwt: FloatArray
    logz: FloatArray
    information: FloatArray
    logzvar: FloatArray


def live_counts(logl_sorted: FloatArray, births: FloatArray) -> IntArray:
    """Live points at each death, ``(N,)``, for samples already sorted by ``logl``.

    ``births`` (any order) holds one birth level per sample (the same multiset of samples).
    """
    born_before = np.searchsorted(np.sort(births), logl_sorted, side="left")
    return (born_before - np.arange(logl_sorted.size)).astype(np.int64)


def _weights(logl: FloatArray, n: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(logvol, logwt, dlogvol)`` of sorted ``logl`` with live counts ``n`` (>= 1)."""
    nf = n.astype(np.float64)
    dlogvol = np.log1p(1.0 / nf)  # -ln(n / (n + 1)) > 0
    logvol = -np.cumsum(dlogvol)
    # ln(X_{p-1} - X_p) = ln X_p + ln(exp(dlogvol_p) - 1)
    logdvol = logvol + np.log(np.expm1(dlogvol))
    logl_prev = np.concatenate(([LOGL_FLOOR], logl[:-1]))
    logwt = np.logaddexp(logl, logl_prev) - np.log(2.0) + logdvol
    return logvol, logwt, dlogvol


def integrate(logl: FloatArray, births: FloatArray) -> Integrals:
    """Integrals of a run of samples ``logl`` (N,) born at ``births`` (N,).

    Raises
    ------
    ValueError
        If the births do not describe a run (a sample dies with no live point): every sample
        must be born strictly below its own ``logl``.
    """
    order = np.argsort(logl, kind="stable")
    ls = logl[order]
    n = live_counts(ls, births)
    if n.size and int(n.min()) < 1:
        raise ResultError("inconsistent run: a sample dies with no live point (birth >= logl)")
    logvol, logwt, dlogvol = _weights(ls, n)
    logz = np.logaddexp.accumulate(logwt)
    # cumulative information H_p = sum_q w_q/Z_p ln L_q - ln Z_p, with L at the floor ignored
    lfin = np.where(ls > LOGL_FLOOR, ls, 0.0)
    wl = np.cumsum(np.exp(logwt - logz[-1]) * lfin)
    zfrac = np.exp(logz - logz[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(zfrac > 0, wl / zfrac - logz, 0.0)
    dh = np.diff(h, prepend=0.0)
    logzvar = np.abs(np.cumsum(dh * dlogvol))
    return Integrals(order, n, logvol, logwt, logz, h, logzvar)


def bootstrap_logz(
    logl: FloatArray,
    births: FloatArray,
    threads: IntArray,
    batches: IntArray,
    n_replicas: int,
    rng: np.random.Generator,
) -> FloatArray:
    """ln Z of ``n_replicas`` thread-bootstrap replicas of a run, ``(n_replicas,)``.

    Threads (``threads``, one id per sample) are resampled with replacement within each
    batch (``batches``); a thread drawn ``c`` times contributes each of its samples ``c``
    times, and the live counts of the replica follow from its births.
    """
    uthreads, tinv = np.unique(threads, return_inverse=True)
    tbatch = np.zeros(uthreads.size, dtype=np.int64)
    tbatch[tinv] = batches
    groups = [np.flatnonzero(tbatch == b) for b in np.unique(tbatch)]
    order = np.argsort(logl, kind="stable")
    ls, bs, ts = logl[order], births[order], tinv[order]
    out = np.empty(n_replicas)
    for r in range(n_replicas):
        counts = np.zeros(uthreads.size, dtype=np.int64)
        for g in groups:
            counts[g] = np.bincount(rng.integers(0, g.size, g.size), minlength=g.size)
        mult = counts[ts]
        keep = mult > 0
        lr = np.repeat(ls[keep], mult[keep])
        br = np.repeat(bs[keep], mult[keep])
        n = live_counts(lr, br)
        _, logwt, _ = _weights(lr, np.maximum(n, 1))
        out[r] = np.logaddexp.reduce(logwt)
    return out

"""Analytic nested-sampling test problems with known evidence (``docs/nested-sampling.md`` §2).

Each problem is a batch log-likelihood ``(n, d) -> (n,)``, a prior transform from the unit
cube to its box ``(n, d) -> (n, d)``, and the reference ln Z of the uniform prior on that box:

- **T1, Gaussian shells** (d = 2): r = 2, w = 0.1, centres (+-3.5, 0), prior U[-6, 6]^2;
  ln Z = -1.745642 (computed by quadrature in the shared notes; dynesty's notebook: -1.75).
- **T2, eggbox**: logL = (2 + cos(x/2) cos(y/2))^5, prior U[0, 10 pi]^2; ln Z = 235.855940
  (dynesty ``tests/test_dyn.py``; the shared notes recompute it on a fine grid).
- **T3, correlated normal** in d dimensions: mean ``linspace(-1, 1, d)``, unit variances,
  correlation 0.95 between every pair, prior U[-10, 10]^d; ln Z = -d ln 20. The normal
  integrates to 1 over R^d, so the box holds all but its mass outside: each marginal has
  sd 1 and its mean within 1 of the centre, so at least 9 sd separate it from each face and
  the mass outside is below ``2 d P(N(0,1) > 9) = 2 d * 1.1e-19``, i.e. ln Z is exact to
  ~1e-18, far below any error bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Problem", "eggbox", "normal", "shells"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Problem:
    """An analytic problem: ``loglike`` (n, d) -> (n,), ``transform`` (n, d) -> (n, d)."""

    name: str
    ndim: int
    loglike: Callable[[FloatArray], FloatArray]
    transform: Callable[[FloatArray], FloatArray]
    logz: float
    lower: float
    upper: float


def _box(lower: float, upper: float) -> Callable[[FloatArray], FloatArray]:
    def transform(u: FloatArray) -> FloatArray:
        return lower + (upper - lower) * np.asarray(u, dtype=np.float64)

    return transform


SHELL_R = 2.0
SHELL_W = 0.1
SHELL_C = 3.5


def _shells_loglike(x: FloatArray) -> FloatArray:
    x = np.asarray(x, dtype=np.float64)
    norm = -0.5 * math.log(2.0 * math.pi * SHELL_W**2)
    out = []
    for sign in (-1.0, 1.0):
        c = np.zeros(x.shape[1])
        c[0] = sign * SHELL_C
        dist = np.sqrt(np.sum((x - c) ** 2, axis=1))
        out.append(norm - (dist - SHELL_R) ** 2 / (2.0 * SHELL_W**2))
    return np.logaddexp(out[0], out[1])


def shells() -> Problem:
    """T1: the 2-D Gaussian shells on U[-6, 6]^2."""
    return Problem("shells", 2, _shells_loglike, _box(-6.0, 6.0), -1.745642, -6.0, 6.0)


def _eggbox_loglike(x: FloatArray) -> FloatArray:
    x = np.asarray(x, dtype=np.float64)
    return (2.0 + np.cos(x[:, 0] / 2.0) * np.cos(x[:, 1] / 2.0)) ** 5


def eggbox() -> Problem:
    """T2: the eggbox on U[0, 10 pi]^2."""
    top = 10 * math.pi
    return Problem("eggbox", 2, _eggbox_loglike, _box(0.0, top), 235.855940, 0.0, top)


RHO = 0.95


def normal_moments(d: int) -> tuple[FloatArray, FloatArray]:
    """Mean (d,) and covariance (d, d) of the T3 normal."""
    cov = np.full((d, d), RHO)
    np.fill_diagonal(cov, 1.0)
    return np.linspace(-1.0, 1.0, d), cov


def normal(d: int) -> Problem:
    """T3: the correlated normal in ``d`` dimensions on U[-10, 10]^d."""
    mu, cov = normal_moments(d)
    prec = np.linalg.inv(cov)
    lognorm = -0.5 * (d * math.log(2.0 * math.pi) + float(np.linalg.slogdet(cov)[1]))

    def loglike(x: FloatArray) -> FloatArray:
        y = np.asarray(x, dtype=np.float64) - mu
        return lognorm - 0.5 * np.einsum("ij,jk,ik->i", y, prec, y)

    return Problem(f"normal{d}d", d, loglike, _box(-10.0, 10.0), -d * math.log(20.0), -10.0, 10.0)

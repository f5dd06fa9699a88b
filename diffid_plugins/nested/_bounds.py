"""Bounding ellipsoids in the unit cube: fit, split, enlarge, sample the union uniformly.

The live points of a nested-sampling run sit inside the current likelihood contour; new points
must be drawn uniformly from the prior (the unit cube) restricted to that contour. A union of
ellipsoids that encloses the live points, enlarged so that it encloses the contour itself, is
sampled uniformly and the draws outside the cube or below the threshold are rejected (Feroz,
Hobson & Bridges 2009, MultiNest; dynesty's ``multi`` bound).

* **Fit**: an ellipsoid from a cluster's mean and covariance, scaled to hold every point.
* **Split** (``fit_multi``): 2-means seeded at the ends of the major axis; a split is kept
  when the two ellipsoids have less than half the parent's volume, or, when the parent is more
  than twice the volume the live points are expected to fill, when the recursive
  decomposition of its halves has (dynesty's ``vol_dec = 0.5`` and ``vol_check = 2``);
  clusters keep at least ``max(2 d + 2, 12)`` points, and the split is used only when its
  enlarged volume is below the single enlarged ellipsoid's.
* **Enlarge** (bootstrap, ``n_boot`` times): refit each cluster's ellipsoid on a resample of
  its points and find by how much it must grow, in radius, to hold the points left out; the
  largest such factor (at least ``1.25`` in volume) scales that ellipsoid. This is dynesty's
  bootstrap expansion, per cluster, with the clustering itself held fixed (re-clustering
  each resample costs more than it changes).
* **Sample**: pick an ellipsoid by volume, draw uniformly inside it, keep the draw with
  probability ``1 / (ellipsoids that contain it)``: uniform on the union.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Ellipsoids", "fit_multi", "fit_single"]

FloatArray = NDArray[np.float64]

_MIN_VOLUME_ENLARGE = 1.25
_MIN_CLUSTER = 12  # points; smaller clusters give erratic bootstrap enlargements


def _log_unit_ball(d: int) -> float:
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


@dataclass(frozen=True)
class Ellipsoids:
    """A union of ``k`` ellipsoids ``(x - c)^T A (x - c) <= 1`` in ``d`` dimensions.

    Attributes
    ----------
    centers : (k, d)
    axes : (k, d, d)
        Cholesky-like factors ``T`` with ``x = c + T z`` for ``z`` in the unit ball.
    precisions : (k, d, d)
        ``A = (T T^T)^{-1}``.
    logvols : (k,)
        ln volume of each ellipsoid.
    """

    centers: FloatArray
    axes: FloatArray
    precisions: FloatArray
    logvols: FloatArray

    @property
    def logvol(self) -> float:
        """ln of the summed volume (an upper bound on the union's)."""
        return float(np.logaddexp.reduce(self.logvols))

    def scaled(self, radius_factor: float) -> Ellipsoids:
        """Every ellipsoid with its radius multiplied by ``radius_factor``."""
        d = self.centers.shape[1]
        f = float(radius_factor)
        return Ellipsoids(
            self.centers,
            self.axes * f,
            self.precisions / (f * f),
            self.logvols + d * math.log(f),
        )

    def counts(self, x: FloatArray) -> NDArray[np.int64]:
        """How many ellipsoids contain each row of ``x`` (n, d) -> (n,)."""
        return (self._mahalanobis(x) <= 1.0).sum(axis=1)

    def _mahalanobis(self, x: FloatArray) -> FloatArray:
        diff = x[:, None, :] - self.centers[None, :, :]  # (n, k, d)
        return np.einsum("nki,kij,nkj->nk", diff, self.precisions, diff)

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """About ``n`` points uniform on the union (fewer: overlap draws are thinned), (m, d)."""
        k, d = self.centers.shape
        p = np.exp(self.logvols - self.logvols.max())
        which = rng.choice(k, size=n, p=p / p.sum()) if k > 1 else np.zeros(n, dtype=np.int64)
        z = rng.standard_normal((n, d))
        z *= (rng.random(n) ** (1.0 / d) / np.linalg.norm(z, axis=1))[:, None]
        x = self.centers[which] + np.einsum("nij,nj->ni", self.axes[which], z)
        if k > 1:
            keep = rng.random(n) * self.counts(x) < 1.0
            x = x[keep]
        return x


def _fit_one(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """``(center, axes, precision, logvol)`` of the ellipsoid around the rows of ``x``."""
    n, d = x.shape
    c = x.mean(axis=0)
    cov = np.cov(x, rowvar=False).reshape(d, d)
    # keep it well conditioned: floor the eigenvalues at 1e-10 of the largest (and absolute)
    w, v = np.linalg.eigh(cov)
    w = np.maximum(w, max(float(w.max()) * 1e-10, 1e-300))
    prec = (v / w) @ v.T
    diff = x - c
    r2 = float(np.max(np.einsum("ni,ij,nj->n", diff, prec, diff))) if n else 1.0
    r2 = max(r2, 1e-300)
    axes = v * np.sqrt(w * r2)
    logvol = _log_unit_ball(d) + 0.5 * float(np.sum(np.log(w))) + 0.5 * d * math.log(r2)
    return c, axes, prec / r2, logvol


def _assemble(parts: list[tuple[FloatArray, FloatArray, FloatArray, float]]) -> Ellipsoids:
    return Ellipsoids(
        np.array([p[0] for p in parts]),
        np.array([p[1] for p in parts]),
        np.array([p[2] for p in parts]),
        np.array([p[3] for p in parts]),
    )


def _two_means(x: FloatArray, axes: FloatArray) -> NDArray[np.bool_] | None:
    """Split the rows of ``x`` in two (a boolean mask), seeded along the major axis."""
    c = x.mean(axis=0)
    major = axes[:, int(np.argmax(np.sum(axes * axes, axis=0)))]
    centers = np.stack([c + 0.5 * major, c - 0.5 * major])
    label = None
    for _ in range(20):
        d0 = np.sum((x - centers[0]) ** 2, axis=1)
        d1 = np.sum((x - centers[1]) ** 2, axis=1)
        new = d1 < d0
        if label is not None and np.array_equal(new, label):
            break
        label = new
        if label.all() or not label.any():
            return None
        centers = np.stack([x[~label].mean(axis=0), x[label].mean(axis=0)])
    return label


def _split(x: FloatArray, expected_logvol: float, min_points: int, depth: int) -> list[FloatArray]:
    """Clusters of ``x`` (a list of row subsets), split recursively while it pays.

    A split is kept at once when it halves the volume; when the ellipsoid is more than twice
    the volume its points are expected to fill, the halves are split further first and the
    whole sub-decomposition is kept if it is smaller (a ring's halves are no smaller than the
    ring's ellipsoid, its quarters are).
    """
    n = x.shape[0]
    if depth <= 0 or n < 2 * min_points:
        return [x]
    _, axes, _, vol = _fit_one(x)
    label = _two_means(x, axes)
    if label is None:
        return [x]
    a, b = x[~label], x[label]
    if a.shape[0] < min_points or b.shape[0] < min_points:
        return [x]
    share = expected_logvol - math.log(n)
    ea, eb = share + math.log(a.shape[0]), share + math.log(b.shape[0])
    vsum = float(np.logaddexp(_fit_one(a)[3], _fit_one(b)[3]))
    if vsum < vol + math.log(0.5):
        return _split(a, ea, min_points, depth - 1) + _split(b, eb, min_points, depth - 1)
    if vol > expected_logvol + math.log(2.0):
        sub = _split(a, ea, min_points, depth - 1) + _split(b, eb, min_points, depth - 1)
        if float(np.logaddexp.reduce([_fit_one(c)[3] for c in sub])) < vol:
            return sub
    return [x]


def _enlarge(cluster: FloatArray, n_boot: int, rng: np.random.Generator) -> float:
    """Radius factor (>= 1) that makes bootstrap refits of a cluster's ellipsoid hold the
    points each resample left out."""
    factor = 1.0
    n = cluster.shape[0]
    for _ in range(n_boot):
        pick = rng.integers(0, n, n)
        out = np.ones(n, dtype=bool)
        out[pick] = False
        if not out.any():
            continue
        c, _, prec, _ = _fit_one(cluster[pick])
        diff = cluster[out] - c
        r2 = float(np.max(np.einsum("ni,ij,nj->n", diff, prec, diff)))
        factor = max(factor, math.sqrt(r2))
    return factor


def fit_single(x: FloatArray, n_boot: int, rng: np.random.Generator) -> Ellipsoids:
    """One enlarged ellipsoid around the rows of ``x`` (n, d)."""
    return fit_multi(x, -math.inf, n_boot, rng, max_depth=0)


def fit_multi(
    x: FloatArray,
    expected_logvol: float,
    n_boot: int,
    rng: np.random.Generator,
    *,
    max_depth: int = 8,
) -> Ellipsoids:
    """Enlarged ellipsoids around the rows of ``x`` (n, d).

    ``expected_logvol`` is ln of the prior volume the points are expected to fill (the run's
    ln X); it lets a bound that is far too large split even when a split does not halve it.
    """
    d = x.shape[1]
    clusters = _split(x, expected_logvol, max(2 * d + 2, _MIN_CLUSTER), max_depth)
    multi = _enlarged(clusters, n_boot, rng)
    if len(clusters) == 1:
        return multi
    # small clusters need large bootstrap enlargements (a factor r in radius is r^d in
    # volume): keep the split only if it is still smaller once enlarged
    single = _enlarged([x], n_boot, rng)
    return multi if multi.logvol < single.logvol else single


def _enlarged(clusters: list[FloatArray], n_boot: int, rng: np.random.Generator) -> Ellipsoids:
    d = clusters[0].shape[1]
    floor = _MIN_VOLUME_ENLARGE ** (1.0 / d)
    parts = []
    for c in clusters:
        center, axes, prec, logvol = _fit_one(c)
        f = max(_enlarge(c, n_boot, rng), floor)
        parts.append((center, axes * f, prec / (f * f), logvol + d * math.log(f)))
    return _assemble(parts)

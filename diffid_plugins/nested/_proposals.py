"""New live points above a likelihood threshold, drawn in batches.

Both proposals return draws from the prior (the unit cube) restricted to ``logl > threshold``
and evaluate the likelihood of a whole batch of candidates per call:

* ``propose_uniform``: rejection sampling from the cube or from an enlarged bound
  (:class:`~._bounds.Ellipsoids`). The batch size follows the running acceptance rate so one
  call usually yields every point needed; surplus accepted points are returned too (the caller
  keeps them for the next step, where they are still valid draws if above the new threshold).
* ``propose_rwalk``: ``m`` random walks run side by side, one batch evaluation per step, each
  started at a live point above the threshold, with moves uniform in the bound's shape scaled by
  an adaptive factor (target acceptance 1/2), a move kept when it stays in the cube and above
  the threshold (dynesty's ``rwalk``). Used above ~10 dimensions, where rejection from an
  ellipsoid becomes inefficient.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ResultError

from ._bounds import Ellipsoids

__all__ = ["propose_rwalk", "propose_uniform"]

FloatArray = NDArray[np.float64]
Evaluate = Callable[[FloatArray], tuple[FloatArray, FloatArray]]

_MAX_BATCH = 1 << 16
_MAX_FUTILE = 2_000_000  # draws without one acceptance before giving up


def _draw(bound: Ellipsoids | None, n: int, d: int, rng: np.random.Generator) -> FloatArray:
    """``n`` points uniform in the cube, or on the bound's union inside the cube."""
    if bound is None:
        return rng.random((n, d))
    out: list[FloatArray] = []
    have = 0
    for _ in range(64):
        x = bound.sample(max(2 * (n - have), 64), rng)
        x = x[np.all((x >= 0.0) & (x <= 1.0), axis=1)]
        out.append(x)
        have += x.shape[0]
        if have >= n:
            break
    else:  # the bound hardly meets the cube: sample the cube
        return rng.random((n, d))
    return np.concatenate(out)[:n]


def propose_uniform(
    evaluate: Evaluate,
    threshold: float,
    need: int,
    bound: Ellipsoids | None,
    efficiency: float,
    min_batch: int,
    d: int,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray, int, float]:
    """At least ``need`` accepted points by rejection sampling.

    Returns
    -------
    u : (a, d) accepted unit-cube points (``a >= need``), in draw order
    v : (a, d) their physical values
    logl : (a,)
    calls : int, likelihood evaluations made
    efficiency : float, acceptance rate of the last batch (smoothed)
    """
    us, vs, ls = [], [], []
    got = calls = 0
    while got < need:
        if got == 0 and calls >= _MAX_FUTILE:
            raise ResultError(
                f"no point with a log-likelihood above {threshold:.6g} in {calls} draws: the "
                "likelihood is flat (a plateau) or zero on the whole remaining region. Check "
                "that `loglikelihood` varies smoothly (NaN and -inf count as zero likelihood)."
            )
        n = int(min(_MAX_BATCH, max(min_batch, math.ceil(1.25 * (need - got) / efficiency))))
        u = _draw(bound, n, d, rng)
        v, logl = evaluate(u)
        calls += u.shape[0]
        ok = logl > threshold
        rate = float(ok.mean())
        efficiency = min(1.0, max(0.5 * efficiency + 0.5 * rate, 1e-4))
        us.append(u[ok])
        vs.append(v[ok])
        ls.append(logl[ok])
        got += int(ok.sum())
    return np.concatenate(us), np.concatenate(vs), np.concatenate(ls), calls, efficiency


def propose_rwalk(
    evaluate: Evaluate,
    threshold: float,
    starts_u: FloatArray,
    starts_v: FloatArray,
    starts_logl: FloatArray,
    shape: Ellipsoids,
    scale: float,
    walks: int,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray, int, float]:
    """Advance one random walk from each start (m, d) by ``walks`` steps above ``threshold``.

    ``shape`` is a single ellipsoid whose axes set the proposal's shape. A walk that has not
    moved after ``walks`` steps continues for up to ``walks`` more.

    Returns
    -------
    u, v : (m, d), logl : (m,), calls : int, scale : float (adapted)
    """
    x, v, lx = starts_u.copy(), starts_v.copy(), starts_logl.copy()
    m, d = x.shape
    axes = shape.axes[0]
    moved = np.zeros(m, dtype=bool)
    calls = 0
    step = 0
    while True:
        active = np.arange(m) if step < walks else np.flatnonzero(~moved)
        if active.size == 0 or step >= 2 * walks:
            break
        z = rng.standard_normal((active.size, d))
        z *= (rng.random(active.size) ** (1.0 / d) / np.linalg.norm(z, axis=1))[:, None]
        prop = x[active] + scale * (z @ axes.T)
        inside = np.all((prop >= 0.0) & (prop <= 1.0), axis=1)
        idx = active[inside]
        accepted = np.zeros(active.size, dtype=bool)
        if idx.size:
            pv, pl = evaluate(prop[inside])
            calls += idx.size
            ok = pl > threshold
            acc = idx[ok]
            x[acc], v[acc], lx[acc] = prop[inside][ok], pv[ok], pl[ok]
            moved[acc] = True
            accepted[np.flatnonzero(inside)[ok]] = True
        rate = float(accepted.mean())
        scale = float(np.clip(scale * math.exp((rate - 0.5) / max(1.0, 0.25 * d)), 1e-4, 10.0))
        step += 1
    return x, v, lx, calls, scale

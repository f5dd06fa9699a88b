"""One nested-sampling run ("batch") with batch removal: the sampler's inner loop.

A run holds ``K`` live points. Each step removes the ``m`` lowest (``m = ceil(K *
remove_fraction)``), which die with ``K, K-1, ..., K-m+1`` live points, and replaces them with
``m`` draws above the highest removed likelihood ``L*`` (born at ``L*``). Compared with
replacing one point per likelihood call, this lets a step evaluate a whole batch of candidates
at once and costs a live-point count of about ``K - m/2`` instead of ``K`` (``_run.py`` turns
births into live counts exactly). The run ends when the live points' remaining evidence is
below ``dlogz`` (the baseline) or when the lowest live point reaches ``logl_max`` (a dynamic
batch); its final live points are then added, dying one by one.

Everything a run appends goes into :class:`Store` (the whole sampler's samples), so the run can
be checkpointed between steps: its state is plain arrays and a random generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._bounds import Ellipsoids, fit_multi, fit_single
from ._proposals import propose_rwalk, propose_uniform

__all__ = ["RunSettings", "RunState", "Store", "step_run"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Evaluate = Callable[[FloatArray], tuple[FloatArray, FloatArray]]


@dataclass
class Store:
    """Every dead sample of the sampler so far, as lists of arrays (concatenated on demand)."""

    u: list[FloatArray] = field(default_factory=list)
    v: list[FloatArray] = field(default_factory=list)
    logl: list[FloatArray] = field(default_factory=list)
    birth: list[FloatArray] = field(default_factory=list)
    thread: list[IntArray] = field(default_factory=list)
    batch: list[IntArray] = field(default_factory=list)
    ncall: list[IntArray] = field(default_factory=list)
    size: int = 0  # samples stored

    def add(
        self,
        u: FloatArray,
        v: FloatArray,
        logl: FloatArray,
        birth: FloatArray,
        thread: IntArray,
        batch: int,
        calls: int,
    ) -> None:
        """Append dead samples; ``calls`` likelihood calls are shared among them."""
        n = logl.size
        if n == 0:
            return
        share = np.full(n, calls // n, dtype=np.int64)
        share[: calls % n] += 1
        self.u.append(u)
        self.v.append(v)
        self.logl.append(logl)
        self.birth.append(birth)
        self.thread.append(thread.astype(np.int64))
        self.batch.append(np.full(n, batch, dtype=np.int64))
        self.ncall.append(share)
        self.size += n

    def arrays(self) -> dict[str, Any]:
        """The store as concatenated arrays (empty arrays when nothing is stored)."""

        def cat(parts: list[Any], shape: tuple[int, ...], dtype: Any) -> Any:
            return np.concatenate(parts) if parts else np.empty(shape, dtype=dtype)

        d = self.u[0].shape[1] if self.u else 0
        return {
            "u": cat(self.u, (0, d), np.float64),
            "v": cat(self.v, (0, d), np.float64),
            "logl": cat(self.logl, (0,), np.float64),
            "birth": cat(self.birth, (0,), np.float64),
            "thread": cat(self.thread, (0,), np.int64),
            "batch": cat(self.batch, (0,), np.int64),
            "ncall": cat(self.ncall, (0,), np.int64),
        }


@dataclass(frozen=True)
class RunSettings:
    """Settings shared by every run of a sampler."""

    sample: str  # "unif" or "rwalk"
    bound: str  # "multi", "single" or "none"
    remove_fraction: float = 0.1
    n_boot: int = 5
    update_nats: float = 0.25  # refit the bound after the volume shrinks by this much
    first_update_eff: float = 0.1  # leave the cube once its acceptance rate falls below this
    walks: int = 25
    min_batch: int = 128


@dataclass
class RunState:
    """A run in progress: its live points and what the next step needs."""

    batch: int
    u: FloatArray
    v: FloatArray
    logl: FloatArray
    birth: FloatArray
    thread: IntArray
    logl_max: float  # stop when the lowest live point reaches this (inf: by dlogz)
    dlogz: float
    use_bound: bool = False
    bound: Ellipsoids | None = None
    bound_logvol: float = 0.0  # ln X when the bound was fitted
    efficiency: float = 1.0
    rw_scale: float = 0.5
    logvol: float = 0.0  # ln X of this run alone
    logz: float = -math.inf  # ln Z of this run alone (for its dlogz stop)
    last_logl: float = -math.inf
    niter: int = 0
    done: bool = False
    cache_u: FloatArray | None = None
    cache_v: FloatArray | None = None
    cache_logl: FloatArray | None = None
    pending_calls: int = 0  # calls made to start the run, booked with its first deaths

    @property
    def remaining_dlogz(self) -> float:
        """ln(Z + L_max X) - ln Z: the evidence the live points could still add."""
        lmax = float(self.logl.max()) if self.logl.size else -math.inf
        return float(np.logaddexp(self.logz, lmax + self.logvol) - self.logz)


def _record_deaths(state: RunState, store: Store, k: IntArray, calls: int) -> None:
    """Kill live points ``k`` (already the lowest, in order) and advance ln X, ln Z."""
    n0 = state.logl.size
    ls = state.logl[k]
    n = n0 - np.arange(k.size)
    dlv = np.log1p(1.0 / n)
    lv = state.logvol - np.cumsum(dlv)
    prev = np.concatenate(([state.last_logl], ls[:-1]))
    lw = np.logaddexp(ls, prev) - math.log(2.0) + lv + np.log(np.expm1(dlv))
    state.logz = float(np.logaddexp(state.logz, np.logaddexp.reduce(lw)))
    state.logvol = float(lv[-1])
    state.last_logl = float(ls[-1])
    store.add(state.u[k], state.v[k], ls, state.birth[k], state.thread[k], state.batch, calls)


def _fit_bound(
    x: FloatArray, logvol: float, settings: RunSettings, rng: np.random.Generator
) -> Ellipsoids:
    """The bound around live points ``x`` (n, d) filling about ``exp(logvol)`` of the cube."""
    if settings.bound == "multi" and settings.sample == "unif":
        return fit_multi(x, logvol, settings.n_boot, rng)
    return fit_single(x, settings.n_boot, rng)


def step_run(
    state: RunState,
    store: Store,
    evaluate: Evaluate,
    settings: RunSettings,
    rng: np.random.Generator,
) -> int:
    """Advance the run by one step; returns the likelihood calls made (0 once done)."""
    if state.done:
        return 0
    K = state.logl.size
    order = np.argsort(state.logl, kind="stable")
    finished = (
        state.remaining_dlogz < state.dlogz
        if math.isinf(state.logl_max)
        else state.logl[order[0]] >= state.logl_max
    )
    if finished or K <= 1:
        _record_deaths(state, store, order, state.pending_calls)  # the final live points
        state.pending_calls = 0
        state.done = True
        return 0
    m = max(1, min(K - 1, math.ceil(K * settings.remove_fraction)))
    dead = order[:m]
    threshold = float(state.logl[dead[-1]])
    # the new points take the dead points' threads; the deaths are recorded with the calls
    # made to replace them
    keep = np.ones(K, dtype=bool)
    keep[dead] = False
    new_u, new_v, new_l, calls = _replace(state, threshold, m, keep, evaluate, settings, rng)
    _record_deaths(state, store, dead, calls + state.pending_calls)
    state.pending_calls = 0
    threads = state.thread[dead]
    state.u = np.concatenate([state.u[keep], new_u])
    state.v = np.concatenate([state.v[keep], new_v])
    state.logl = np.concatenate([state.logl[keep], new_l])
    state.birth = np.concatenate([state.birth[keep], np.full(m, threshold)])
    state.thread = np.concatenate([state.thread[keep], threads])
    state.niter += m
    return calls


def _replace(
    state: RunState,
    threshold: float,
    m: int,
    keep: NDArray[np.bool_],
    evaluate: Evaluate,
    settings: RunSettings,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """``m`` new points above ``threshold`` (cached surplus first), and the calls made."""
    d = state.u.shape[1]
    cu, cv, cl = _take_cache(state, threshold)
    calls = 0
    if cl.size < m:
        need = m - cl.size
        live_vol = state.logvol - m / state.logl.size
        pts = np.concatenate([state.u[keep], cu])
        if state.use_bound and (
            state.bound is None or state.bound_logvol - live_vol > settings.update_nats
        ):
            fitted = _fit_bound(pts, live_vol, settings, rng)
            # a bound fitted at a lower threshold still encloses today's contour: keep the
            # smaller of the two (a poor decomposition never costs more than the last one)
            if state.bound is None or fitted.logvol < state.bound.logvol:
                state.bound = fitted
            state.bound_logvol = live_vol
        walk = settings.sample == "rwalk"
        if walk and state.use_bound and state.bound is not None:
            pool = np.flatnonzero(keep)
            start = rng.choice(pool, size=need)
            shape = state.bound
            u, v, logl, calls, state.rw_scale = propose_rwalk(
                evaluate,
                threshold,
                state.u[start],
                state.v[start],
                state.logl[start],
                shape,
                state.rw_scale,
                settings.walks,
                rng,
            )
        else:
            bound = state.bound if state.use_bound else None
            u, v, logl, calls, state.efficiency = propose_uniform(
                evaluate, threshold, need, bound, state.efficiency, settings.min_batch, d, rng
            )
            if not state.use_bound and state.efficiency < settings.first_update_eff:
                state.use_bound = settings.bound != "none" or settings.sample == "rwalk"
        cu, cv, cl = (np.concatenate([a, b]) for a, b in ((cu, u), (cv, v), (cl, logl)))
    state.cache_u, state.cache_v, state.cache_logl = cu[m:], cv[m:], cl[m:]
    return cu[:m], cv[:m], cl[:m], calls


def _take_cache(state: RunState, threshold: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    d = state.u.shape[1]
    if state.cache_u is None or state.cache_v is None or state.cache_logl is None:
        return np.empty((0, d)), np.empty((0, d)), np.empty(0)
    ok = state.cache_logl > threshold
    return state.cache_u[ok], state.cache_v[ok], state.cache_logl[ok]

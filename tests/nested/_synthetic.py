"""An exact static nested-sampling run, as a test fixture for the Results record.

Likelihood: ``logL(x) = -|x|^2 / (2 sigma^2)`` (a 2-D isotropic Gaussian, unnormalised) with a
uniform prior on the box ``[-a, a]^2``, so (closed form)

    Z = (1 / (2a)^2) * 2 pi sigma^2 * erf(a / (sigma sqrt 2))^2.

The constrained prior ``{logL > L*}`` is the box cut by a disc, sampled exactly: by rejection
from the box while the disc's radius exceeds ``a`` (acceptance >= pi/4), then uniformly in the
disc. ``K`` live points; the worst is replaced each iteration; the final live points are added
with decreasing ``samples_n`` (K, K-1, ..., 1), as dynesty does. The integrals follow dynesty's
conventions: ``logvol = cumsum(log(n / (n + 1)))``, trapezoid weights, cumulative ``logz``,
``information`` and ``logzerr = sqrt(|cumsum(dH * dlnX)|)``. ``logz_bootstrap`` replays the run
with simulated shrinkage (``t ~ Beta(n, 1)``). The real sampler replaces this fixture in the
integration tests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def true_logz(sigma: float = 1.0, half_width: float = 10.0) -> float:
    """Closed-form log-evidence of the fixture's problem (see the module docstring)."""
    edge = math.erf(half_width / (sigma * math.sqrt(2.0)))
    return -math.log((2 * half_width) ** 2) + math.log(2 * math.pi * sigma**2 * edge**2)


def _logwt(logl: np.ndarray, logvol: np.ndarray) -> np.ndarray:
    """Trapezoid log-weights ``log(0.5 (L_{i-1} + L_i)(X_{i-1} - X_i))``, X_0 = 1, L_0 = 0;
    ``logvol`` may carry leading replicate axes."""
    prev = np.concatenate([np.zeros(logvol.shape[:-1] + (1,)), logvol[..., :-1]], axis=-1)
    logdvol = prev + np.log1p(-np.exp(logvol - prev))
    logl_prev = np.concatenate([[-np.inf], logl[:-1]])
    return np.logaddexp(logl, logl_prev) + logdvol + math.log(0.5)


def integrals(logl: np.ndarray, samples_n: np.ndarray) -> dict[str, np.ndarray]:
    """``logvol, logwt, logz, logzerr, information`` (each (N,)) of a run."""
    logvol = np.cumsum(np.log(samples_n / (samples_n + 1.0)))
    logwt = _logwt(logl, logvol)
    logz = np.logaddexp.accumulate(logwt)
    # trapezoid pieces of int (L/Z) ln L dX: 0.5 dX (L_i ln L_i + L_{i-1} ln L_{i-1}) / Z
    half_dx = logwt - np.logaddexp(logl, np.concatenate([[-np.inf], logl[:-1]]))
    here = np.exp(logl + half_dx - logz[-1]) * logl
    prev_l = np.concatenate([[0.0], logl[:-1]])  # L_0 = 0 contributes nothing
    prev = np.exp(prev_l + half_dx - logz[-1]) * prev_l
    prev[0] = 0.0
    information = np.cumsum(here + prev) - np.exp(logz - logz[-1]) * logz[-1]
    dh = np.diff(information, prepend=0.0)
    dlnx = -np.diff(logvol, prepend=0.0)
    logzerr = np.sqrt(np.abs(np.cumsum(dh * dlnx)))
    return dict(logvol=logvol, logwt=logwt, logz=logz, logzerr=logzerr, information=information)


def _draw(rng: np.random.Generator, r2max: float, a: float) -> tuple[np.ndarray, int]:
    """One uniform point of the box with ``|x|^2 < r2max``, and the draws it took."""
    if r2max >= a * a:
        calls = 0
        while True:
            calls += 1
            x = rng.uniform(-a, a, size=2)
            if x @ x < r2max:
                return x, calls
    r = math.sqrt(r2max * rng.random())
    phi = 2 * math.pi * rng.random()
    return np.array([r * math.cos(phi), r * math.sin(phi)]), 1


def gaussian_run(
    n_live: int = 100,
    seed: int = 0,
    sigma: float = 1.0,
    half_width: float = 10.0,
    n_bootstrap: int = 50,
) -> dict[str, Any]:
    """The fields of an exact static run (``samples_n`` form), ready for ``Results``."""
    rng = np.random.default_rng(seed)
    a = half_width
    live = rng.uniform(-a, a, size=(n_live, 2))
    r2 = np.einsum("ij,ij->i", live, live)
    its, calls = np.zeros(n_live, np.int64), np.ones(n_live, np.int64)
    # shrink to X ~ e^-8 of the posterior's own volume 2 pi sigma^2 / A
    n_iter = int(n_live * (math.log((2 * a) ** 2 / (2 * math.pi * sigma**2)) + 8.0))
    dead_x, dead_r2, dead_id, dead_it, dead_nc = [], [], [], [], []
    for it in range(n_iter):
        i = int(np.argmax(r2))
        dead_x.append(live[i].copy())
        dead_r2.append(r2[i])
        dead_id.append(i)
        dead_it.append(its[i])
        dead_nc.append(calls[i])
        live[i], calls[i] = _draw(rng, float(r2[i]), a)
        r2[i], its[i] = live[i] @ live[i], it + 1
    order = np.argsort(-r2, kind="stable")  # final live points, worst first
    x = np.concatenate([np.array(dead_x), live[order]])
    logl = -np.concatenate([np.array(dead_r2), r2[order]]) / (2 * sigma**2)
    samples_n = np.concatenate([np.full(n_iter, n_live), np.arange(n_live, 0, -1)])
    ncall = np.concatenate([np.array(dead_nc), calls[order]]).astype(np.int64)
    fields: dict[str, Any] = dict(
        niter=len(logl),
        ncall=ncall,
        eff=100.0 * len(logl) / ncall.sum(),
        samples=x,
        samples_u=(x + a) / (2 * a),
        samples_id=np.concatenate([np.array(dead_id), order]).astype(np.int64),
        samples_it=np.concatenate([np.array(dead_it), its[order]]).astype(np.int64),
        samples_batch=np.zeros(len(logl), np.int64),
        samples_n=samples_n.astype(np.int64),
        logl=logl,
        batch_nlive=np.array([n_live]),
        batch_logl_bounds=np.array([[-np.inf, np.inf]]),
    )
    fields.update(integrals(logl, samples_n))
    # simulated shrinkage: log t_i = log(u_i) / n_i replaces the mean log(n / (n + 1))
    logt = np.log(rng.random((n_bootstrap, len(logl)))) / samples_n
    boot = np.logaddexp.reduce(_logwt(logl, np.cumsum(logt, axis=1)), axis=1)
    w = np.exp(fields["logwt"] - fields["logz"][-1])
    w /= w.sum()
    fields.update(
        logzerr_single=float(fields["logzerr"][-1]),
        logz_bootstrap=boot,
        logzerr_bootstrap=float(np.std(boot, ddof=1)),
        n_effective=float(1.0 / np.sum(w**2)),
        stop_reason="synthetic: fixed number of iterations",
        solver_check=None,
        parameter_names=["x", "y"],
        wall_time=0.0,
    )
    return fields

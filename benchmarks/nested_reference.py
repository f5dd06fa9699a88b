"""Independent reference logZ of the seed tutorial's posterior (used by ``benchmarks/nested.py``).

The posterior (issue 9): the seed tutorial's Lotka-Volterra fit
(``compile_model(tutorial_text())``, ``tutorial_data()``: 500 times x 2 outputs),
``GaussianNLL(sigma=0.3)`` (its normalising constant included), ``logL = -cost``, prior
uniform on ``TUTORIAL_BOX`` (4 parameters).

:func:`reference_logz` estimates logZ by importance sampling at a tight solver tolerance
(rtol 1e-10, atol 1e-12):

1. a uniform scan of the box and bounded Nelder-Mead from 24 spread starts (the best scan
   point of each half-axis sub-box and the 8 best points): the MAP (restarted twice to polish)
   and the other local maxima;
2. a central finite-difference Hessian of -logL at the MAP, taken in the whitened coordinates
   of the previous estimate until the scale converges (the posterior's correlations reach
   0.97; steps along the parameter axes would cross many standard deviations of its narrow
   directions), checked positive definite; the Laplace logZ;
3. a multivariate Student-t proposal (df 4, scale matrix 1.5 x the Laplace covariance) centred
   at the MAP; draws outside the prior box get weight 0 (the same estimator as drawing from
   the truncated proposal and dividing by its box mass, without estimating that mass); N grows
   until the delta-method error ``std(w) / sqrt(N) / mean(w)`` is <= 0.01;
4. an independent check estimate from a wider proposal (df 3, scale 2.5);
5. the logL shift of other solver tolerances on 20 equal-weight posterior points (to first
   order, the logZ a run at that tolerance converges to is shifted by ``log mean exp(shift)``);
6. the secondary-mode bound: the evidence of a region is at most its prior mass (<= 1) times
   its largest likelihood, so a region whose best logL is far below logZ carries no mass.

Results are cached in ``benchmarks/nested_reference.json``, keyed by the settings.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import multivariate_t

from diffid_plugins import Problem, compile_model
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text
from diffid_plugins.problem import GaussianNLL

__all__ = [
    "BENCH_TOL",
    "DEFAULT_TOL",
    "describe_reference",
    "hessian",
    "laplace",
    "reference_logz",
    "tutorial_problem",
]

FloatArray = NDArray[np.float64]

HERE = Path(__file__).resolve().parent
CACHE = HERE / "nested_reference.json"
SIGMA = 0.3
BENCH_TOL = (1e-8, 1e-8)  # rtol, atol of the sampled likelihood (issue 9: rtol 1e-8)
DEFAULT_TOL = (1e-6, 1e-8)  # the tutorial's and Problem's defaults
REF_TOL = (1e-10, 1e-12)  # the reference's likelihood
# Other solver tolerances whose logL shift against REF_TOL the reference reports.
SHIFT_TOLS = ((1e-6, 1e-8), (1e-8, 1e-8), (1e-8, 1e-10), (1e-12, 1e-14))
N_POSTERIOR_POINTS = 500  # equal-weight posterior points kept in the cache (budget rows)
N_SHIFT_POINTS = 20


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the problem ---------------------------------------------------------------------------------
_MODEL: Any = None


def _model() -> Any:
    global _MODEL
    if _MODEL is None:
        _MODEL = compile_model(tutorial_text(), tier="specialised")
    return _MODEL


def tutorial_problem(rtol: float = BENCH_TOL[0], atol: float = BENCH_TOL[1]) -> Problem:
    """The seed tutorial's posterior as a ``Problem``: logL = -cost, prior uniform on the box.

    Parameters
    ----------
    rtol, atol : float
        Solver tolerances (default: the benchmark's rtol 1e-8, atol 1e-8).

    Returns
    -------
    Problem
        ``GaussianNLL(sigma=0.3)`` on ``tutorial_data()``, bounds ``TUTORIAL_BOX``.
    """
    box = [(float(lo), float(hi)) for lo, hi in TUTORIAL_BOX]
    problem = Problem(
        _model(), tutorial_data(), cost=GaussianNLL(sigma=SIGMA), bounds=box, rtol=rtol, atol=atol
    )
    problem.evaluate_batch(np.tile(TUTORIAL_BOX.mean(axis=1), (4, 1)))  # load the kernels
    return problem


def _loglike(problem: Problem, X: FloatArray, n_threads: int | None = None) -> FloatArray:
    """logL of rows ``X`` (n, 4): -cost, ``-inf`` where a solve failed."""
    out: FloatArray = -problem.evaluate_batch(X, n_threads=n_threads)
    return out


def _log_volume() -> float:
    return float(np.sum(np.log(TUTORIAL_BOX[:, 1] - TUTORIAL_BOX[:, 0])))


def _in_box(X: FloatArray) -> NDArray[np.bool_]:
    lo, hi = TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1]
    inside: NDArray[np.bool_] = np.all((lo <= X) & (hi >= X), axis=1)
    return inside


# --- MAP, Hessian, Laplace, secondary modes ------------------------------------------------------
def _nelder_mead(problem: Problem, x0: FloatArray, maxfev: int) -> tuple[FloatArray, float, int]:
    """Bounded Nelder-Mead on the cost; returns (x, logL, evaluations)."""
    res = minimize(
        problem.evaluate,
        x0,
        method="Nelder-Mead",
        bounds=[tuple(b) for b in TUTORIAL_BOX],
        options={"xatol": 1e-11, "fatol": 1e-11, "maxfev": maxfev, "maxiter": maxfev},
    )
    return np.asarray(res.x, dtype=np.float64), -float(res.fun), int(res.nfev)


def hessian(
    problem: Problem, x: FloatArray, basis: FloatArray, step: float
) -> tuple[FloatArray, int]:
    """Central finite-difference Hessian of -logL at ``x`` along the columns of ``basis``.

    The points are ``x + basis @ z`` with ``z`` on the stencil (one batch); the Hessian in
    ``z`` is mapped back to the parameters. With ``basis`` = scaled eigenvectors of the
    covariance (whitened coordinates) every difference moves the same number of posterior
    standard deviations, which keeps a strongly correlated posterior's narrow directions from
    swamping the differences (the tutorial's correlations reach 0.97).

    Parameters
    ----------
    problem : Problem
    x : ndarray, shape (d,)
    basis : ndarray, shape (d, d)
    step : float
        Step in ``z``.

    Returns
    -------
    (ndarray (d, d), int)
        The Hessian of the cost in the parameters and the evaluations it took.
    """
    d = x.size
    unit = np.eye(d) * step
    rows = [np.zeros(d)]
    for i in range(d):
        rows += [unit[i], -unit[i]]
    for i in range(d):
        for j in range(i + 1, d):
            rows += [unit[i] + unit[j], unit[i] - unit[j], -unit[i] + unit[j], -unit[i] - unit[j]]
    f = problem.evaluate_batch(x + np.array(rows) @ basis.T)
    Hz = np.empty((d, d))
    for i in range(d):
        Hz[i, i] = (f[1 + 2 * i] - 2 * f[0] + f[2 + 2 * i]) / step**2
    k = 1 + 2 * d
    for i in range(d):
        for j in range(i + 1, d):
            pp, pm, mp, mm = f[k : k + 4]
            Hz[i, j] = Hz[j, i] = (pp - pm - mp + mm) / (4 * step**2)
            k += 4
    inv = np.linalg.inv(basis)
    return inv.T @ Hz @ inv, len(rows)


def _whitening(H: FloatArray) -> FloatArray:
    """Basis ``B`` with ``B B^T`` = inverse of ``H`` (scaled eigenvectors); checks H > 0."""
    eig, vec = np.linalg.eigh(H)
    if not np.all(eig > 0):
        raise RuntimeError(f"the Hessian of -logL at the MAP is not positive definite: {eig}")
    basis: FloatArray = vec / np.sqrt(eig)
    return basis


def laplace(problem: Problem, x_map: FloatArray, logl_max: float) -> dict[str, Any]:
    """Laplace approximation of logZ at the MAP (uniform prior on the box).

    The Hessian is first taken along the parameter axes with steps of 1e-4 x |x|, then three
    times in the whitened coordinates of the previous estimate with steps of 1 posterior
    standard deviation (the scale converges), and finally with steps of 0.25 sd (the value
    used) and 0.5 sd (an accuracy check: quartic terms and solver noise move it).

    Returns
    -------
    dict
        ``logz``, ``logz_half_sd_steps`` (the same with 0.5-sd steps), ``cov`` (4, 4),
        ``eigenvalues`` of the Hessian (all > 0: positive definite), ``sd`` (4,),
        ``evaluations``.
    """
    d = x_map.size
    H, n = hessian(problem, x_map, np.diag(1e-4 * np.abs(x_map)), 1.0)
    evaluations = n
    for _ in range(3):
        H, n = hessian(problem, x_map, _whitening(H), 1.0)
        evaluations += n
    basis = _whitening(H)
    out: dict[str, Any] = {}
    for key, step in (("logz", 0.25), ("logz_half_sd_steps", 0.5)):
        H_step, n = hessian(problem, x_map, basis, step)
        evaluations += n
        _whitening(H_step)  # positive definite, or an error
        _, logdet = np.linalg.slogdet(H_step)
        out[key] = logl_max + 0.5 * d * math.log(2 * math.pi) - 0.5 * logdet - _log_volume()
        if key == "logz":
            cov = np.linalg.inv(H_step)
            out.update(cov=cov, eigenvalues=np.linalg.eigvalsh(H_step), sd=np.sqrt(np.diag(cov)))
    out["evaluations"] = evaluations
    return out


def find_modes(
    problem: Problem, rng: np.random.Generator, n_scan: int, maxfev: int = 3000
) -> dict[str, Any]:
    """Coarse uniform scan of the box, then local maxima from well-spread starts.

    Starts: the best scan point in each of the 16 sub-boxes (each axis halved) and the 8 best
    scan points overall; bounded Nelder-Mead from each, the best result restarted twice to
    polish. Local maxima are grouped later, once the posterior scale is known.

    Returns
    -------
    dict
        ``x_map`` (4,), ``logl_max``, ``optima`` (list of (x, logL)), ``scan`` (X (n, 4),
        logL (n,)), ``evaluations``.
    """
    lo, hi = TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1]
    X = rng.uniform(lo, hi, (n_scan, lo.size))
    logl = _loglike(problem, X)
    cell = ((X - lo) / (hi - lo) >= 0.5).astype(int) @ (2 ** np.arange(lo.size))
    starts = [X[np.flatnonzero(cell == c)[np.argmax(logl[cell == c])]] for c in np.unique(cell)]
    starts += list(X[np.argsort(-logl)[:8]])
    evaluations = n_scan
    optima = []
    for x0 in starts:
        x, ll, n = _nelder_mead(problem, x0, maxfev)
        optima.append((x, ll))
        evaluations += n
    x_map, logl_max = max(optima, key=lambda o: o[1])
    for _ in range(2):  # restarts: a fresh simplex around the incumbent
        x, ll, n = _nelder_mead(problem, x_map, maxfev)
        evaluations += n
        if ll >= logl_max:
            x_map, logl_max = x, ll
    return {
        "x_map": x_map,
        "logl_max": logl_max,
        "optima": optima,
        "scan": (X, logl),
        "evaluations": evaluations,
    }


def _mode_check(modes: dict[str, Any], cov: FloatArray, logz: float) -> dict[str, Any]:
    """Group the local maxima by Mahalanobis distance from the MAP; bound the others' mass."""
    prec = np.linalg.inv(cov)

    def dist(x: FloatArray) -> float:
        dx = x - modes["x_map"]
        return float(np.sqrt(dx @ prec @ dx))

    others: list[tuple[FloatArray, float]] = []
    n_main = 0
    for x, ll in modes["optima"]:
        if dist(x) <= 10.0:
            n_main += 1
        elif all(
            np.max(np.abs(x - y) / (TUTORIAL_BOX[:, 1] - TUTORIAL_BOX[:, 0])) > 1e-3
            for y, _ in others
        ):
            others.append((x, ll))
    X, logl = modes["scan"]
    far = np.array([dist(x) > 10.0 for x in X])
    best_other = max((ll for _, ll in others), default=-math.inf)
    best_far_scan = float(np.max(logl[far])) if far.any() else -math.inf
    return {
        "n_starts": len(modes["optima"]),
        "n_at_map": n_main,
        "secondary": sorted(([x.tolist(), ll] for x, ll in others), key=lambda o: -o[1]),
        "best_secondary_logl": best_other,
        "best_far_scan_logl": best_far_scan,
        "n_scan": int(len(X)),
        "n_scan_near_map": int((~far).sum()),
        # Z(region) <= prior mass x max L <= max L: log(Z_other / Z) <= best logL - logZ
        "log_mass_bound": max(best_other, best_far_scan) - logz,
    }


# --- importance sampling -------------------------------------------------------------------------
def _importance(
    problem: Problem,
    center: FloatArray,
    cov: FloatArray,
    df: float,
    scale: float,
    rng: np.random.Generator,
    n: int,
    target_err: float,
    n_max: int,
) -> dict[str, Any]:
    """IS estimate of logZ with a Student-t proposal, zero weight outside the box.

    Draws ``n`` points, then more in chunks of ``n`` until the delta-method error is
    <= ``target_err`` or ``n_max`` draws.
    """
    proposal = multivariate_t(loc=center, shape=scale * cov, df=df)
    log_prior = -_log_volume()
    logw_parts: list[FloatArray] = []
    X_parts: list[FloatArray] = []
    n_outside = 0
    n_failed = 0
    while True:
        X = np.asarray(proposal.rvs(size=n, random_state=rng), dtype=np.float64)
        inside = _in_box(X)
        logw = np.full(n, -np.inf)
        logl = _loglike(problem, X[inside])
        n_failed += int(np.sum(~np.isfinite(logl)))
        logw[inside] = logl + log_prior - proposal.logpdf(X[inside])
        n_outside += int(np.sum(~inside))
        logw_parts.append(logw)
        X_parts.append(X)
        all_logw = np.concatenate(logw_parts)
        n_total = all_logw.size
        w = np.exp(all_logw - np.max(all_logw))
        err = float(np.std(w) / math.sqrt(n_total) / np.mean(w))
        if err <= target_err or n_total >= n_max:
            break
    logz = float(logsumexp(all_logw) - math.log(n_total))
    return {
        "logz": logz,
        "err": err,
        "n": n_total,
        "n_eff": float(np.sum(w) ** 2 / np.sum(w**2)),
        "max_weight_share": float(np.max(w) / np.sum(w)),
        "outside_box": n_outside,
        "failed": n_failed,
        "df": df,
        "scale": scale,
        "X": np.concatenate(X_parts),
        "w": w,
    }


def _solver_shifts(points: FloatArray, reference: FloatArray) -> dict[str, dict[str, float]]:
    """logL(tolerance) - logL(reference tolerance) on posterior points, per tolerance."""
    out = {}
    for rtol, atol in SHIFT_TOLS:
        delta = _loglike(tutorial_problem(rtol, atol), points) - reference
        out[f"rtol {rtol:g}, atol {atol:g}"] = {
            "mean": float(np.mean(delta)),
            "min": float(np.min(delta)),
            "max": float(np.max(delta)),
            # the logZ this tolerance would give, to first order: log E_post[exp(delta)]
            "logz_shift": float(logsumexp(delta) - math.log(delta.size)),
        }
    return out


def _settings(n: int, df: float, scale: float, seed: int, rtol: float, atol: float) -> dict:
    return {
        "problem": "tutorial LV, tutorial_data(500, 0.3, 42), GaussianNLL(sigma=0.3), "
        "uniform prior on TUTORIAL_BOX",
        "n": n,
        "df": df,
        "scale": scale,
        "seed": seed,
        "rtol": rtol,
        "atol": atol,
        "check_proposal": [3.0, 2.5],
        "target_err": 0.01,
    }


def reference_logz(
    *,
    n: int = 100_000,
    df: float = 4.0,
    scale: float = 1.5,
    seed: int = 0,
    rtol: float = REF_TOL[0],
    atol: float = REF_TOL[1],
    cache: Path | None = CACHE,
    recompute: bool = False,
) -> dict[str, Any]:
    """Independent reference logZ of the seed tutorial's posterior by importance sampling.

    Steps: a uniform scan of the box (20 000 points) and bounded Nelder-Mead from 24 spread
    starts (the MAP and the secondary local maxima); a finite-difference Hessian of -logL at
    the MAP (positive definite, else an error) and the Laplace logZ; importance sampling from a
    multivariate Student-t (``df``, scale matrix ``scale`` x the Laplace covariance) centred
    at the MAP, draws outside the box weighted 0, ``n`` draws and more until the delta-method
    error is <= 0.01 (at most 20 ``n``); a check estimate from an independent, wider proposal
    (df 3, scale 2.5, ``n`` / 2 draws); the logL shift of other solver tolerances on 20
    equal-weight posterior points.

    Parameters
    ----------
    n : int, default 100 000
        Draws of the main proposal (at least).
    df, scale : float
        Student-t degrees of freedom and covariance factor of the main proposal.
    seed : int
        Seed of every random draw.
    rtol, atol : float
        Solver tolerances of the reference likelihood.
    cache : Path or None
        JSON file of results keyed by the settings (None: no cache).
    recompute : bool
        Ignore (and overwrite) a cached entry.

    Returns
    -------
    dict
        ``logz``, ``err`` (delta method), ``n``, ``n_eff``, ``max_weight_share``,
        ``check`` (the second proposal's estimate), ``laplace`` (logZ), ``laplace_half``,
        ``x_map``, ``logl_max``, ``cov``, ``hessian_eigenvalues``, ``post_mean``, ``post_sd``,
        ``modes`` (the secondary-mode check), ``shifts`` (per tolerance), ``posterior_points``
        (500 equal-weight points, (500, 4) as lists), ``seconds``, ``evaluations``,
        ``settings``, ``source`` ("cache" or "computed") and ``made`` (date).
    """
    settings = _settings(n, df, scale, seed, rtol, atol)
    key = json.dumps(settings, sort_keys=True)
    stored: dict[str, Any] = {}
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text())
        if key in stored and not recompute:
            return {**stored[key], "source": f"cache ({cache.name})"}
    start = time.perf_counter()
    problem = tutorial_problem(rtol, atol)
    rng = np.random.default_rng(seed)
    _log("[reference] uniform scan and local maxima ...")
    modes = find_modes(problem, rng, 20_000)
    x_map, logl_max = modes["x_map"], modes["logl_max"]
    lap = laplace(problem, x_map, logl_max)
    _log(f"[reference] MAP logL {logl_max:.6f}, Laplace logZ {lap['logz']:.4f}; sampling ...")
    main = _importance(problem, x_map, lap["cov"], df, scale, rng, n, 0.01, 20 * n)
    check = _importance(problem, x_map, lap["cov"], 3.0, 2.5, rng, n // 2, 0.01, 10 * n)
    w = main["w"] / np.sum(main["w"])
    X = main["X"]
    mean = w @ X
    sd = np.sqrt(w @ (X - mean) ** 2)
    picks = rng.choice(X.shape[0], size=N_POSTERIOR_POINTS, p=w)
    posterior = X[picks]
    shift_points = posterior[:N_SHIFT_POINTS]
    shifts = _solver_shifts(shift_points, _loglike(problem, shift_points))
    result = {
        "logz": main["logz"],
        "err": main["err"],
        "n": main["n"],
        "n_eff": main["n_eff"],
        "max_weight_share": main["max_weight_share"],
        "outside_box": main["outside_box"],
        "failed": main["failed"],
        "check": {k: v for k, v in check.items() if k not in ("X", "w")},
        "laplace": lap["logz"],
        "laplace_half": lap["logz_half_sd_steps"],
        "x_map": x_map.tolist(),
        "logl_max": logl_max,
        "cov": lap["cov"].tolist(),
        "hessian_eigenvalues": lap["eigenvalues"].tolist(),
        "laplace_sd": lap["sd"].tolist(),
        "post_mean": mean.tolist(),
        "post_sd": sd.tolist(),
        "modes": _mode_check(modes, lap["cov"], main["logz"]),
        "shifts": shifts,
        "posterior_points": [[float(f"{v:.10g}") for v in row] for row in posterior],
        "evaluations": modes["evaluations"] + lap["evaluations"] + main["n"] + check["n"],
        "seconds": time.perf_counter() - start,
        "made": time.strftime("%Y-%m-%d %H:%M"),
        "settings": settings,
    }
    if cache is not None:
        stored[key] = result
        cache.write_text(json.dumps(stored, indent=1) + "\n")
    return {**result, "source": "computed"}


def describe_reference(ref: dict[str, Any]) -> list[str]:
    """How the reference was made, in lines to print."""
    s = ref["settings"]
    chk = ref["check"]
    m = ref["modes"]
    diff = ref["logz"] - chk["logz"]
    sd_ratio = np.array(ref["post_sd"]) / np.array(ref["laplace_sd"])
    lines = [
        f"Reference ({ref['source']}; made {ref['made']}, {ref['seconds']:.0f} s, "
        f"{ref['evaluations']} evaluations): importance sampling at rtol {s['rtol']:g}, "
        f"atol {s['atol']:g}, seed {s['seed']}",
        f"  proposal: Student-t df {s['df']:g}, scale matrix {s['scale']:g} x Laplace "
        f"covariance, centred at the MAP; draws outside the box weighted 0 "
        f"({ref['outside_box']} of {ref['n']}; {ref['failed']} failed solves)",
        f"  logZ = {ref['logz']:.4f} +/- {ref['err']:.4f} (delta method: std(w)/sqrt(N)/mean(w));"
        f" N = {ref['n']}, N_eff = {ref['n_eff']:.0f}, largest weight share "
        f"{ref['max_weight_share']:.1e}",
        f"  check proposal (df {chk['df']:g}, scale {chk['scale']:g}, N = {chk['n']}, N_eff = "
        f"{chk['n_eff']:.0f}): logZ = {chk['logz']:.4f} +/- {chk['err']:.4f}; difference "
        f"{diff:+.4f} ({abs(diff) / math.hypot(ref['err'], chk['err']):.1f} sigma)",
        f"  Laplace: logZ = {ref['laplace']:.4f} (whitened FD Hessian, steps 0.25 sd; 0.5 sd: "
        f"{ref['laplace_half']:.4f}); Hessian eigenvalues "
        f"{', '.join(f'{e:.3g}' for e in ref['hessian_eigenvalues'])} (positive definite)",
        f"  MAP {np.round(ref['x_map'], 6).tolist()}, logL max {ref['logl_max']:.4f}; "
        f"posterior sd / Laplace sd: {', '.join(f'{r:.3f}' for r in sd_ratio)}",
        f"  secondary modes: {m['n_starts']} local searches from a {m['n_scan']}-point uniform "
        f"scan (best point per half-axis sub-box + 8 best): {m['n_at_map']} reached the MAP, "
        f"{len(m['secondary'])} ended elsewhere (distinct local maxima or stalls), the best "
        f"at logL {m['best_secondary_logl']:.1f}; best scan point > 10 sd from the MAP: logL "
        f"{m['best_far_scan_logl']:.1f} ({m['n_scan_near_map']} scan points within 10 sd)",
        f"  -> their evidence share is at most exp({m['log_mass_bound']:.0f}) "
        "(Z(region) <= prior mass x max L): negligible",
        "  logL shift vs the reference tolerance on "
        f"{N_SHIFT_POINTS} posterior points (mean [min, max]; logZ shift = log mean exp):",
    ]
    for name, sh in ref["shifts"].items():
        lines.append(
            f"    {name:<22} {sh['mean']:+.5f} [{sh['min']:+.5f}, {sh['max']:+.5f}]  logZ "
            f"{sh['logz_shift']:+.5f}"
        )
    return lines

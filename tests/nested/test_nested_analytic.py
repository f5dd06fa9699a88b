"""Issue 9 acceptance: evidence and posterior moments of analytic problems over 20 fixed seeds.

Problems and reference ln Z: ``tests/nested/_nested_problems.py`` (the shared notes'
``nested-sampling.md`` §2: T1 Gaussian shells, T2 eggbox, T3 correlated normal in 3-D and
10-D). Each problem is run once per seed 0..19 with ``run_nested()`` defaults (module-scoped
fixtures); the evidence test and the moment tests share these runs.

**Evidence.** ``|logZ - truth| <= 3 logzerr`` in at least 18 of the 20 seeds (90 %).

**Moments.** The weighted posterior mean (and, for the normals, the covariance) is compared
with its exact value: the normal's ``mu`` and ``Sigma``; by symmetry (0, 0) for the shells
(symmetric under x -> -x and under y -> -y) and (5 pi, 5 pi) for the eggbox (its likelihood is
invariant under the joint reflection x -> 10 pi - x, y -> 10 pi - y, because
cos(5 pi - t) = -cos(t)). The symmetries themselves are checked as posterior masses: the shells'
half-planes x > 0 and y > 0, and the eggbox's half x + y < 10 pi (mapped onto its complement
by the reflection; no mode lies on the line x + y = 10 pi), each exactly 1/2.

The error of a weighted mean of ``f`` is ``sd_post(f) / sqrt(ESS)``, with ``ESS`` the Kish
effective sample size ``(sum w)^2 / sum w^2`` of the run's importance weights; for a
covariance entry of a normal it is ``sqrt((S_ii S_jj + S_ij^2) / ESS)`` (the variance of a
sample covariance of a normal, Anderson, *An Introduction to Multivariate Statistical
Analysis*, §3.3 / Wishart moments), and for a mass ``p`` it is ``sqrt(p (1 - p) / ESS)``.
Nested-sampling weights are noisier than independent draws (Higson et al. 2018), so this
error could be too small; measured over the 20 seeds at the defaults, the normalised
deviations of the means have standard deviations 0.7 to 1.1 for all three 2-D/3-D problems,
so the factor is 1: a moment passes when it is within 3 of these errors, and a seed passes
when all of its moments do, in at least 18 of 20 seeds.

Runtime (shared 2-core machine): about 20 s shells, 30 s eggbox, 10 s 3-D normal, 5 s the
10-D ``rwalk`` check, about 50 s the 10-D normal with the default "unif" sampler over its 20
seeds (run with looser targets, the same for every seed: see that test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from diffid_plugins.nested import DynamicNestedSampler
from tests.nested._nested_problems import Problem, eggbox, normal, normal_moments, shells

SEEDS = range(20)
MIN_PASS = 18
K_SIGMA = 3.0


@dataclass(frozen=True)
class RunStats:
    """What the tests need of one run."""

    logz: float
    logzerr: float
    ncall: int
    ess: float
    mean: np.ndarray  # (d,)
    cov: np.ndarray  # (d, d)
    masses: dict[str, float]  # posterior masses of symmetric halves


def _stats(results: Any, masses: dict[str, Any]) -> RunStats:
    w = np.asarray(results.importance_weights(), dtype=np.float64)
    w = w / w.sum()
    x = np.asarray(results.samples, dtype=np.float64)
    mean = w @ x
    dx = x - mean
    cov = (dx * w[:, None]).T @ dx
    return RunStats(
        logz=float(results.logz[-1]),
        logzerr=float(results.logzerr[-1]),
        ncall=int(np.sum(results.ncall)),
        ess=1.0 / float(np.sum(w * w)),
        mean=mean,
        cov=cov,
        masses={name: float(w @ region(x)) for name, region in masses.items()},
    )


def _run_seeds(
    problem: Problem, seeds: range, masses: dict[str, Any], **kwargs: Any
) -> list[RunStats]:
    sample = kwargs.pop("sample", "auto")
    out = []
    for seed in seeds:
        sampler = DynamicNestedSampler(
            problem.loglike, problem.transform, problem.ndim, seed=seed, sample=sample
        )
        sampler.run_nested(**kwargs)
        assert sampler.results.stop_reason == "targets met"
        out.append(_stats(sampler.results, masses))
    return out


def _summary(problem: Problem, runs: list[RunStats]) -> str:
    dev = np.array([(r.logz - problem.logz) / r.logzerr for r in runs])
    inside = float(np.mean(np.abs(dev) <= K_SIGMA))
    calls = float(np.median([r.ncall for r in runs]))
    return (
        f"{problem.name}: {inside:.0%} of {len(runs)} seeds within 3 sigma; "
        f"(logZ - truth)/logzerr mean {dev.mean():+.2f} sd {dev.std(ddof=1):.2f}; "
        f"median calls {calls:.0f}"
    )


def _half(axis: int, centre: float) -> Any:
    return lambda x: (x[:, axis] > centre).astype(np.float64)


@pytest.fixture(scope="module")
def shells_runs() -> tuple[Problem, list[RunStats]]:
    p = shells()
    return p, _run_seeds(p, SEEDS, {"x>0": _half(0, 0.0), "y>0": _half(1, 0.0)})


@pytest.fixture(scope="module")
def eggbox_runs() -> tuple[Problem, list[RunStats]]:
    p = eggbox()
    below = {"x+y<10pi": lambda x: (x.sum(axis=1) < 10 * math.pi).astype(np.float64)}
    return p, _run_seeds(p, SEEDS, below)


@pytest.fixture(scope="module")
def normal3_runs() -> tuple[Problem, list[RunStats]]:
    p = normal(3)
    return p, _run_seeds(p, SEEDS, {})


# ---------------------------------------------------------------------------- checks
def _check_logz(problem: Problem, runs: list[RunStats], min_pass: int) -> None:
    print("\n" + _summary(problem, runs))
    bad = [
        (i, r.logz, r.logzerr)
        for i, r in enumerate(runs)
        if abs(r.logz - problem.logz) > K_SIGMA * r.logzerr
    ]
    msg = f"{problem.name}: outside 3 sigma (seed, logz, err): {bad}"
    assert len(runs) - len(bad) >= min_pass, msg


def _mean_z(r: RunStats, truth: np.ndarray, var: np.ndarray) -> np.ndarray:
    """(mean - truth) / error, with var the posterior variances (d,)."""
    return (r.mean - truth) / np.sqrt(var / r.ess)


def _check_seeds(name: str, zs: list[np.ndarray], min_pass: int) -> None:
    """Each seed passes when all its normalised deviations are within 3."""
    z = np.array(zs)
    worst = np.max(np.abs(z.reshape(len(zs), -1)), axis=1)
    print(
        f"\n{name}: normalised moment deviations sd per entry "
        f"{np.round(z.std(axis=0, ddof=1).ravel(), 2).tolist()}; worst per seed "
        f"{np.round(worst, 1).tolist()}"
    )
    assert int(np.sum(worst <= K_SIGMA)) >= min_pass, f"{name}: worst |z| per seed {worst}"


def _check_symmetric_mean(name: str, runs: list[RunStats], centre: np.ndarray) -> None:
    # the posterior variance is the run's own weighted variance (no closed form needed)
    zs = [_mean_z(r, centre, np.diag(r.cov)) for r in runs]
    _check_seeds(f"{name} mean", zs, MIN_PASS)


def _check_masses(name: str, runs: list[RunStats]) -> None:
    zs = [np.array([(p - 0.5) / math.sqrt(0.25 / r.ess) for p in r.masses.values()]) for r in runs]
    _check_seeds(f"{name} half masses {list(runs[0].masses)}", zs, MIN_PASS)


def _check_normal_moments(name: str, runs: list[RunStats], d: int, min_pass: int) -> None:
    mu, sigma = normal_moments(d)
    zs = []
    var_cov = np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2
    iu = np.triu_indices(d)
    for r in runs:
        zm = _mean_z(r, mu, np.diag(sigma))
        zc = (r.cov - sigma)[iu] / np.sqrt(var_cov[iu] / r.ess)
        zs.append(np.concatenate([zm, zc]))
    _check_seeds(f"{name} mean and covariance", zs, min_pass)


# ---------------------------------------------------------------------------- T1 shells
def test_shells_logz(shells_runs: tuple[Problem, list[RunStats]]) -> None:
    _check_logz(*shells_runs, MIN_PASS)


def test_shells_moments_and_symmetry(shells_runs: tuple[Problem, list[RunStats]]) -> None:
    _, runs = shells_runs
    _check_symmetric_mean("shells", runs, np.zeros(2))
    _check_masses("shells", runs)


# ---------------------------------------------------------------------------- T2 eggbox
def test_eggbox_logz(eggbox_runs: tuple[Problem, list[RunStats]]) -> None:
    _check_logz(*eggbox_runs, MIN_PASS)


def test_eggbox_moments_and_symmetry(eggbox_runs: tuple[Problem, list[RunStats]]) -> None:
    _, runs = eggbox_runs
    _check_symmetric_mean("eggbox", runs, np.full(2, 5 * math.pi))
    _check_masses("eggbox", runs)


# ---------------------------------------------------------------------------- T3 normal
def test_normal3d_logz(normal3_runs: tuple[Problem, list[RunStats]]) -> None:
    _check_logz(*normal3_runs, MIN_PASS)


def test_normal3d_moments(normal3_runs: tuple[Problem, list[RunStats]]) -> None:
    _check_normal_moments("normal3d", normal3_runs[1], 3, MIN_PASS)


def test_normal10d_unif_logz_and_moments() -> None:
    """The 10-D normal with the default sampler ("unif" up to 10 d), 20 seeds.

    Run with looser targets than the defaults (logzerr_target=0.2, n_effective=1000, the same
    for every seed) to keep the file near two minutes: about 2.5 s and 120k calls per seed
    instead of 9 s and 360k. The coverage claim is the same (within 3 of each run's own
    logzerr); only the error bars are wider.
    """
    p = normal(10)
    runs = _run_seeds(p, SEEDS, {}, sample="unif", logzerr_target=0.2, n_effective=1000)
    print("\n" + _summary(p, runs))
    _check_logz(p, runs, MIN_PASS)
    _check_normal_moments("normal10d unif", runs, 10, MIN_PASS)


def test_normal10d_rwalk_loose() -> None:
    """``rwalk`` on the 10-D normal with loose targets: 3 seeds, each within 3 sigma.

    Only the mean is checked: random-walk samples are autocorrelated, so the Kish ESS
    overstates the covariance's precision (seed 2's 55 covariance entries all deviate by
    2.2 to 3.6 of the Kish errors, together: the overall scale).
    """
    p = normal(10)
    runs = _run_seeds(p, range(3), {}, sample="rwalk", logzerr_target=0.3, n_effective=500)
    _check_logz(p, runs, 3)
    mu, sigma = normal_moments(10)
    _check_seeds("normal10d rwalk mean", [_mean_z(r, mu, np.diag(sigma)) for r in runs], 3)

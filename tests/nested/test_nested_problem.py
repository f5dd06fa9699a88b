"""``DynamicNestedSampler.from_problem``: the prior from the bounds, logL = -cost, the errors
for problems it cannot sample, and the solver check.

Reference: exponential decay ``y' = -k y``, ``y(0) = 2``, 20 noisy data points, GaussianNLL
with the known sigma, a uniform prior on k in [0.1, 1]. Its evidence is a 1-D integral of the
closed-form likelihood (``y = 2 exp(-k t)``), computed with ``scipy.integrate.quad`` at
rtol 1e-10: the truth the sampler's ln Z must meet within 3 logzerr.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.integrate import quad

from diffid_plugins import RMSE, SSE, GaussianNLL, Problem, compile_model
from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.nested import DynamicNestedSampler
from diffid_plugins.nested._from_problem import SolverToleranceWarning

DECAY = """
in_i { k = 0.5 }
u_i { y = 2.0 }
F_i { -k * y }
"""
T = np.linspace(0.0, 4.0, 20)
BOX = (0.1, 1.0)


def _data(sigma: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.column_stack([T, 2.0 * np.exp(-0.5 * T) + rng.normal(0.0, sigma, T.size)])


def _true_logz(data: np.ndarray, sigma: float) -> float:
    y = data[:, 1]

    def logl(k: float) -> float:
        r = 2.0 * np.exp(-k * T) - y
        return float(-0.5 * np.sum(r * r) / sigma**2 - 0.5 * T.size * np.log(2 * np.pi * sigma**2))

    peak = max(logl(k) for k in np.linspace(*BOX, 2001))
    val, _ = quad(lambda k: np.exp(logl(k) - peak), *BOX, points=[0.5], epsrel=1e-10, limit=200)
    return float(np.log(val / (BOX[1] - BOX[0])) + peak)


@pytest.fixture(scope="module")
def model():
    return compile_model(DECAY)


def test_from_problem_evidence_matches_quadrature(model) -> None:
    sigma = 0.05
    data = _data(sigma)
    p = Problem(
        model, data, cost=GaussianNLL(sigma=sigma), bounds={"k": BOX}, rtol=1e-10, atol=1e-12
    )
    s = DynamicNestedSampler.from_problem(p, seed=0)
    s.run_nested()
    r = s.results
    truth = _true_logz(data, sigma)
    assert abs(r.logz[-1] - truth) <= 3 * r.logzerr[-1]
    assert r.parameter_names == ["k"]
    assert np.all((r.samples >= BOX[0]) & (r.samples <= BOX[1]))
    mean, _ = r.mean_and_cov()
    assert abs(mean[0] - 0.5) < 0.05  # the data were made with k = 0.5
    check = r.solver_check
    assert check is not None and check["ok"] and check["rtol_check"] == pytest.approx(1e-12)
    assert abs(check["logz_shift"]) < 1e-6  # rtol 1e-10: nothing to see


def test_solver_check_warns_with_the_rtol_to_use(model) -> None:
    # a loose tolerance and precise data: the logL shift is large against logzerr
    sigma = 0.002
    p = Problem(
        model, _data(sigma), cost=GaussianNLL(sigma=sigma), bounds={"k": BOX}, rtol=1e-2, atol=1e-8
    )
    s = DynamicNestedSampler.from_problem(p, seed=1)
    with pytest.warns(SolverToleranceWarning, match=r"rtol<=") as rec:
        s.run_nested(logzerr_target=0.3, n_effective=500)
    check = s.results.solver_check
    assert check is not None and not check["ok"]
    assert abs(check["logz_shift"]) > 0.25 * check["logzerr"]
    assert check["advice"] and check["advice"] in str(rec[0].message)


def test_solver_check_can_be_skipped(model) -> None:
    p = Problem(model, _data(0.05), cost=GaussianNLL(sigma=0.05), bounds={"k": BOX})
    s = DynamicNestedSampler.from_problem(p, seed=0, n_check=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.run_nested(logzerr_target=0.3, n_effective=200)
    assert s.results.solver_check is None


@pytest.mark.parametrize("cost", [SSE(), RMSE(), GaussianNLL(sigma=0.05, weight=2.0)])
def test_costs_that_are_not_likelihoods_are_refused(model, cost) -> None:
    p = Problem(model, _data(0.05), cost=cost, bounds={"k": BOX})
    with pytest.raises(ArgumentError, match="GaussianNLL"):
        DynamicNestedSampler.from_problem(p)


def test_unbounded_parameters_are_refused(model) -> None:
    p = Problem(model, _data(0.05), cost=GaussianNLL(sigma=0.05))
    with pytest.raises(ArgumentError, match=r"no finite bounds for \['k'\]"):
        DynamicNestedSampler.from_problem(p)


def test_not_a_problem() -> None:
    with pytest.raises(ArgumentTypeError, match="must be a Problem"):
        DynamicNestedSampler.from_problem(object())

"""Cost values: closed forms, diffid 0.3.0's numbers, per-output weights and noise levels.

Reference numbers, by test:

* closed form: data d = t^2 at t = 0, 0.2, ..., 2 and the model x' = 3t, x(0) = 0, so
  x = 1.5 t^2 and every residual is r = 0.5 t^2 (DOPRI5 integrates this polynomial exactly up
  to rounding); the formulas (docs/diffid-reference.md section 1.7) are evaluated by hand
  with numpy in the test;
* diffid: values printed by diffid 0.3.0 (``../shared/tools/diffid-python``) for the same
  model, data and costs (script: DiffsolBuilder().with_diffsl(QUAD_TEXT).with_data(data)
  .with_tolerances(1e-10, 1e-12).with_parameter("c", 3.0).with_cost(...).build().evaluate(...)),
  pasted below;
* per-output: residuals from our own ``solve`` (a separate code path from the batch kernel),
  scored with the formulas in numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffid_plugins import RMSE, SSE, GaussianNLL, Problem, solve
from diffid_plugins.problem import CostSum, ProblemError

T = np.linspace(0.0, 2.0, 11)
R = 0.5 * T**2  # residuals of the model 1.5 t^2 against the data t^2
S = float(np.sum(R**2))
N = R.size

# diffid 0.3.0, Problem.evaluate([3.0]) and evaluate([2.0]) on the closed-form problem
# (printed by ../shared/tools/diffid-python; see the module docstring).
DIFFID = {
    "sse": (10.133200000000162, 1.0202687547211755e-27),
    "sse_w2": (20.266400000000324, 2.040537509442351e-27),
    "rmse": (0.9597916440561539, 9.630768659595781e-15),
    "rmse_w2": (1.9195832881123078, 1.9261537319191562e-14),
    "nll_v025": (22.750104879092326, 2.4837048790920013),
    "nll_v4_w3": (56.99877855423245, 53.19882855423239),
    "sum": (34.8028881672048, 2.4837048790920204),  # SSE() + RMSE(2.0) + GaussianNLL(0.25)
}


def _nll(s: float, n: int, variance: float) -> float:
    return n / 2 * math.log(2 * math.pi * variance) + s / (2 * variance)


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        (SSE(), S),
        (SSE(2.5), 2.5 * S),
        (RMSE(), math.sqrt(S / N)),
        (RMSE(0.5), 0.5 * math.sqrt(S / N)),
        (GaussianNLL(sigma=0.5), _nll(S, N, 0.25)),
        (GaussianNLL(variance=4.0, weight=3.0), 3.0 * _nll(S, N, 4.0)),
        (GaussianNLL(), _nll(S, N, 1.0)),  # diffid's default variance 1
        (SSE() + RMSE(2.0), S + 2 * math.sqrt(S / N)),
        (3 * SSE() + GaussianNLL(sigma=2.0) * 0.5, 3 * S + 0.5 * _nll(S, N, 4.0)),
        (sum([SSE(), RMSE()]), S + math.sqrt(S / N)),
    ],
)
def test_cost_equals_closed_form(quad_model, quad_data, cost, expected) -> None:
    """Closed form (hand formulas of docs/diffid-reference.md 1.7 on r = 0.5 t^2)."""
    problem = Problem(quad_model, quad_data, cost=cost)
    assert problem.evaluate([3.0]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("cost", "key"),
    [
        (SSE(), "sse"),
        (SSE(2.0), "sse_w2"),
        (RMSE(), "rmse"),
        (RMSE(2.0), "rmse_w2"),
        (GaussianNLL(variance=0.25), "nll_v025"),
        (GaussianNLL(variance=4.0, weight=3.0), "nll_v4_w3"),
        (SSE() + RMSE(2.0) + GaussianNLL(variance=0.25), "sum"),
    ],
)
def test_cost_equals_diffid(quad_model, quad_data, cost, key) -> None:
    """diffid 0.3.0's printed values (module docstring) at c = 3 (r = 0.5 t^2) and c = 2
    (r = 0: only the NLL constant is left)."""
    problem = Problem(quad_model, quad_data, cost=cost, rtol=1e-10, atol=1e-12)
    at3, at2 = DIFFID[key]
    assert problem.evaluate([3.0]) == pytest.approx(at3, rel=1e-12)
    assert problem.evaluate([2.0]) == pytest.approx(at2, rel=1e-9, abs=1e-12)


def test_cost_algebra() -> None:
    """Sums flatten, scalars scale weights, equal descriptors compare equal (no numbers)."""
    total = SSE() + (RMSE() + GaussianNLL(sigma=2.0))
    assert isinstance(total, CostSum) and len(total.terms) == 3
    assert 2 * SSE(1.5) == SSE(3.0)
    assert (SSE() + RMSE()) * 2 == SSE(2.0) + RMSE(2.0)
    assert GaussianNLL(variance=4.0) == GaussianNLL(sigma=2.0)
    assert "SSE" in repr(total) and "RMSE" in repr(total)


def test_per_output_weights_and_sigmas(lv_model, lv_data) -> None:
    """Two outputs: per-output weights, one sigma per output, and estimated sigmas, against
    the formulas applied in numpy to residuals from solve() (independent code path)."""
    p = np.array([1.0, 0.35, 0.12, 0.45])
    sol = solve(lv_model, p, lv_data[:, 0])
    r = sol.y - lv_data[:, 1:]
    s = np.sum(r**2, axis=0)  # per-output sums of squares
    n_t = r.shape[0]
    v = np.array([0.25, 2.0])
    sig = np.array([0.5, 0.8])

    def nll(sig: np.ndarray, v: np.ndarray) -> float:
        return float(np.sum(v * (n_t / 2 * np.log(2 * np.pi * sig**2) + s / (2 * sig**2))))

    cases = [
        (SSE(output_weights=v), float(np.sum(v * s))),
        (RMSE(output_weights=v), math.sqrt(float(np.sum(v * s)) / (2 * n_t))),
        (GaussianNLL(sigma=sig), nll(sig, np.ones(2))),
        (GaussianNLL(sigma=sig, output_weights=v, weight=2.0), 2.0 * nll(sig, v)),
    ]
    for cost, expected in cases:
        problem = Problem(lv_model, lv_data, cost=cost)
        assert problem.evaluate(p) == pytest.approx(expected, rel=1e-10), cost
    est = Problem(lv_model, lv_data, cost=GaussianNLL(estimate_sigma="per_output", sigma=0.3))
    assert est.parameter_names == ["a", "b", "d", "g", "sigma_0", "sigma_1"]
    assert est.bounds[4:] == [(0.0, math.inf), (0.0, math.inf)]
    np.testing.assert_array_equal(est.x0, [1.1, 0.4, 0.1, 0.4, 0.3, 0.3])
    assert est.evaluate(np.r_[p, sig]) == pytest.approx(nll(sig, np.ones(2)), rel=1e-10)
    shared = Problem(lv_model, lv_data, cost=SSE() + GaussianNLL(estimate_sigma=True))
    assert shared.parameter_names[-1] == "sigma"
    expected = float(np.sum(s)) + nll(np.array([0.7, 0.7]), np.ones(2))
    assert shared.evaluate(np.r_[p, 0.7]) == pytest.approx(expected, rel=1e-10)


def test_estimated_sigma_not_positive_costs_inf(quad_model, quad_data) -> None:
    """A noise level <= 0 in the row is a failed row (BAD_SIGMA), not an exception."""
    problem = Problem(quad_model, quad_data, cost=GaussianNLL(estimate_sigma=True))
    costs, statuses = problem.evaluate_batch(
        [[3.0, 0.5], [3.0, 0.0], [3.0, -1.0]], return_status=True
    )
    assert np.isfinite(costs[0]) and np.all(np.isinf(costs[1:]))
    assert problem.stats.failures == {"BAD_SIGMA": 2}
    assert statuses[0] == 0


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SSE(-1.0), r"`weight` must be a finite number >= 0, got -1.0"),
        (lambda: RMSE(math.nan), r"`weight` must be a finite number >= 0"),
        (lambda: GaussianNLL(sigma=0.0), r"`sigma` must be finite and > 0, got 0.0"),
        (lambda: GaussianNLL(variance=-1.0), r"`variance` must be finite and > 0"),
        (lambda: GaussianNLL(sigma=1.0, variance=1.0), r"`sigma` or `variance`, not both"),
        (lambda: GaussianNLL(estimate_sigma="yes"), r"`estimate_sigma` must be False, True"),
        (lambda: SSE(output_weights=[1.0, -2.0]), r"`output_weights` must be finite and >= 0"),
    ],
)
def test_bad_cost_arguments(make, match) -> None:
    with pytest.raises(ProblemError, match=match):
        make()


def test_cost_sizes_checked_against_model(lv_model, lv_data, quad_model, quad_data) -> None:
    with pytest.raises(ProblemError, match=r"`output_weights` has 3 values, but the model has 2"):
        Problem(lv_model, lv_data, cost=SSE(output_weights=[1.0, 2.0, 3.0]))
    with pytest.raises(ProblemError, match=r"'c' is already a fitted model input"):
        Problem(quad_model, quad_data, cost=GaussianNLL(estimate_sigma=True, sigma_name="c"))
    with pytest.raises(TypeError, match=r"`cost` must be a cost such as SSE\(\)"):
        Problem(quad_model, quad_data, cost="sse")  # type: ignore[arg-type]

"""The lane-interleaved batch kernel (``diffid_plugins/problem/_lanes.py``).

Reference numbers: the scalar ``batch_kernel`` of the same compiled model (``_batch.py``, one
``solve_kernel`` per row), called directly with the same arguments; ``solve(method="dopri5")``
for one row; and our own ``evaluate`` loop. No external numbers. The stiff rows were found by
running the tutorial model: on them ``solve(method="auto")`` switches to the stiff method and
succeeds (checked below); the failing rows are those of ``test_problem_batch.py`` (b < 0:
``STEP_TOO_SMALL``; b = 0 with a = 5: ``NONFINITE``).
"""

from __future__ import annotations

import numpy as np
import pytest

from diffid_plugins import Problem, solve
from diffid_plugins.examples import TUTORIAL_BOX, TUTORIAL_TRUE
from diffid_plugins.problem import GaussianNLL, status_name
from diffid_plugins.solvers._status import METHOD_AUTO, METHOD_DOPRI5

STIFF = np.array(
    [[1.1, 0.4, -0.1, 0.4], [1.1, 0.4, 0.1, -0.4], [1.1, 40.0, 0.1, 0.4], [-5.0, 0.4, 0.1, 0.4]]
)
FAILING = np.array([[1.1, -0.4, 0.1, 0.4], [5.0, 0.0, 0.1, 0.4]])


def _mixed_rows() -> np.ndarray:
    """Easy rows near the truth, box draws, failing rows and stiff rows, shuffled."""
    rng = np.random.default_rng(7)
    parts = [
        TUTORIAL_TRUE * rng.uniform(0.8, 1.2, (40, 4)),
        rng.uniform(TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1], (30, 4)),
        FAILING,
        STIFF,
    ]
    X = np.concatenate(parts)  # noqa: N806
    return X[rng.permutation(len(X))]


def _scalar(problem: Problem, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    """Costs and statuses from the scalar ``batch_kernel`` (one chunk, one thread)."""
    enc = problem._enc
    costs = np.empty(len(X))
    statuses = np.empty(len(X), dtype=np.int64)
    problem._kernels.entry("batch_kernel")(
        np.ascontiguousarray(X, dtype=np.float64),
        (problem._p_default, problem._param_index, problem.t0, problem._times, problem._obs),
        (problem._method_code, problem.rtol, problem._atol, problem.max_steps),
        (enc.kind, enc.weight, enc.out_weight, enc.sigma, enc.sigma_index),
        1,
        costs,
        statuses,
    )
    return costs, statuses


def test_dispatch(lv_model, lv_data) -> None:
    """Lanes for "auto"/"dopri5" on a model without mass matrix or stop; not otherwise."""
    assert Problem(lv_model, lv_data)._lanes
    assert Problem(lv_model, lv_data, method="dopri5")._lanes
    assert not Problem(lv_model, lv_data, method="tsit5")._lanes
    assert not Problem(lv_model, lv_data, method="rodas5p")._lanes


@pytest.mark.parametrize("method", ["auto", "dopri5"])
def test_bit_identical_to_scalar_path(lv_model, lv_data, method) -> None:
    """Same costs and statuses as batch_kernel, bit for bit: the lanes replay _erk_advance's
    arithmetic (a change of the scalar DOPRI5 arithmetic must be mirrored in _lanes.py)."""
    problem = Problem(lv_model, lv_data, method=method)
    assert problem._method_code == (METHOD_AUTO if method == "auto" else METHOD_DOPRI5)
    X = _mixed_rows()  # noqa: N806
    costs, statuses = problem.evaluate_batch(X, n_threads=1, return_status=True)
    ref_costs, ref_statuses = _scalar(problem, X)
    np.testing.assert_array_equal(statuses, ref_statuses)
    assert costs.tobytes() == ref_costs.tobytes()
    ok = statuses == 0
    np.testing.assert_allclose(costs[ok], ref_costs[ok], rtol=1e-6)  # the brief's tolerance
    names = {status_name(int(s)) for s in statuses[~ok]}
    assert {"STEP_TOO_SMALL", "NONFINITE"} <= names, names
    assert ok.sum() >= 70


def test_stiff_rows_go_to_the_scalar_path(lv_model, lv_data) -> None:
    """Rows on which "auto" switches to the stiff method get the scalar path's result."""
    for x in STIFF:
        sol = solve(lv_model, x, lv_data[:, 0], method="auto")
        assert sol.stats["n_switches"] == 1 and sol.status == 0
    X = np.concatenate([STIFF, TUTORIAL_TRUE[None], STIFF[::-1]])  # noqa: N806
    problem = Problem(lv_model, lv_data)
    lanes = problem.evaluate_batch(X, n_threads=1)
    scalar, _ = _scalar(problem, X)
    assert np.isfinite(lanes).all()
    assert lanes.tobytes() == scalar.tobytes()


def test_agrees_with_solve(lv_model, lv_data) -> None:
    """The SSE of solve(method="dopri5") at the data times equals the lanes cost."""
    problem = Problem(lv_model, lv_data, method="dopri5")
    x = TUTORIAL_TRUE * np.array([1.05, 0.97, 1.02, 0.99])
    sol = solve(lv_model, x, lv_data[:, 0], method="dopri5")
    sse = float(np.sum((np.asarray(sol.y).reshape(len(lv_data), -1) - lv_data[:, 1:]) ** 2))
    assert problem.evaluate(x) == pytest.approx(sse, rel=1e-12)


def test_row_result_depends_only_on_the_row(lv_model, lv_data) -> None:
    """evaluate_batch == [evaluate(x)] bit for bit on 1 and 2 threads, for any row order and
    batch size (lanes, chunks and refills change; a row's result must not)."""
    problem = Problem(lv_model, lv_data)
    X = _mixed_rows()  # noqa: N806
    loop = np.array([problem.evaluate(x) for x in X])
    for n_threads in (1, 2):
        assert problem.evaluate_batch(X, n_threads=n_threads).tobytes() == loop.tobytes()
        perm = np.random.default_rng(n_threads).permutation(len(X))
        batch = problem.evaluate_batch(X[perm], n_threads=n_threads)
        assert batch.tobytes() == loop[perm].tobytes()
        for lo, hi in ((0, 1), (3, 6), (10, 27), (5, len(X))):
            batch = problem.evaluate_batch(X[lo:hi], n_threads=n_threads)
            assert batch.tobytes() == loop[lo:hi].tobytes(), (n_threads, lo, hi)


def test_gaussian_nll_bad_sigma_and_nan_rows(lv_model, lv_data) -> None:
    """Estimated noise levels, bad sigma and NaN rows: the scalar path's costs and statuses."""
    problem = Problem(lv_model, lv_data, cost=GaussianNLL(sigma=0.3, estimate_sigma="per_output"))
    assert problem.n_params == 6
    rng = np.random.default_rng(3)
    X = np.column_stack(  # noqa: N806
        [TUTORIAL_TRUE * rng.uniform(0.9, 1.1, (12, 4)), rng.uniform(0.2, 0.4, (12, 2))]
    )
    X[2, 4] = 0.0  # sigma must be > 0
    X[5, 5] = -1.0
    X[7, 1] = np.nan
    costs, statuses = problem.evaluate_batch(X, n_threads=2, return_status=True)
    ref_costs, ref_statuses = _scalar(problem, X)
    np.testing.assert_array_equal(statuses, ref_statuses)
    assert costs.tobytes() == ref_costs.tobytes()
    assert status_name(int(statuses[2])) == status_name(int(statuses[5])) == "BAD_SIGMA"
    assert status_name(int(statuses[7])) == "NONFINITE_PARAMS"
    assert np.isfinite(np.delete(costs, [2, 5, 7])).all()


def test_quad_model_closed_form(quad_model, quad_data) -> None:
    """x' = c t: with c = 3 the residuals are 0.5 t^2, so SSE = sum(0.25 t^4) (closed form)."""
    problem = Problem(quad_model, quad_data)
    assert problem._lanes
    t = quad_data[:, 0]
    expected = float(np.sum(0.25 * t**4))
    costs = problem.evaluate_batch(np.array([[3.0], [3.0], [1.0], [3.0], [3.0]]))
    np.testing.assert_allclose(costs[[0, 1, 3, 4]], expected, rtol=1e-9)
    assert costs[2] == pytest.approx(float(np.sum((0.5 * t**2 - t**2) ** 2)), rel=1e-9)

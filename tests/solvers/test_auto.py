"""method="auto": stiff problems switch to Rodas5P, non-stiff ones never pay for Newton/LU.

References: scipy ``Radau`` at rtol 1e-12 (Robertson), the heat equation run with the stiff
method alone, and the explicit-only solve for the cost comparisons. Hard points:
``../shared/data/lv_hard_points.csv`` (Lotka-Volterra tutorial problem; columns alpha, beta,
delta, gamma of dx = alpha x - beta x y, dy = delta x y - gamma y).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from _solver_models import LV_TUTORIAL_P, corpus_model, lotka_volterra
from scipy.integrate import solve_ivp

from diffid_plugins.solvers import BoundModel, solve

HARD_POINTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "lv_hard_points.csv"
ROB_P = [0.04, 1e4, 3e7]
ROB_T = [0.4, 40.0, 4000.0, 1e5]


@pytest.fixture(scope="module")
def robertson_reference() -> np.ndarray:
    def f(t: float, y: np.ndarray) -> list[float]:
        k1, k2, k3 = ROB_P
        return [
            -k1 * y[0] + k2 * y[1] * y[2],
            k1 * y[0] - k2 * y[1] * y[2] - k3 * y[1] ** 2,
            k3 * y[1] ** 2,
        ]

    ref = solve_ivp(f, (0, 1e5), [1, 0, 0], method="Radau", rtol=1e-12, atol=1e-20, t_eval=ROB_T)
    return ref.y.T


@pytest.mark.parametrize("model_id", ["robertson_ode", "robertson_dae"])
def test_robertson_to_1e5(model_id: str, robertson_reference: np.ndarray) -> None:
    model = corpus_model(model_id)
    sol = solve(model, ROB_P, ROB_T, method="auto", rtol=1e-6, atol=1e-10)
    assert sol.success
    rel = np.abs(sol.y - robertson_reference) / np.abs(robertson_reference)
    assert rel.max() < 1e-4, rel
    assert np.abs(sol.y.sum(axis=1) - 1.0).max() < 1e-6  # x + y + z = 1
    if model_id == "robertson_dae":
        assert sol.stats["n_switches"] == 0 and sol.stats["n_lu"] > 0  # a DAE starts stiff
    else:
        # Stiffness is detected within the first explicit steps (the initial transient).
        assert sol.stats["n_switches"] == 1 and 0 < sol.stats["switch_step"] < 100
    # Cost bound in scipy's style: a crawl through DOPRI5 would need ~1e6 steps.
    assert sol.stats["n_accepted"] < 500 and sol.stats["n_rhs"] < 5000


def test_heat_equation_switches_on_long_intervals() -> None:
    model = corpus_model("heat_1d_pde")
    t = np.linspace(0.0, 10.0, 50)
    auto = solve(model, None, t, method="auto")
    explicit = solve(model, None, t, method="dopri5")
    stiff = solve(model, None, t, method="rodas5p")
    assert auto.success and explicit.success and stiff.success
    assert auto.stats["n_switches"] == 1
    assert auto.stats["n_accepted"] < explicit.stats["n_accepted"] / 4
    np.testing.assert_allclose(auto.y, stiff.y, atol=1e-5)
    # On the corpus interval [0, 0.1] the problem is not stiff yet: no switch, no LU.
    short = solve(model, None, [0.0, 0.01, 0.1], method="auto")
    assert short.stats["n_switches"] == 0 and short.stats["n_lu"] == 0


@pytest.fixture(scope="module")
def lv() -> BoundModel:
    return lotka_volterra()


def test_lotka_volterra_never_pays_for_newton(lv: BoundModel) -> None:
    sol = solve(lv, LV_TUTORIAL_P, np.linspace(0, 100, 500), method="auto")
    assert sol.success and sol.stats["n_switches"] == 0
    assert sol.stats["n_jac"] == 0 and sol.stats["n_lu"] == 0
    assert sol.stats["n_rhs"] == 2204  # exactly the DOPRI5 (scipy RK45) cost


def _hard_points() -> np.ndarray:
    if not HARD_POINTS.exists():
        pytest.skip(f"hard points not found at {HARD_POINTS}")
    lines = [ln for ln in HARD_POINTS.read_text().splitlines() if ln and not ln.startswith("#")]
    assert (
        lines[0] == "alpha,beta,delta,gamma"
    )  # dx = alpha x - beta x y, dy = delta x y - gamma y
    return np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])


def test_hard_points_finish_fast_with_auto(lv: BoundModel) -> None:
    points = _hard_points()
    assert points.shape == (37, 4)
    t = np.linspace(0, 100, 500)
    solve(lv, points[0], t)  # compiled
    for p in points:
        best = np.inf
        for _ in range(3):  # best of three: robust to a busy machine
            start = time.perf_counter()
            sol = solve(lv, p, t, method="auto")
            best = min(best, time.perf_counter() - start)
        assert best < 0.05, (p, best)
        assert sol.success or sol.status < 0  # a solution or a failure status
        assert sol.stats["n_lu"] == 0  # DOPRI5's error control keeps the prey at atol level


def test_stiffness_switch_bounds_an_explosive_explicit_solve(lv: BoundModel) -> None:
    """The safety net: Tsit5 without safeguards explodes at p (prey -> -1e7, predator
    collapsing with rate ~1e6, >1e5 steps); with the stiffness test it hands over to the stiff
    method within a few hundred steps."""
    p = np.array([1.91570214, 0.21413539, 0.43374136, 0.15351774])
    t = np.linspace(0, 100, 500)
    crawl = solve(lv, p, t, method="tsit5", max_steps=20_000)
    assert not crawl.success and crawl.status == -1  # max_steps exhausted
    k = lv.kernels.module
    w = np.zeros(k.N_WORK)
    k.prepare(p, 0, w)
    y = np.array([10.0, 5.0])
    stats = np.zeros(10, dtype=np.int64)
    rows = (np.zeros((500, 2)), np.zeros((500, 2)), np.zeros(500))
    status, t_switch, _ = k._erk_advance(
        w, 0.0, y, 0.0, t, 1e-6, np.full(2, 1e-8), 20_000, *rows, stats, 1, True
    )
    assert status == 2 and stats[3] < 1000, (status, stats)  # STATUS_STIFF
    assert 0 < t_switch < 100


def test_auto_on_a_non_stiff_event_model_stays_explicit() -> None:
    sol = solve(corpus_model("bouncing_ball_stop"), None, [5.0], method="auto")
    assert sol.status == 1 and sol.stats["n_switches"] == 0 and sol.stats["n_lu"] == 0

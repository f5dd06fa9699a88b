"""The Python boundary: validation messages, Solution, failures as statuses, bind_model.

References: closed forms for the failure problems (y' = y^2 from y(0) = 1 blows up at t = 1;
y' = -sqrt(y) reaches 0 at t = 2 and then takes the square root of a negative number).
"""

from __future__ import annotations

import types

import numba
import numpy as np
import pytest
from _solver_models import LV_TUTORIAL_P, convergence_model, failure_model, lotka_volterra

from diffid_plugins._templates import template_source
from diffid_plugins.solvers import (
    METHODS,
    SOLVER_TEMPLATES,
    BoundModel,
    Solution,
    Status,
    bind_model,
    solve,
)
from diffid_plugins.solvers._status import N_STATS, message


@pytest.fixture(scope="module")
def lv() -> BoundModel:
    return lotka_volterra()


@pytest.fixture(scope="module")
def fail() -> BoundModel:
    return failure_model()


def test_solution_fields(lv: BoundModel) -> None:
    t = np.linspace(0, 10, 11)
    sol = solve(lv, LV_TUTORIAL_P, t)
    assert isinstance(sol, Solution)
    assert sol.success and sol.status == Status.DONE and sol.t_root is None
    assert sol.t.shape == (11,) and sol.y.shape == (11, 2) and sol.states.shape == (11, 2)
    assert set(sol.stats) == {
        "n_rhs",
        "n_jac",
        "n_lu",
        "n_accepted",
        "n_rejected",
        "n_roots",
        "n_switches",
        "switch_step",
    }
    assert sol.message == Status.DONE.message
    assert lv.n_states == 2 and lv.n_inputs == 4 and lv.n_outputs == 2 and not lv.has_mass
    assert "BoundModel('lv'" in repr(lv)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"t_eval": [[0.0, 1.0]]},
            r"`t_eval` must be 1-dimensional, got an array of shape \(1, 2\)",
        ),
        ({"t_eval": []}, r"`t_eval` is empty"),
        ({"t_eval": [0.0, np.nan]}, r"`t_eval` must be finite, got nan at index 1"),
        ({"t_eval": [0.0, 2.0, 1.0]}, r"`t_eval` must be non-decreasing, got 2.0 followed by 1.0"),
        ({"t_eval": [0.5, 1.0], "t0": 1.0}, r"`t_eval` must start at or after `t0` = 1.0"),
        ({"rtol": 0.0}, r"`rtol` must be a positive finite number, got 0.0"),
        ({"atol": -1e-8}, r"`atol` must be positive and finite"),
        ({"atol": [1e-8, np.inf]}, r"`atol` must be positive and finite"),
        ({"max_steps": 0}, r"`max_steps` must be a positive integer, got 0"),
        ({"max_steps": 1.5}, r"`max_steps` must be a positive integer, got 1.5"),
        ({"method": "rk4"}, r"`method` must be one of \['auto', 'dopri5', 'rodas5p', 'tsit5'\]"),
        ({"p": [1.0, 2.0]}, r"`p` must have shape \(4,\) \(one value per model input\)"),
        ({"p": [1.0, np.nan, 1.0, 1.0]}, r"`p` must be finite"),
    ],
)
def test_invalid_input_raises_with_a_clear_message(
    lv: BoundModel,
    kwargs: dict,  # type: ignore[type-arg]
    match: str,
) -> None:
    args = {"p": LV_TUTORIAL_P, "t_eval": [0.0, 1.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        solve(lv, **args)


def test_model_without_kernels_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="`model` must be a compiled model or a BoundModel"):
        solve(object(), None, [1.0])


def test_method_names_are_case_insensitive(lv: BoundModel) -> None:
    assert METHODS["auto"] == 0
    assert solve(lv, LV_TUTORIAL_P, [1.0], method="DOPRI5").success


def test_blow_up_is_a_failure_status(fail: BoundModel) -> None:
    sol = solve(fail, [0.0], [0.5, 2.0])
    assert not sol.success and sol.status == Status.STEP_TOO_SMALL
    assert "step size" in sol.message
    np.testing.assert_allclose(sol.y[:, 0], [2.0], rtol=1e-5)  # rows before the failure: 1/(1-t)
    assert sol.t.shape == (1,)


@pytest.mark.parametrize("p", [[1.0], [2.0]])
def test_square_root_of_negative_is_a_failure_status(fail: BoundModel, p: list[float]) -> None:
    sol = solve(fail, p, [0.5, 1.9, 3.0])
    assert not sol.success and sol.status == Status.NONFINITE
    assert "non-finite" in sol.message and "square roots of negative numbers" in sol.message
    if p == [2.0]:  # (1 - t/2)^2 is fine until t = 2
        np.testing.assert_allclose(sol.y[:, 0], [0.5625, 0.0025], rtol=1e-4)


def test_exhausted_max_steps_is_a_failure_status(lv: BoundModel) -> None:
    sol = solve(lv, LV_TUTORIAL_P, np.linspace(0, 100, 500), max_steps=50)
    assert not sol.success and sol.status == Status.MAX_STEPS
    assert "Try increasing `max_steps`" in sol.message
    assert sol.stats["n_accepted"] + sol.stats["n_rejected"] == 50
    assert 0 < sol.t.shape[0] < 500


def test_status_messages() -> None:
    for status in Status:
        assert status.message.endswith(".") and len(status.message) > 20
    assert Status.ROOT.is_successful and not Status.NONFINITE.is_successful
    assert "Unknown solver status 42" in message(42)
    assert message(-1) == Status.MAX_STEPS.message


def test_kernels_never_raise_inside_a_prange_batch(fail: BoundModel) -> None:
    """A parallel batch over parameter sets gets integer statuses, never an exception."""
    ns = vars(fail.kernels.module)
    exec(  # compiled in the model's namespace, as the batch templates of issue 4 will be
        "from numba import prange\n"
        "@njit(parallel=True)\n"
        "def _test_batch(P, t_eval, ys, us, ts, stats, status):\n"
        "    for i in prange(P.shape[0]):\n"
        "        atol = np.full(N_STATES, 1e-8)\n"
        "        status[i] = solve_kernel(P[i], 0.0, t_eval, 0, 1e-6, atol, 10000,\n"
        "                                 ys[i], us[i], ts[i], stats[i])\n",
        ns,
    )
    P = np.array([[0.0], [1.0], [2.0], [0.0]])  # noqa: N806
    t = np.array([0.5, 1.5, 2.5])
    n = P.shape[0]
    out = (np.zeros((n, 3, 1)), np.zeros((n, 3, 1)), np.zeros((n, 3)))
    stats = np.zeros((n, N_STATS), dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    ns["_test_batch"](P, t, *out, stats, status)
    assert status.tolist() == [-2, -3, -3, -2]
    ns["_test_batch"](P, t[::-1].copy(), *out, stats, status)  # invalid t_eval: a status too
    assert status.tolist() == [Status.BAD_INPUT] * n


def test_bind_model_validates_its_arguments() -> None:
    @numba.njit
    def rhs(t, y, p, dy):  # type: ignore[no-untyped-def]
        dy[0] = -y[0]

    def plain(t, y, p, dy):  # type: ignore[no-untyped-def]
        dy[0] = -y[0]

    with pytest.raises(TypeError, match="`rhs` must be a numba @njit function"):
        bind_model(plain, 1, u0=[1.0])
    with pytest.raises(ValueError, match=r"`u0` must have shape \(1,\)"):
        bind_model(rhs, 1, u0=[1.0, 2.0])
    with pytest.raises(ValueError, match="`stop` and `n_stop` go together"):
        bind_model(rhs, 1, u0=[1.0], n_stop=1)
    with pytest.raises(ValueError, match="`reset` requires `stop`"):
        bind_model(rhs, 1, u0=[1.0], reset=rhs)
    with pytest.raises(ValueError, match="needs the stiff method"):
        bind_model(rhs, 1, u0=[1.0], mass=rhs, stiff=False)


def test_stiff_false_models_refuse_the_stiff_method(fail: BoundModel) -> None:
    with pytest.raises(ValueError, match="bound with `stiff=False`"):
        solve(fail, [0.0], [0.5], method="rodas5p")


def test_finite_difference_jacobian_fallback() -> None:
    # The convergence model has no `jac`: the documented forward-difference fallback.
    k = convergence_model().kernels.module
    w = np.zeros(k.N_WORK)
    y = np.array([0.3, 0.7, 0.2, -0.4])
    J = np.zeros((4, 4))  # noqa: N806
    k.jac(1.5, y, w, J)
    exact = np.array([[1 - 2 * 0.3, 0, 0, 0], [0, -1.5, 0, 0], [0, 0, 0, 1], [0, 0, -1, 0]])
    np.testing.assert_allclose(J, exact, atol=1e-7)


def test_solver_templates_strip_cleanly() -> None:
    names = [m.__name__.rsplit(".", 1)[1] for m in SOLVER_TEMPLATES]
    assert names == ["_events", "_erk", "_ros_kernels", "_rosenbrock", "_driver"]
    for module in SOLVER_TEMPLATES:
        assert isinstance(module, types.ModuleType)
        text = template_source(module)
        assert "model-bindings" not in text and "from __future__" not in text
    assert "def solve_kernel(" in template_source(SOLVER_TEMPLATES[-1])

"""RestartingCMA on closed-form functions whose minima are known exactly.

Test functions (all minimised, minimum value 0):

* sphere ``sum((x - 0.7)^2)``, minimum at ``x = 0.7`` in every coordinate;
* ellipsoid ``sum(10^(6 i / (d - 1)) (x_i - 0.5)^2)``, minimum at ``x = 0.5``;
* Rosenbrock ``sum(100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2)``, minimum at ``x = 1``;
* Rastrigin ``10 d + sum(x_i^2 - 10 cos(2 pi x_i))``, minimum at ``x = 0``, local minima near
  every integer point (which is what makes restarts happen).

Tolerances are the stop rules' own: a run stopped by ``tolfun = 1e-11`` on a function with
minimum 0 has best values that no longer change by 1e-11, so ``best_f < 1e-10`` is what the
rule promises on the sphere-like functions, and ``|x - x*| ~ sqrt(best_f)`` bounds the
distance to the minimiser. Bit-for-bit claims (determinism, state round trip) compare arrays
with ``np.array_equal``: they are exact by construction, not tolerances.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.optim import STOP_REASONS, RestartingCMA
from diffid_plugins.optim._stops import RunTrace, _stagnated, fun_history_length

Fn = Callable[[np.ndarray], np.ndarray]


def sphere(X: np.ndarray) -> np.ndarray:
    return ((X - 0.7) ** 2).sum(axis=1)


def ellipsoid(X: np.ndarray) -> np.ndarray:
    d = X.shape[1]
    return (10.0 ** (6.0 * np.arange(d) / (d - 1)) * (X - 0.5) ** 2).sum(axis=1)


def rosenbrock(X: np.ndarray) -> np.ndarray:
    return (100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1.0 - X[:, :-1]) ** 2).sum(axis=1)


def rastrigin(X: np.ndarray) -> np.ndarray:
    return 10.0 * X.shape[1] + (X**2 - 10.0 * np.cos(2.0 * np.pi * X)).sum(axis=1)


def drive(es: RestartingCMA, f: Fn, max_generations: int = 5000) -> list[np.ndarray]:
    """Run until done (or a generation cap); returns every asked generation."""
    asked = []
    while not es.done and es.generation < max_generations:
        X = es.ask()
        asked.append(X)
        es.tell(X, f(X))
    return asked


# -- convergence ---------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 5, 10])
def test_sphere_converges_to_its_minimiser(d: int) -> None:
    es = RestartingCMA([-3.0] * d, [3.0] * d, seed=d, restarts=None)
    drive(es, sphere)
    assert es.done and es.n_restarts == 0
    assert es.history[0]["reason"] == "tolfun"
    assert es.best_f < 1e-10
    assert es.best_x is not None
    np.testing.assert_allclose(es.best_x, 0.7, atol=1e-5)
    assert es.best_f == es.history[0]["best_f"]


def test_ellipsoid_converges() -> None:
    """Condition 1e6 (axis scales 1 .. 1e3): CMA-ES learns the scaling."""
    es = RestartingCMA([-3.0] * 5, [3.0] * 5, seed=1, restarts=None)
    drive(es, ellipsoid)
    assert es.best_f < 1e-10
    assert es.best_x is not None
    np.testing.assert_allclose(es.best_x, 0.5, atol=1e-4)


def test_rosenbrock_converges_with_ipop() -> None:
    es = RestartingCMA([-2.0] * 4, [2.0] * 4, seed=1, max_restarts=2)
    drive(es, rosenbrock)
    assert es.best_f < 1e-10
    assert es.best_x is not None
    np.testing.assert_allclose(es.best_x, 1.0, atol=1e-4)


def test_optimum_on_the_boundary_is_reached_and_rows_stay_in_the_box() -> None:
    """A linear slope: the minimiser is the corner ``lower``; sigma0 = 2 box widths puts most
    genotypes outside the box (the reflection path). tolx = 1e-11 box widths ends the run, so
    the corner is reached to about that (1e-9 leaves room for the last generations)."""
    lower, upper = np.array([-1.0, 2.0, 10.0]), np.array([1.0, 2.5, 1000.0])
    es = RestartingCMA(lower, upper, seed=4, sigma0=2.0, restarts=None)
    for X in drive(es, lambda X: ((X - lower) / (upper - lower)).sum(axis=1)):
        assert X.dtype == np.float64 and X.shape == (X.shape[0], 3)
        assert np.all((lower <= X) & (upper >= X))
    assert es.best_x is not None
    assert np.all(np.abs(es.best_x - lower) <= 1e-9 * (upper - lower)), es.best_x


def test_every_asked_row_is_inside_the_box_across_restarts() -> None:
    lower, upper = np.array([-5.12] * 3), np.array([5.12] * 3)
    es = RestartingCMA(lower, upper, seed=2, restarts="bipop", max_restarts=4)
    for X in drive(es, rastrigin):
        assert np.all((lower <= X) & (upper >= X))


def test_default_population_and_x0() -> None:
    es = RestartingCMA([0.0] * 6, [2.0] * 6, x0=[0.1] * 6, sigma0=1e-3, restarts=None)
    assert es.popsize == 4 + math.floor(3 * math.log(6)) == 9
    X = es.ask()
    # sigma0 = 1e-3 box widths = 2e-3: every row is within 10 standard deviations of x0
    assert np.all(np.abs(X - 0.1) < 10 * 2e-3)
    np.testing.assert_array_equal(es.mean, np.full(6, 0.1))


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_same_generations_bit_for_bit() -> None:
    runs = []
    for _ in range(2):
        es = RestartingCMA([-5.12] * 3, [5.12] * 3, seed=7, restarts="bipop", max_restarts=3)
        runs.append((drive(es, rastrigin), es.history, es.best_f))
    (a, ha, fa), (b, hb, fb) = runs
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert ha == hb and fa == fb
    other = RestartingCMA([-5.12] * 3, [5.12] * 3, seed=8, restarts="bipop")
    assert not np.array_equal(other.ask(), a[0])


def test_ask_twice_returns_the_same_generation() -> None:
    es = RestartingCMA([0.0, 0.0], [1.0, 1.0], seed=0)
    X1 = es.ask()
    X1[0, 0] = -99.0  # the caller owns its copy
    X2 = es.ask()
    assert X2[0, 0] != -99.0
    np.testing.assert_array_equal(X2, es.ask())
    es.tell(X2, sphere(X2))
    assert es.generation == 1 and es.n_evals == es.popsize


# -- restarts ------------------------------------------------------------------------------


def test_ipop_restarts_on_rastrigin_double_the_population() -> None:
    """Rastrigin's local minima stop runs early; each IPOP restart doubles lambda [AH05]."""
    es = RestartingCMA([-5.12] * 4, [5.12] * 4, seed=3, max_restarts=4)
    drive(es, rastrigin)
    sizes = [h["popsize"] for h in es.history]
    assert sizes == [8 * 2**k for k in range(5)]  # lambda_def(4) = 4 + floor(3 ln 4) = 8
    assert es.n_restarts == 4 and es.done
    assert [h["run"] for h in es.history] == list(range(5))
    assert all(h["reason"] in STOP_REASONS and h["regime"] is None for h in es.history)
    assert es.generation == sum(h["generations"] for h in es.history)
    assert es.n_evals == sum(h["popsize"] * h["generations"] for h in es.history)
    assert es.best_f == min(h["best_f"] for h in es.history)


def test_ipop_population_factor() -> None:
    es = RestartingCMA([-5.12] * 2, [5.12] * 2, seed=3, max_restarts=2, inc_popsize=1.5)
    drive(es, rastrigin)
    assert [h["popsize"] for h in es.history] == [6, 9, 13]  # floor(6 * 1.5^k)


def test_bipop_alternates_regimes_by_spent_budget() -> None:
    """Hansen 2009: before each restart the regime with fewer evaluations spent so far runs
    (first run = large regime); large populations are lambda_def * 2^k, small ones lie in
    [lambda_def, lambda_l / 2] with lambda_l the next large population."""
    d = 3
    lam = 4 + math.floor(3 * math.log(d))
    es = RestartingCMA([-5.12] * d, [5.12] * d, seed=5, restarts="bipop", max_restarts=9)
    drive(es, rastrigin)
    h = es.history
    assert len(h) == 10 and h[0]["regime"] == "large" and h[0]["popsize"] == lam
    spent = {"large": 0, "small": 0}
    n_large = 0
    for prev, run in zip(h, h[1:], strict=False):
        spent[prev["regime"]] += prev["popsize"] * prev["generations"]
        n_large += prev["regime"] == "large"
        expected = "small" if spent["small"] < spent["large"] else "large"
        assert run["regime"] == expected, (run, spent)
        if expected == "large":
            assert run["popsize"] == lam * 2**n_large
        else:
            assert lam <= run["popsize"] <= lam * 2 ** (n_large - 1)
    assert {r["regime"] for r in h} == {"large", "small"}
    assert any(a["regime"] == b["regime"] == "small" for a, b in zip(h, h[1:], strict=False))


def test_without_restarts_one_run_then_done() -> None:
    es = RestartingCMA([-5.12] * 2, [5.12] * 2, seed=1, restarts=None, max_restarts=5)
    drive(es, rastrigin)
    assert len(es.history) == 1 and es.done
    with pytest.raises(ArgumentError, match="done"):
        es.ask()
    with pytest.raises(ArgumentError, match="ask"):
        es.tell(np.zeros((es.popsize, 2)), np.zeros(es.popsize))


# -- stop rules ----------------------------------------------------------------------------


def _only_run(f: Fn, d: int = 4, max_generations: int = 5000, **kw: object) -> dict:
    es = RestartingCMA([-3.0] * d, [3.0] * d, seed=1, restarts=None, **kw)  # type: ignore[arg-type]
    drive(es, f, max_generations)
    assert es.done and len(es.history) == 1
    return es.history[0]


def test_stop_reason_tolx_when_tolfun_is_off() -> None:
    assert _only_run(sphere, tolfun=0.0)["reason"] == "tolx"


def test_tolfunrel_stops_a_cost_known_to_a_relative_precision() -> None:
    """``(1 + sphere) * (1 + 1e-7 e)``, ``e`` standard normal: a cost with minimum 1 known to
    a relative precision of about 1e-7 (like an ODE cost at a finite rtol). Its best values
    keep jittering by ~1e-7 (>> 1e-11), so the absolute rule alone does not stop the run in
    600 generations (stagnation off and tolx = 0 isolate the tolfun rule); with
    ``tolfunrel = 1e-5`` the rule fires once the values span less than 1e-5 of the value,
    so the best value is within 1e-5 relative of the minimum 1 (up to the noise, 1e-6)."""
    noise = np.random.default_rng(0)

    def f(X: np.ndarray) -> np.ndarray:
        return (1.0 + sphere(X)) * (1.0 + 1e-7 * noise.standard_normal(len(X)))

    es = RestartingCMA([-3.0] * 4, [3.0] * 4, seed=1, restarts=None, tolx=0.0, stagnation=False)
    drive(es, f, 600)
    assert not es.done  # the absolute rule (1e-11) never fired
    noise = np.random.default_rng(0)
    run = _only_run(f, tolx=0.0, stagnation=False, tolfunrel=1e-5)
    assert run["reason"] == "tolfun" and run["generations"] < 600
    assert 1.0 - 1e-6 < run["best_f"] < 1.0 + 2e-5


def test_tolfunrel_threshold_is_relative_to_the_best_value() -> None:
    """The rule compares the range with ``tolfun + tolfunrel * |lowest value|``: a range of
    5e-4 at values near -100 (negative costs too) is below 1e-5 * 100 = 1e-3, not below 1e-4."""
    from diffid_plugins.optim._stops import StopRules, stop_reason

    term = fun_history_length(2, 6)
    best = list(-100.0 + 5e-4 * np.linspace(0.0, 1.0, term))
    values = np.full(6, -100.0 + 2e-4)
    eye = np.eye(2)
    kw = dict(
        mean=np.zeros(2),
        sigma=0.1,
        sigma0=0.1,
        C=eye,
        B=eye,
        D=np.ones(2),
        pc=np.zeros(2),
        generation=term,
    )
    for rel, expected in ((1e-5, "tolfun"), (1e-6, None), (0.0, None)):
        rules = StopRules(
            tolfun=1e-11, tolx=0.0, stagnation=False, max_condition=1e14, tolfunrel=rel
        )
        assert stop_reason(rules, RunTrace(best, best), values, **kw) == expected  # type: ignore[arg-type]


def test_stop_reason_numerical_when_tolerances_are_off() -> None:
    """With tolfun = tolx = 0 the run goes on until floating point stops the mean moving."""
    assert _only_run(sphere, tolfun=0.0, tolx=0.0)["reason"] in ("noeffectaxis", "noeffectcoord")


def test_stop_reason_condition() -> None:
    """Ellipsoid with axis scales 1 .. 1e5 (condition 1e10 of the Hessian): C must become
    that ill-conditioned, so max_condition = 1e4 stops the run."""
    f = lambda X: (10.0 ** (10 * np.arange(4) / 3) * X**2).sum(axis=1)  # noqa: E731
    assert _only_run(f, max_condition=1e4)["reason"] == "condition"


def test_stop_reason_tolxup() -> None:
    """A linear slope from a tiny sigma0: the step size grows 1e4-fold before the walls."""
    assert _only_run(lambda X: X.sum(axis=1), d=3, sigma0=1e-6)["reason"] == "tolxup"


def test_stop_reason_nofinite_after_the_history_window() -> None:
    h = _only_run(lambda X: np.full(X.shape[0], np.inf), d=3)
    assert h["reason"] == "nofinite" and h["best_f"] == math.inf
    assert h["generations"] == fun_history_length(3, 7) == 10 + math.ceil(90 / 7)


def test_stop_reason_stagnation_on_pure_noise() -> None:
    """Values independent of x: the best and median histories do not improve."""
    noise = np.random.default_rng(0)
    h = _only_run(lambda X: noise.random(X.shape[0]), d=3)
    assert h["reason"] == "stagnation"
    assert h["generations"] >= math.ceil(120 + 30 * 3 / 7)
    noise = np.random.default_rng(0)
    es = RestartingCMA([-3.0] * 3, [3.0] * 3, seed=1, restarts=None, stagnation=False)
    drive(es, lambda X: noise.random(X.shape[0]), max_generations=2 * h["generations"])
    assert es.generation == 2 * h["generations"]  # the same run, not stopped by the rule


def test_stagnation_rule_on_exact_histories() -> None:
    """The rule itself [H09]: window max(20 % of n, 120 + 30 d / lambda); the median of the last
    30 % not better than the median of the first 30 %, in both histories."""
    n = 200  # d = 2, lambda = 6: base window 130 > 0.2 * 200
    flat = RunTrace([1.0] * n, [2.0] * n)
    assert _stagnated(flat, n, 2, 6)
    improving = RunTrace([float(n - i) for i in range(n)], [2.0] * n)
    assert not _stagnated(improving, n, 2, 6)  # the best values still improve
    assert not _stagnated(flat, 129, 2, 6)  # fewer generations than the window


def test_every_stop_reason_is_documented() -> None:
    """Each reason the engine can record is explained in docs/optim.md, the user's reference
    for what ``history[i]["reason"]`` means."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "optim.md").read_text()
    missing = [reason for reason in STOP_REASONS if f"`{reason}`" not in doc]
    assert not missing, f"stop reasons not explained in docs/optim.md: {missing}"


# -- failures ------------------------------------------------------------------------------


def _failing(X: np.ndarray, fill: float | None) -> np.ndarray:
    """Sphere, with rows whose first coordinate is above 0.5 failing (NaN, inf, -inf in turn),
    or set to ``fill`` instead."""
    v = sphere(X)
    bad = np.flatnonzero(X[:, 0] > 0.5)
    for j, i in enumerate(bad):
        v[i] = (np.nan, np.inf, -np.inf)[j % 3] if fill is None else fill
    return v


def test_failures_rank_worst_and_do_not_crash() -> None:
    """CMA-ES is rank based: telling NaN/inf/-inf gives exactly the run that telling a value
    above every finite one (1e300) gives, when tied failures keep their row order."""
    a = RestartingCMA([-3.0] * 3, [3.0] * 3, seed=11, restarts=None)
    b = RestartingCMA([-3.0] * 3, [3.0] * 3, seed=11, restarts=None)
    n_failed = 0
    for _ in range(60):
        Xa, Xb = a.ask(), b.ask()
        np.testing.assert_array_equal(Xa, Xb)
        va = _failing(Xa, None)
        n_failed += int(np.sum(~np.isfinite(va)))
        a.tell(Xa, va)
        b.tell(Xb, _failing(Xb, 1e300))
    assert n_failed > 10
    assert a.best_f == b.best_f and math.isfinite(a.best_f)
    assert a.best_x is not None and a.best_x[0] <= 0.5  # never a failed row


def test_generation_of_only_failures_is_told() -> None:
    es = RestartingCMA([-1.0, -1.0], [1.0, 1.0], seed=0)
    X = es.ask()
    es.tell(X, np.full(es.popsize, np.nan))
    assert es.best_f == math.inf and es.best_x is None and es.generation == 1
    X = es.ask()
    es.tell(X, sphere(X))
    assert math.isfinite(es.best_f)


# -- state ---------------------------------------------------------------------------------


def _f_with_failures(X: np.ndarray) -> np.ndarray:
    v = rastrigin(X)
    v[X[:, 0] > 4.0] = np.nan
    return v


@pytest.mark.parametrize("restarts", ["ipop", "bipop"])
@pytest.mark.parametrize("stop_after", [0, 37, 160])
@pytest.mark.parametrize("pending", [False, True])
def test_state_round_trip_continues_bit_for_bit(
    restarts: str, stop_after: int, pending: bool
) -> None:
    """Round trip through strict JSON mid-run (between ask and tell too, and across restarts),
    then compare the next 120 generations and the final state."""
    es = RestartingCMA([-5.12] * 3, [5.12] * 3, seed=5, restarts=restarts, max_restarts=20)
    drive(es, _f_with_failures, stop_after)
    if pending:
        es.ask()
    text = json.dumps(es.state_dict(), allow_nan=False)
    twin = RestartingCMA.from_state(json.loads(text))
    assert json.dumps(twin.state_dict(), allow_nan=False) == text
    for _ in range(120):
        X, Y = es.ask(), twin.ask()
        assert np.array_equal(X, Y)
        es.tell(X, _f_with_failures(X))
        twin.tell(Y, _f_with_failures(Y))
    assert es.n_restarts >= 1 or stop_after == 0
    assert es.history == twin.history and es.popsize == twin.popsize
    assert json.dumps(es.state_dict()) == json.dumps(twin.state_dict())


def test_state_after_done_and_restarts_is_restored() -> None:
    es = RestartingCMA([-5.12] * 2, [5.12] * 2, seed=9, max_restarts=2)
    drive(es, rastrigin)
    twin = RestartingCMA.from_state(json.loads(json.dumps(es.state_dict(), allow_nan=False)))
    assert twin.done and twin.history == es.history and twin.n_restarts == 2
    assert twin.best_f == es.best_f and np.array_equal(twin.best_x, es.best_x)  # type: ignore[arg-type]


def test_state_keeps_tolfunrel_and_reads_states_written_before_it() -> None:
    es = RestartingCMA([0.0] * 2, [1.0] * 2, seed=0, tolfunrel=1e-5)
    drive(es, sphere, 5)
    state = json.loads(json.dumps(es.state_dict(), allow_nan=False))
    assert RestartingCMA.from_state(state)._rules.tolfunrel == 1e-5
    del state["config"]["tolfunrel"]  # a state written before tolfunrel existed
    assert RestartingCMA.from_state(state)._rules.tolfunrel == 0.0


def test_state_is_small() -> None:
    """Kept per study: a few kB for d = 4 (C, B, D are d x d)."""
    es = RestartingCMA([0.0] * 4, [1.0] * 4, seed=0)
    drive(es, sphere, 30)
    assert len(json.dumps(es.state_dict())) < 16_000


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ({"format": "something else"}, "format"),
        ([1, 2], "format"),
        ({"format": "diffid_plugins.optim.RestartingCMA", "version": 99}, "version"),
        ({"format": "diffid_plugins.optim.RestartingCMA", "version": 1}, "incomplete"),
    ],
)
def test_from_state_rejects_foreign_states(state: object, match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        RestartingCMA.from_state(state)  # type: ignore[arg-type]


def test_from_state_rejects_an_incompatible_cmaes_snapshot() -> None:
    state = RestartingCMA([0.0], [1.0], seed=0).state_dict()
    del state["cma"]["_pc"]
    with pytest.raises(ArgumentError, match="cmaes version"):
        RestartingCMA.from_state(state)


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([0.0, 0.0], [1.0]), {}, "lower has shape"),
        (([[0.0, 0.0]], [[1.0, 1.0]]), {}, "1-D"),
        (([], []), {}, "non-empty"),
        (([0.0, 1.0], [1.0, 1.0]), {}, r"lower\[1\] = 1.0 is not below upper\[1\]"),
        (([0.0, -np.inf], [1.0, 1.0]), {}, "finite box"),
        (([0.0, 0.0], [1.0, np.nan]), {}, "finite box"),
        (([0.0, 0.0], [1.0, 1.0]), {"x0": [0.5, 1.5]}, r"x0\[1\] = 1.5 is outside"),
        (([0.0, 0.0], [1.0, 1.0]), {"x0": [0.5]}, "x0 has shape"),
        (([0.0, 0.0], [1.0, 1.0]), {"sigma0": 0.0}, "sigma0"),
        (([0.0, 0.0], [1.0, 1.0]), {"sigma0": -1.0}, "sigma0"),
        (([0.0, 0.0], [1.0, 1.0]), {"sigma0": math.inf}, "sigma0"),
        (([0.0, 0.0], [1.0, 1.0]), {"restarts": "ipopp"}, "restart strategy"),
        (([0.0, 0.0], [1.0, 1.0]), {"popsize": 1}, "popsize"),
        (([0.0, 0.0], [1.0, 1.0]), {"max_restarts": -1}, "max_restarts"),
        (([0.0, 0.0], [1.0, 1.0]), {"inc_popsize": 1.0}, "inc_popsize"),
        (([0.0, 0.0], [1.0, 1.0]), {"tolfun": -1.0}, "tolfun"),
        (([0.0, 0.0], [1.0, 1.0]), {"tolfunrel": -1e-6}, "tolfunrel"),
        (([0.0, 0.0], [1.0, 1.0]), {"max_condition": 0.5}, "max_condition"),
        (([0.0, 0.0], [1.0, 1.0]), {"seed": -3}, "seed"),
    ],
)
def test_bad_arguments_raise_argument_error(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        RestartingCMA(*args, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"restarts": 3}, {"popsize": 4.5}, {"seed": "x"}, {"stagnation": "yes"}, {"sigma0": "1"}],
)
def test_wrong_types_raise_argument_type_error(kwargs: dict) -> None:
    with pytest.raises(ArgumentTypeError):
        RestartingCMA([0.0, 0.0], [1.0, 1.0], **kwargs)


def test_tell_checks_call_order_and_shapes() -> None:
    es = RestartingCMA([0.0, 0.0], [1.0, 1.0], seed=0)
    with pytest.raises(ArgumentError, match="call ask"):
        es.tell(np.zeros((es.popsize, 2)), np.zeros(es.popsize))
    X = es.ask()
    with pytest.raises(ArgumentError, match="X has shape"):
        es.tell(X[:-1], np.zeros(es.popsize))
    with pytest.raises(ArgumentError, match="values has shape"):
        es.tell(X, np.zeros(es.popsize + 1))
    with pytest.raises(ArgumentError, match="same order|asked rows"):
        es.tell(X[::-1], np.zeros(es.popsize))
    with pytest.raises(ArgumentTypeError, match="values"):
        es.tell(X, ["a"] * es.popsize)
    es.tell(X, sphere(X))  # the pending generation survives the failed calls
    assert es.generation == 1


def test_import_is_light_and_cmaes_is_lazy() -> None:
    """Importing ``diffid_plugins.optim`` loads neither ``cmaes`` nor a host library nor the
    solvers/problem layers (nor numba); building an engine loads ``cmaes`` and still none of
    the others. (The package root itself imports the DiffSL front end for ``compile_model``,
    so ``diffsl`` is not checked here; ``tests/test_layers.py`` checks optim's own imports.)"""
    code = (
        "import sys\n"
        "from diffid_plugins.optim import RestartingCMA\n"
        "print('cmaes' in sys.modules)\n"
        "RestartingCMA([0.0], [1.0], seed=0).ask()\n"
        "bad = ('optuna', 'pymoo', 'dask', 'numba', 'diffid_plugins.problem',"
        " 'diffid_plugins.solvers')\n"
        "print('cmaes' in sys.modules, [m for m in bad if m in sys.modules])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert res.stdout.split("\n")[:2] == ["False", "True []"], res.stdout + res.stderr


@pytest.mark.parametrize("popsize", [2, 3])
def test_smallest_populations_work_without_warnings(popsize: int) -> None:
    """One parent (mu_eff = 1): cmaes' rank-mu rate is 0; the engine still converges on the
    1-D parabola (x - 1.2)^2 and emits no division warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        es = RestartingCMA([-2.0], [3.0], seed=0, popsize=popsize, restarts=None)
        drive(es, lambda X: (X[:, 0] - 1.2) ** 2)
        RestartingCMA.from_state(es.state_dict())
    assert es.best_f < 1e-10

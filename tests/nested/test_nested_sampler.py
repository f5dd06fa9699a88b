"""Behaviour of ``DynamicNestedSampler``: reproducibility, the non-vectorised path, bad input,
NaN/-inf/+inf likelihoods, budgets, checkpoint and resume, the Results it returns, progress.

Runs are small (2-D or 3-D, 100 live points, loose targets) so each test takes about a second.
Expected numbers: the 2-D standard normal on the box [-5, 5]^2 has
``Z = erf(5 / sqrt 2)^2 / 100`` (the normal's mass in the box over the box's area); with the
likelihood removed on the quarter x < 0, y < 0 its mass there, ``erf(5 / sqrt 2)^2 / 4`` by
symmetry, is removed too, so ``Z = 0.75 erf(5 / sqrt 2)^2 / 100``.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from diffid_plugins.errors import ArgumentError, ArgumentTypeError, ResultError
from diffid_plugins.nested import DynamicNestedSampler, Results
from tests.nested._nested_problems import normal, normal_moments

FloatArray = np.ndarray
BOX = 5.0
QUICK: dict[str, Any] = {
    "nlive_init": 100,
    "nlive_batch": 100,
    "logzerr_target": 0.3,
    "n_effective": 300,
}
ARRAYS = ("logl", "samples", "samples_u", "logz", "logzerr", "logwt", "logvol", "samples_id")


def gauss2(x: FloatArray) -> FloatArray:
    """2-D standard normal log-density, elementwise (same bits one row at a time)."""
    return -0.5 * (x[:, 0] ** 2 + x[:, 1] ** 2) - math.log(2.0 * math.pi)


def gauss2_point(v: FloatArray) -> float:
    return float(-0.5 * (v[0] ** 2 + v[1] ** 2) - math.log(2.0 * math.pi))


def box(u: FloatArray) -> FloatArray:
    return BOX * (2.0 * u - 1.0)


def box_point(u: FloatArray) -> FloatArray:
    return BOX * (2.0 * u - 1.0)


LOGZ_GAUSS2 = 2.0 * math.log(math.erf(BOX / math.sqrt(2.0))) - math.log((2.0 * BOX) ** 2)


def run(
    loglike: Callable[..., Any] = gauss2,
    transform: Callable[..., Any] = box,
    ndim: int = 2,
    seed: int = 0,
    sampler_kw: dict[str, Any] | None = None,
    **kwargs: Any,
) -> DynamicNestedSampler:
    s = DynamicNestedSampler(loglike, transform, ndim, seed=seed, **(sampler_kw or {}))
    s.run_nested(**{**QUICK, **kwargs})
    return s


def assert_same(a: Results, b: Results) -> None:
    for name in ARRAYS:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]), err_msg=name)
    assert a.stop_reason == b.stop_reason


# ---------------------------------------------------------------------------- reproducibility
def test_same_seed_bit_identical_and_seeds_differ() -> None:
    a, b, c = (run(seed=s).results for s in (7, 7, 8))
    assert_same(a, b)
    assert a.logz[-1] != c.logz[-1]
    assert not np.array_equal(np.asarray(a.logl)[:100], np.asarray(c.logl)[:100])


def test_non_vectorized_matches_vectorized() -> None:
    vec = run(seed=3).results
    one = run(gauss2_point, box_point, seed=3, sampler_kw={"vectorized": False}).results
    assert_same(vec, one)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("transform", "loglike", "name"),
    [
        (lambda u: BOX * u[:, :1], gauss2, "prior_transform"),  # (n, 1) for ndim 2
        (lambda u: BOX * u[0], gauss2, "prior_transform"),  # (2,) for (n, 2)
        (box, lambda x: gauss2(x)[:, None], "loglikelihood"),  # (n, 1)
        (box, lambda x: gauss2(x)[:-1], "loglikelihood"),  # (n - 1,)
    ],
)
def test_wrong_shapes_raise_result_error(transform: Any, loglike: Any, name: str) -> None:
    with pytest.raises(ResultError, match=f"`{name}`"):
        run(loglike, transform)


def test_ndim_mismatch_names_prior_transform() -> None:
    # the functions are 2-D, the sampler is told 3: the transform gets (n, 3), returns (n, 2)
    with pytest.raises(ResultError, match="`prior_transform`.*ndim"):
        run(gauss2, lambda u: box(u)[:, :2], ndim=3)


@pytest.mark.parametrize("ndim", [0, -1, 2.5, "2", True, None])
def test_bad_ndim(ndim: Any) -> None:
    with pytest.raises(ArgumentError, match="`ndim`"):
        DynamicNestedSampler(gauss2, box, ndim)


@pytest.mark.parametrize("which", ["loglikelihood", "prior_transform"])
def test_non_callable(which: str) -> None:
    fns: dict[str, Any] = {"loglikelihood": gauss2, "prior_transform": box, which: 3.0}
    with pytest.raises(ArgumentTypeError, match=f"`{which}` must be callable"):
        DynamicNestedSampler(fns["loglikelihood"], fns["prior_transform"], 2)


@pytest.mark.parametrize(
    ("kw", "name"), [({"bound": "cube"}, "bound"), ({"sample": "slice"}, "sample")]
)
def test_bad_bound_and_sample(kw: dict[str, Any], name: str) -> None:
    with pytest.raises(ArgumentError, match=f"`{name}`.*{kw[name]}"):
        DynamicNestedSampler(gauss2, box, 2, **kw)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"nlive_init": 5}, "nlive_init"),  # below 2 ndim + 2
        ({"nlive_batch": 1}, "nlive_batch"),
        ({"logzerr_target": -0.1}, "logzerr_target"),
        ({"logzerr_target": 0.0}, "logzerr_target"),
        ({"n_effective": -5}, "n_effective"),
        ({"dlogz_init": -1.0}, "dlogz_init"),
        ({"maxcall": 0}, "maxcall"),
        ({"maxbatch": -1}, "maxbatch"),
        ({"resume": True}, "checkpoint_file"),
    ],
)
def test_bad_run_nested_arguments(kw: dict[str, Any], name: str) -> None:
    calls = []
    s = DynamicNestedSampler(lambda x: calls.append(1) or gauss2(x), box, 2, seed=0)
    with pytest.raises(ArgumentError, match=f"`{name}`"):
        s.run_nested(**kw)
    assert not calls  # rejected before any work


def test_results_before_run() -> None:
    with pytest.raises(ArgumentError, match="run_nested"):
        _ = DynamicNestedSampler(gauss2, box, 2).results


# ---------------------------------------------------------------------------- inf and NaN
def test_plus_inf_raises_naming_parameters() -> None:
    def loglike(x: FloatArray) -> FloatArray:
        out = gauss2(x)
        out[x[:, 0] > 4.0] = np.inf
        return out

    with pytest.raises(ResultError, match=r"\+inf at parameters \[4\.\d+, "):
        run(loglike)


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_nan_and_minus_inf_quarter_is_zero_likelihood(bad: float) -> None:
    """The quarter x < 0, y < 0 has zero likelihood: Z loses a quarter (module docstring)."""

    def loglike(x: FloatArray) -> FloatArray:
        out = gauss2(x)
        out[(x[:, 0] < 0) & (x[:, 1] < 0)] = bad
        return out

    r = run(loglike, seed=11).results
    truth = LOGZ_GAUSS2 + math.log(0.75)
    assert r.stop_reason == "targets met"
    assert abs(r.logz[-1] - truth) <= 3 * r.logzerr[-1], (r.logz[-1], r.logzerr[-1], truth)
    w = r.importance_weights()
    x = np.asarray(r.samples)
    assert float(w[(x[:, 0] < 0) & (x[:, 1] < 0)].sum()) == 0.0
    logl = np.asarray(r.logl)
    assert np.all(np.isneginf(logl) | np.isfinite(logl))  # NaN is reported as -inf


class TooManyCalls(Exception):
    """Raised by a guarded likelihood: the sampler would have kept calling it."""


def guarded(fn: Callable[[FloatArray], FloatArray], limit: int) -> Callable[..., FloatArray]:
    count = 0

    def loglike(x: FloatArray) -> FloatArray:
        nonlocal count
        count += x.shape[0]
        if count > limit:
            raise TooManyCalls(f"{count} calls")
        return fn(x)

    return loglike


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_zero_likelihood_everywhere_ends(bad: float) -> None:
    fn = guarded(lambda x: np.full(x.shape[0], bad), 2_000_000)
    with pytest.raises(ResultError, match="NaN or -inf at all"):
        run(fn, maxcall=100_000)


def test_constant_likelihood_ends_with_a_plateau_error() -> None:
    # a plateau over the whole prior: no point is ever strictly above the threshold.
    # Plateaus are not supported (docs/nested.md); the run must end with a clear error
    # (after 2 million futile draws), not search forever.
    fn = guarded(lambda x: np.full(x.shape[0], -1.5), 3_000_000)
    with pytest.raises(ResultError, match="plateau"):
        run(fn, maxcall=100_000)


# ---------------------------------------------------------------------------- budgets
def test_maxcall_stops_the_baseline() -> None:
    r = run(maxcall=2000).results
    assert r.stop_reason == "maxcall"
    assert 2000 <= int(np.sum(r.ncall)) < 2000 + 5000
    assert list(r.batch_nlive) == [100]


def test_maxbatch_stops_the_dynamic_phase() -> None:
    tight = {"logzerr_target": 0.01, "n_effective": 10**6}
    r0 = run(maxbatch=0, **tight).results
    r2 = run(maxbatch=2, **tight).results
    assert (r0.stop_reason, r2.stop_reason) == ("maxbatch", "maxbatch")
    assert r0.batch_nlive.size == 1 and r2.batch_nlive.size == 3
    assert set(np.unique(r2.samples_batch)) == {0, 1, 2}


def test_maxcall_stops_the_dynamic_phase() -> None:
    base = int(np.sum(run(maxbatch=0, n_effective=10**6).results.ncall))
    r = run(maxcall=base + 1, n_effective=10**6).results
    assert r.stop_reason == "maxcall"
    assert r.batch_nlive.size == 2  # one batch started before the budget was seen spent


# ---------------------------------------------------------------------------- checkpoints
class Interrupt(Exception):
    """Stands for a crash or a kill in the middle of a likelihood call."""


def test_checkpoint_resume_is_bit_identical(tmp_path: Path) -> None:
    more = {"n_effective": 1000}  # beyond the baseline: at least one dynamic batch
    ref = run(seed=5, **more).results
    batch0 = int(np.sum(np.asarray(ref.ncall)[np.asarray(ref.samples_batch) == 0]))
    assert ref.batch_nlive.size >= 2
    for n, where in ((batch0 // 2, "baseline"), (batch0 + 150, "dynamic batch")):
        path = str(tmp_path / f"cp-{n}.pkl")
        with pytest.raises(Interrupt):
            run(guarded_interrupt(n), seed=5, checkpoint_file=path, checkpoint_every=0, **more)
        assert Path(path).exists(), where
        resumed = run(
            seed=5, checkpoint_file=path, checkpoint_every=0, resume=True, **more
        ).results
        assert_same(ref, resumed)
        assert int(np.sum(resumed.ncall)) == int(np.sum(ref.ncall)), where


def guarded_interrupt(n: int) -> Callable[[FloatArray], FloatArray]:
    count = 0

    def loglike(x: FloatArray) -> FloatArray:
        nonlocal count
        count += x.shape[0]
        if count > n:
            raise Interrupt
        return gauss2(x)

    return loglike


def test_resume_without_file_starts_afresh(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.pkl")
    a = run(seed=2, checkpoint_file=path, resume=True).results
    assert_same(a, run(seed=2).results)
    assert Path(path).exists()  # written at the end


# ---------------------------------------------------------------------------- results
@pytest.fixture(scope="module")
def normal3() -> DynamicNestedSampler:
    p = normal(3)
    s = DynamicNestedSampler(p.loglike, p.transform, 3, seed=4, parameter_names=["a", "b", "c"])
    s.run_nested(nlive_init=200, nlive_batch=200, logzerr_target=0.2, n_effective=2000)
    return s


def test_results_type_pickle(normal3: DynamicNestedSampler) -> None:
    r = normal3.results
    assert isinstance(r, Results) and r.isdynamic()
    back = pickle.loads(pickle.dumps(r))
    assert isinstance(back, Results)
    for name in ARRAYS:
        np.testing.assert_array_equal(np.asarray(back[name]), np.asarray(r[name]))
    assert back.parameter_names == ["a", "b", "c"]


def test_samples_equal_mean(normal3: DynamicNestedSampler) -> None:
    """Equal-weight resampling: mean of N draws from a posterior estimate with Kish ESS
    has variance sd^2 (1/ESS + 1/N) (the estimate's error plus the resampling's)."""
    r = normal3.results
    eq = r.samples_equal(np.random.default_rng(0))
    mu, sigma = normal_moments(3)
    w = r.importance_weights()
    ess = w.sum() ** 2 / np.sum(w * w)
    err = np.sqrt(np.diag(sigma) * (1 / ess + 1 / eq.shape[0]))
    assert eq.shape[1] == 3
    assert np.all(np.abs(eq.mean(axis=0) - mu) <= 3 * err), (eq.mean(axis=0), mu, err)


def test_to_dynesty_resample_run(normal3: DynamicNestedSampler) -> None:
    dyutils = pytest.importorskip("dynesty.utils")
    r = normal3.results
    d = r.to_dynesty()
    rep = dyutils.resample_run(d, rstate=np.random.default_rng(1))
    assert np.asarray(rep["logl"]).size > 0
    # a thread-bootstrap replica of the same run: same evidence within a few errors
    assert abs(rep["logz"][-1] - r.logz[-1]) <= 5 * r.logzerr[-1]


@pytest.fixture()
def agg() -> Iterator[Any]:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_dynesty_plots_draw_a_real_run(normal3: DynamicNestedSampler, agg: Any) -> None:
    dplot = pytest.importorskip("dynesty.plotting")
    r = normal3.results
    fig, axes = dplot.runplot(r, lnz_truth=-3 * math.log(20.0))
    assert len(axes) == 4
    fig, axes = dplot.traceplot(r, truths=list(normal_moments(3)[0]))
    assert np.asarray(axes).shape == (3, 2)
    fig, axes = dplot.cornerplot(r, labels=["a", "b", "c"])
    assert np.asarray(axes).shape == (3, 3)


# ---------------------------------------------------------------------------- progress
@pytest.mark.parametrize("show", [True, False])
def test_print_progress(show: bool, capsys: pytest.CaptureFixture[str]) -> None:
    run(print_progress=show, maxcall=3000)
    err = capsys.readouterr().err
    assert bool(err.strip()) is show, err

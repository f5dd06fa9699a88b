"""The nested-sampling run record ``diffid_plugins.nested.Results``: validation, access,
immutability, pickling, posterior helpers, and dynesty compatibility (``to_dynesty``, the
``dynesty.utils`` run tools, and ``dynesty.plotting`` drawing the record directly).

Runs come from ``tests/nested/_synthetic.py``: an exact static nested-sampling run of a 2-D
Gaussian likelihood on a box, whose evidence and posterior moments are known in closed form.
"""

from __future__ import annotations

import math
import pickle
import sys
from typing import Any

import numpy as np
import pytest

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.nested import Results
from diffid_plugins.nested._results import DYNESTY_FIELDS, EXTRA_FIELDS
from tests.nested._synthetic import gaussian_run, true_logz

K = 100  # live points of the fixture runs


@pytest.fixture(scope="module")
def fields() -> dict[str, Any]:
    return gaussian_run(n_live=K, seed=3)


@pytest.fixture(scope="module")
def res(fields: dict[str, Any]) -> Results:
    return Results(fields)


def _static(fields: dict[str, Any]) -> dict[str, Any]:
    """The same run in dynesty's static form: ``nlive`` and ``niter = N - nlive``."""
    f = {k: v for k, v in fields.items() if k not in ("samples_n", "samples_batch")}
    f = {k: v for k, v in f.items() if not k.startswith("batch_")}
    return f | {"nlive": K, "niter": len(fields["logl"]) - K}


SOLVER_CHECK = {
    "rtol": 1e-6,
    "rtol_check": 1e-9,
    "n_points": 20,
    "max_shift": 0.61,
    "median_shift": 0.4,
    "logzerr": 0.12,
    "ok": False,
    "advice": "use rtol=1e-8",
}


# --- the fixture itself -------------------------------------------------------------------


def test_fixture_integrals_match_dynesty(fields: dict[str, Any]) -> None:
    """Reference: ``dynesty.utils.compute_integrals`` on the same logl and logvol."""
    dutils = pytest.importorskip("dynesty.utils")
    logl, logvol = fields["logl"], fields["logvol"]
    logwt, logz, logzvar, h = dutils.compute_integrals(logl=logl, logvol=logvol)
    np.testing.assert_allclose(fields["logwt"], logwt, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fields["logz"], logz, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fields["logzerr"], np.sqrt(logzvar), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fields["information"], h, rtol=1e-9, atol=1e-12)


def test_fixture_logz_covers_the_closed_form() -> None:
    """Closed form: logZ = -log(20^2) + log(2 pi) (erf factor ~1). The single-run logzerr is
    ~ sqrt(H/K); for 20 fixed seeds at least 18 runs are within 3 logzerr (99.7 % each if the
    error is right), and the deviations are not all of one sign."""
    truth = true_logz()
    assert truth == pytest.approx(-math.log(400.0) + math.log(2 * math.pi), abs=1e-12)
    dev = []
    for seed in range(20):
        f = gaussian_run(n_live=K, seed=seed, n_bootstrap=2)
        dev.append((f["logz"][-1] - truth) / f["logzerr"][-1])
    dev_a = np.array(dev)
    assert np.sum(np.abs(dev_a) < 3) >= 18, dev_a
    assert 0 < np.sum(dev_a > 0) < 20, dev_a


# --- construction and validation ----------------------------------------------------------


@pytest.mark.parametrize("key", ["samples_u", "samples_id", "logl", "samples"])
def test_a_missing_required_field_is_named(fields: dict[str, Any], key: str) -> None:
    bad = {k: v for k, v in fields.items() if k != key}
    with pytest.raises(ArgumentError, match=f"missing the required field.*{key}"):
        Results(bad)


def test_samples_n_or_nlive_is_required(fields: dict[str, Any]) -> None:
    bad = {k: v for k, v in fields.items() if k != "samples_n"}
    with pytest.raises(ArgumentError, match="samples_n .dynamic run. or nlive"):
        Results(bad)


def test_unknown_fields_and_non_mappings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ArgumentError, match=r"unknown field\(s\) \['logz_err'\]"):
        Results(fields | {"logz_err": 0.1})
    with pytest.raises(ArgumentTypeError, match="pass a mapping"):
        Results(list(fields.items()))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "cut", "pattern"),
    [
        ("logwt", 1, "'logwt' has 1314 rows but 'samples' has 1315"),
        ("ncall", 5, "'ncall' has 1310 rows"),
        ("samples_n", 2, "'samples_n' has 1313 rows"),
        ("samples_u", 1, r"'samples_u' is an array of shape \(1314, 2\): expected the shape of "),
    ],
)
def test_inconsistent_lengths_are_refused(key: str, cut: int, pattern: str) -> None:
    f = gaussian_run(n_live=K, seed=3, n_bootstrap=2)
    assert len(f["logl"]) == 1315  # the lengths in the messages below
    with pytest.raises(ArgumentError, match=pattern):
        Results(f | {key: f[key][:-cut]})


def test_other_inconsistencies_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ArgumentError, match="a 2-D array, got shape"):
        Results(fields | {"samples": fields["samples"][:, 0]})
    with pytest.raises(ArgumentError, match="'batch_nlive' .2 batches. and 'batch_logl_bounds'"):
        Results(fields | {"batch_nlive": np.array([K, K])})
    with pytest.raises(ArgumentError, match="batch indices must be in"):
        Results(fields | {"samples_batch": np.ones(len(fields["logl"]), np.int64)})
    with pytest.raises(ArgumentError, match="expected 2 names"):
        Results(fields | {"parameter_names": ["x"]})
    with pytest.raises(ArgumentTypeError, match="list of str"):
        Results(fields | {"parameter_names": "xy"})
    with pytest.raises(ArgumentError, match="expected 0 <= niter <= 1315"):
        Results(fields | {"niter": 2000})
    with pytest.raises(ArgumentError, match="niter or niter \\+ nlive samples"):
        Results(_static(fields) | {"niter": 7})
    with pytest.raises(ArgumentError, match="an array of integers"):
        Results(fields | {"samples_id": fields["samples_id"] + 0.5})
    with pytest.raises(ArgumentError, match="'niter' = inf: expected an integer"):
        Results(fields | {"niter": math.inf})
    with pytest.raises(ArgumentTypeError, match="'niter' = True .bool.: expected an int"):
        Results(fields | {"niter": True})
    with pytest.raises(ArgumentTypeError, match="'eff' = 'high'"):
        Results(fields | {"eff": "high"})
    with pytest.raises(ArgumentTypeError, match="'stop_reason' = 3"):
        Results(fields | {"stop_reason": 3})
    with pytest.raises(ArgumentError, match=r"missing \['advice'\]"):
        no_advice = {k: v for k, v in SOLVER_CHECK.items() if k != "advice"}
        Results(fields | {"solver_check": no_advice})


def test_arrays_are_copied_and_typed(fields: dict[str, Any]) -> None:
    """Integral float arrays are accepted for integer fields; the caller's arrays are copied."""
    f = dict(fields)
    f["samples_n"] = f["samples_n"].astype(float)
    f["logl"] = f["logl"].copy()
    r = Results(f)
    f["logl"][0] = 99.0
    assert r.logl[0] == fields["logl"][0]
    assert r.samples_n.dtype == np.int64 and r.logl.dtype == np.float64
    assert isinstance(r.niter, int) and isinstance(r.eff, float)


# --- access and immutability --------------------------------------------------------------


def test_attribute_and_item_access(res: Results, fields: dict[str, Any]) -> None:
    np.testing.assert_array_equal(res.logl, fields["logl"])
    np.testing.assert_array_equal(res["logz"], fields["logz"])
    assert res.niter == res["niter"] == len(fields["logl"])
    assert res.keys() == list(fields)
    assert dict(res.items()).keys() == fields.keys()
    assert "logz" in res and "nlive" not in res
    assert res.isdynamic()
    assert "logz" in dir(res)
    with pytest.raises(KeyError, match="nlive"):
        res["nlive"]
    with pytest.raises(AttributeError, match="no field 'nlive'"):
        res.nlive  # noqa: B018


def test_attribute_arrays_are_read_only_and_item_arrays_are_copies(res: Results) -> None:
    before = res.logzerr.copy()
    with pytest.raises(ValueError, match="read-only"):
        res.logzerr[0] = np.inf
    mine = res["logzerr"]
    mine[:] = np.nan  # a copy: the record is unchanged
    np.testing.assert_array_equal(res.logzerr, before)
    with pytest.raises(AttributeError, match="immutable"):
        res.logz = np.zeros(3)
    with pytest.raises(AttributeError, match="immutable"):
        del res.logz


def test_mutable_fields_are_copied(fields: dict[str, Any]) -> None:
    r = Results(fields | {"solver_check": SOLVER_CHECK})
    r.solver_check["ok"] = True
    r["solver_check"]["ok"] = True
    r.parameter_names.append("z")
    d = r.asdict()
    d["solver_check"]["ok"] = True
    d["logl"][0] = 1.0
    assert r.solver_check["ok"] is False and r.parameter_names == ["x", "y"]
    assert r.logl[0] == fields["logl"][0]


def test_copy_and_pickle_round_trip(res: Results) -> None:
    for other in (res.copy(), pickle.loads(pickle.dumps(res))):
        assert isinstance(other, Results) and other is not res
        names = res.keys()
        assert other.keys() == names
        for k in names:
            a, b = res[k], other[k]
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
                assert a.dtype == b.dtype
            else:
                assert a == b
        assert not other.logl.flags.writeable  # immutable again after unpickling
        assert other.isdynamic()


def test_static_form(fields: dict[str, Any]) -> None:
    r = Results(_static(fields))
    assert not r.isdynamic()
    assert r.niter + r.nlive == len(r.logl)
    assert repr(r).startswith(f"Results(static, nlive={K}, niter=1215")


def test_repr_is_short(res: Results) -> None:
    text = repr(res)
    assert text == (
        f"Results(dynamic, niter=1315, nsamples=1315, ndim=2, logz={res.logz[-1]:.3f} +/- "
        f"{res.logzerr[-1]:.3f})"
    )


# --- posterior helpers --------------------------------------------------------------------


def test_importance_weights(res: Results) -> None:
    """Definition: exp(logwt - logz[-1]) normalised; the trapezoid weights of an exact run
    already sum to ~1 before normalisation (logz[-1] is their log-sum)."""
    w = res.importance_weights()
    raw = np.exp(res.logwt - res.logz[-1])
    assert raw.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(w, raw / raw.sum(), rtol=1e-15)
    assert w.shape == (len(res.logl),) and w.flags.writeable


def test_samples_equal_is_systematic_resampling(res: Results) -> None:
    """Each sample appears floor(N w) or ceil(N w) times; a seed reproduces the draw."""
    n = len(res.logl)
    eq = res.samples_equal(rng=7)
    assert eq.shape == (n, 2)
    np.testing.assert_array_equal(eq, res.samples_equal(np.random.default_rng(7)))
    np.testing.assert_array_equal(eq, res.samples_equal(rstate=np.random.default_rng(7)))
    index = {tuple(x): i for i, x in enumerate(res.samples)}
    counts = np.bincount([index[tuple(x)] for x in eq], minlength=n)
    expected = n * res.importance_weights()
    assert np.all(counts >= np.floor(expected) - 1e-9)
    assert np.all(counts <= np.ceil(expected) + 1e-9)
    assert counts.sum() == n


def test_samples_equal_matches_dynesty(res: Results) -> None:
    """Reference: dynesty's ``resample_equal`` with the same generator state."""
    dutils = pytest.importorskip("dynesty.utils")
    ours = res.samples_equal(rng=np.random.default_rng(11))
    ref = dutils.resample_equal(
        res.samples, res.importance_weights(), rstate=np.random.default_rng(11)
    )
    np.testing.assert_array_equal(ours, ref)


def test_samples_equal_argument_errors(res: Results) -> None:
    with pytest.raises(ArgumentError, match="both rng and rstate"):
        res.samples_equal(rng=1, rstate=np.random.default_rng(1))
    with pytest.raises(ArgumentTypeError, match="int seed or a numpy.random.Generator"):
        res.samples_equal(rng="seed")
    with pytest.raises(ArgumentTypeError, match="int seed"):
        res.samples_equal(rng=True)


def test_mean_and_cov(res: Results) -> None:
    """Reference 1: numpy's weighted average and ``np.cov(aweights=w)`` (same estimator).
    Reference 2: the closed-form posterior N(0, I) (box truncation ~1e-22): the mean is within
    4 standard errors (sd 1 / sqrt(ESS)) and the variances within 0.25 (ESS ~ 400)."""
    mean, cov = res.mean_and_cov()
    w = res.importance_weights()
    np.testing.assert_allclose(mean, np.average(res.samples, axis=0, weights=w), atol=1e-14)
    np.testing.assert_allclose(cov, np.cov(res.samples.T, aweights=w), rtol=1e-10, atol=1e-14)
    ess = res.n_effective
    assert ess == pytest.approx(1.0 / np.sum(w**2), rel=1e-9)
    assert np.all(np.abs(mean) < 4 / math.sqrt(ess))
    np.testing.assert_allclose(np.diag(cov), 1.0, atol=0.25)
    assert abs(cov[0, 1]) < 0.25


def test_summary_prints_the_dynesty_lines_and_the_extras(
    fields: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ok = SOLVER_CHECK | {"ok": True, "max_shift": 0.001}
    for check in (None, ok, SOLVER_CHECK):
        r = Results(fields | {"solver_check": check})
        assert r.summary() is None
        out = capsys.readouterr().out
        assert out.startswith("Summary\n=======\nniter: 1315\n")
        assert f"ncall: {int(np.sum(fields['ncall']))}\n" in out
        assert f"logz: {fields['logz'][-1]:6.3f} +/- {fields['logzerr'][-1]:6.3f}\n" in out
        assert f"bootstrap {fields['logzerr_bootstrap']:.3f} over 50 replicates" in out
        assert f"single run sqrt(sum dH dlnX) {fields['logzerr_single']:.3f}" in out
        assert "n_effective (Kish): " in out and "stop reason: synthetic" in out
        if check is None:
            assert "solver check" not in out
        elif check["ok"]:
            assert "rtol 1e-06 vs 1e-09 on 20 points: shift max 0.001" in out
            assert out.rstrip().endswith(": ok") and "advice" not in out
        else:
            assert "shift max 0.61, median 0.4 (logzerr 0.12): NOT small" in out
            assert "  advice: use rtol=1e-8" in out
    Results(_static(fields)).summary()
    assert capsys.readouterr().out.startswith(f"Summary\n=======\nnlive: {K}\nniter: 1215\n")


# --- dynesty interoperability -------------------------------------------------------------


def test_field_names_follow_dynesty() -> None:
    dutils = pytest.importorskip("dynesty.utils")
    assert {row[0] for row in dutils._RESULTS_STRUCTURE} == DYNESTY_FIELDS
    assert not DYNESTY_FIELDS & EXTRA_FIELDS


def test_to_dynesty(res: Results) -> None:
    dutils = pytest.importorskip("dynesty.utils")
    d = res.to_dynesty()
    assert isinstance(d, dutils.Results) and d.isdynamic()
    assert set(d.keys()) == (set(res.keys()) & DYNESTY_FIELDS) | {"blob", "proposal_stats"}
    for k in set(res.keys()) & DYNESTY_FIELDS:
        np.testing.assert_array_equal(d[k], res[k])
    np.testing.assert_array_equal(d.importance_weights(), res.importance_weights())
    # dynesty's own tools on the converted run: resampling and jittering re-integrate it
    for tool in (dutils.resample_run, dutils.jitter_run):
        other = tool(d, rstate=np.random.default_rng(0))
        assert other.isdynamic() and len(other.logl) > len(res.logl) // 2
        assert abs(other.logz[-1] - res.logz[-1]) < 5 * res.logzerr[-1]


def test_to_dynesty_without_dynesty(res: Results, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sys.modules[name] = None`` makes ``import name`` fail, as when it is not installed."""
    monkeypatch.setitem(sys.modules, "dynesty", None)
    monkeypatch.setitem(sys.modules, "dynesty.utils", None)
    with pytest.raises(ImportError, match="pip install dynesty"):
        res.to_dynesty()


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_real_dynesty_runs_convert_both_ways(kind: str) -> None:
    """A (small) real dynesty run's record is accepted as is (its bound fields have one entry
    per iteration, not per sample) and converts back to an equal dynesty record."""
    dynesty = pytest.importorskip("dynesty")

    def loglike(x: np.ndarray) -> float:
        return float(-0.5 * np.sum(x**2))

    def prior(u: np.ndarray) -> np.ndarray:
        return 20.0 * u - 10.0

    rstate = np.random.default_rng(0)
    if kind == "static":
        sampler = dynesty.NestedSampler(loglike, prior, 2, nlive=50, rstate=rstate)
        sampler.run_nested(print_progress=False, dlogz=0.5)
    else:
        sampler = dynesty.DynamicNestedSampler(loglike, prior, 2, rstate=rstate)
        sampler.run_nested(print_progress=False, nlive_init=50, nlive_batch=50, maxbatch=1)
    theirs = sampler.results
    ours = Results(theirs.asdict())
    assert ours.isdynamic() == theirs.isdynamic() == (kind == "dynamic")
    back = ours.to_dynesty()
    assert set(back.keys()) == set(theirs.keys())
    for k in ("samples", "logl", "logwt", "logz", "logzerr", "samples_id", "ncall"):
        np.testing.assert_array_equal(back[k], theirs[k])
    np.testing.assert_array_equal(ours.importance_weights(), theirs.importance_weights())

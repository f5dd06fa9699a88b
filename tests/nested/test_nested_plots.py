"""dynesty's plotting functions draw ``diffid_plugins.nested.Results`` directly (duck typing)
and through ``Results.to_dynesty()``; figures are drawn with matplotlib's Agg backend and
checked for their axes, the truth lines and the requested spans.

The run is the exact synthetic run of ``tests/nested/_synthetic.py`` (a 2-D Gaussian
likelihood on a box; its evidence ``true_logz()`` is the closed form).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from diffid_plugins.nested import Results
from tests.nested._synthetic import gaussian_run, true_logz

pytest.importorskip("matplotlib")
dplot = pytest.importorskip("dynesty.plotting")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

K = 100


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fields() -> dict[str, Any]:
    return gaussian_run(n_live=K, seed=3, n_bootstrap=2)


@pytest.fixture(scope="module", params=["ours", "to_dynesty"])
def run(request: pytest.FixtureRequest, fields: dict[str, Any]) -> Any:
    r = Results(fields)
    return r if request.param == "ours" else r.to_dynesty()


def _hlines(ax: Any) -> list[float]:
    """y of the horizontal lines (axhline) of an axis."""
    return [
        float(line.get_ydata()[0])
        for line in ax.lines
        if len(line.get_xdata()) == 2 and list(line.get_xdata()) == [0, 1]
    ]


def _vlines(ax: Any) -> list[float]:
    """x of the vertical lines (axvline) of an axis."""
    return [
        float(line.get_xdata()[0])
        for line in ax.lines
        if len(line.get_ydata()) == 2 and list(line.get_ydata()) == [0, 1]
    ]


def test_runplot(run: Any) -> None:
    """Four panels against -ln X; the evidence panel carries the truth line at exp(lnz)."""
    fig, axes = dplot.runplot(run, lnz_truth=true_logz())
    assert len(fig.axes) == 4 and np.shape(axes) == (4,)
    assert [ax.get_ylabel() for ax in axes] == [
        "Live Points", "Likelihood\n(normalized)", "Importance\nWeight PDF", "Evidence",
    ]  # fmt: skip
    assert _hlines(axes[3]) == pytest.approx([math.exp(true_logz())], rel=1e-12)
    # the live-point panel traces samples_n: K for the dead points, then K-1, ..., 1
    x, y = axes[0].lines[0].get_data()
    np.testing.assert_array_equal(y, run["samples_n"])


def test_runplot_writes_into_a_copy(fields: dict[str, Any]) -> None:
    """runplot zeroes non-finite logzerr entries in the array it gets (in place); the record
    hands out a copy, so its own logzerr keeps the NaN."""
    logzerr = fields["logzerr"].copy()
    logzerr[0] = np.nan
    r = Results(fields | {"logzerr": logzerr})
    dplot.runplot(r, lnz_truth=true_logz(), logplot=True)
    assert np.isnan(r.logzerr[0])
    assert _hlines(plt.gcf().axes[3]) == pytest.approx([true_logz()], rel=1e-12)


def test_runplot_static_form_marks_the_final_live_points(fields: dict[str, Any]) -> None:
    """A static record (nlive, niter = N - nlive): runplot rebuilds samples_n and draws a
    dashed line where the final live points start (iteration niter)."""
    f = {k: v for k, v in fields.items() if k != "samples_n" and "batch" not in k}
    r = Results(f | {"nlive": K, "niter": len(fields["logl"]) - K})
    fig, axes = dplot.runplot(r)
    niter = len(fields["logl"]) - K
    assert float(niter) in _hlines(axes[0])
    assert -r.logvol[niter] == pytest.approx(_vlines(axes[1])[0])


def test_traceplot(run: Any) -> None:
    """One row per dimension: trace (left) and marginal (right), truths as lines;
    ``connect=True`` reads samples_id through keys()."""
    fig, axes = dplot.traceplot(run, truths=[0.0, 0.0], connect=True, connect_highlight=3)
    assert np.shape(axes) == (2, 2) and len(fig.axes) == 4
    for i in range(2):
        assert 0.0 in _hlines(axes[i, 0])
        assert 0.0 in _vlines(axes[i, 1])


def test_cornerplot(run: Any) -> None:
    fig, axes = dplot.cornerplot(
        run, truths=[0.0, 0.0], span=[(-3.0, 3.0), (-2.5, 2.5)], labels=["x", "y"]
    )
    assert np.shape(axes) == (2, 2) and len(fig.axes) == 4
    assert axes[0, 0].get_xlim() == (-3.0, 3.0)
    assert axes[1, 1].get_xlim() == (-2.5, 2.5)
    assert axes[1, 0].get_xlim() == (-3.0, 3.0) and axes[1, 0].get_ylim() == (-2.5, 2.5)
    assert not axes[0, 1].get_frame_on()  # the upper triangle is blank
    assert 0.0 in _vlines(axes[1, 0]) and 0.0 in _hlines(axes[1, 0])


def test_cornerpoints(run: Any) -> None:
    fig, axes = dplot.cornerpoints(run, truths=[0.0, 0.0], labels=["x", "y"])
    assert np.shape(axes) == (1, 1) and len(fig.axes) == 1
    assert 0.0 in _vlines(axes[0, 0]) and 0.0 in _hlines(axes[0, 0])


def test_a_pickled_run_reloads_and_plots(fields: dict[str, Any], tmp_path: Any) -> None:
    path = tmp_path / "run.pkl"
    path.write_bytes(pickle.dumps(Results(fields)))
    r = pickle.loads(path.read_bytes())
    assert isinstance(r, Results)
    fig, axes = dplot.cornerplot(r, truths=[0.0, 0.0])
    assert np.shape(axes) == (2, 2)
    fig, axes = dplot.runplot(r, lnz_truth=true_logz())
    assert _hlines(axes[3]) == pytest.approx([math.exp(true_logz())], rel=1e-12)

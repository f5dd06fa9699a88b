"""The main job (``python -m diffid_plugins``): a fit of the bundled Lotka-Volterra example.

Reference values: the synthetic data are made at the true parameters (1.1, 0.4, 0.1, 0.4) with
noise sigma 0.3 on 1000 residuals, so a least-squares fit lands within a few percent of them
and its SSE is close to n sigma^2 = 90 (chi-square with 1000 degrees of freedom: +-6 at 1 sd).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from diffid_plugins import cli


def test_main_job_fits_the_bundled_example(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plot = tmp_path / "fit.png"
    args = ["--population", "300", "--plot", str(plot)]
    pytest.importorskip("matplotlib")
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    fitted = {
        m.group(1): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"^\s+(\w)\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    }
    assert sorted(fitted) == ["a", "b", "d", "g"], out
    true, fit = np.array([fitted[k] for k in "abdg"]).T
    np.testing.assert_allclose(fit, true, rtol=0.05)
    sse = float(re.search(r"SSE at the fit ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    assert 70 < sse < 110, out
    assert plot.stat().st_size > 10_000


def test_main_job_rejects_a_bad_population() -> None:
    with pytest.raises(SystemExit):
        cli.main(["--population", "0", "--no-plot"])


def test_warm_command_compiles_and_marks_the_specialised_tier(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``python -m diffid_plugins warm model.ds --tier generic``: compiles and reports; the
    model is then served at once (the generic tier needs no ready mark)."""
    from diffid_plugins import compile_model, solve
    from diffid_plugins.examples import tutorial_text

    model_file = tmp_path / "lv.ds"
    model_file.write_text(tutorial_text())
    assert cli.main(["warm", str(model_file), "--tier", "generic"]) == 0
    assert re.search(r"generic tier of .*lv\.ds ready in [\d.]+ s", capsys.readouterr().out)
    assert solve(compile_model(tutorial_text(), tier="generic"), None, [1.0]).success


def test_warm_command_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        cli.main(["warm", str(tmp_path / "missing.ds")])

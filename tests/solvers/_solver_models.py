"""Models shared by the solver tests; each is compiled once per test session.

Hand-written ``@njit`` problems bound with :func:`diffid_plugins.solvers.bind_model`, and the
DiffSL corpus models (``../shared/diffsl_corpus``) compiled with ``compile_model``. Builders
are cached, so every test file reuses the same compiled kernels (numba compile time is most
of the suite's run time).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytest

from diffid_plugins.solvers import BoundModel, bind_model

__all__ = [
    "LV_TUTORIAL_P",
    "convergence_exact",
    "convergence_model",
    "corpus_cases",
    "corpus_model",
    "failure_model",
    "lotka_volterra",
]

LV_TUTORIAL_P = np.array([1.1, 0.4, 0.1, 0.4])  # (alpha, beta, delta, gamma): 300 steps in RK45


@numba.njit
def _lv_rhs(t, y, p, dy):
    dy[0] = p[0] * y[0] - p[1] * y[0] * y[1]
    dy[1] = p[2] * y[0] * y[1] - p[3] * y[1]


@numba.njit
def _lv_jac(t, y, p, J):  # noqa: N803
    J[0, 0] = p[0] - p[1] * y[1]
    J[0, 1] = -p[1] * y[0]
    J[1, 0] = p[2] * y[1]
    J[1, 1] = p[2] * y[0] - p[3]


@functools.cache
def lotka_volterra() -> BoundModel:
    """dx = a x - b x y, dy = d x y - g y, x0 = 10, y0 = 5 (diffid's tutorial problem)."""
    return bind_model(
        _lv_rhs, 2, u0=[10.0, 5.0], n_inputs=4, jac=_lv_jac, autonomous=True, name="lv"
    )


@numba.njit
def _conv_rhs(t, y, p, dy):
    dy[0] = y[0] * (1.0 - y[0])  # logistic: y = 1 / (1 + 9 exp(-t)) from 0.1
    dy[1] = -t * y[1]  # y = exp(-t^2 / 2)
    dy[2] = y[3]  # harmonic oscillator: cos t, -sin t
    dy[3] = -y[2]


def convergence_exact(t: np.ndarray) -> np.ndarray:
    """Closed-form solution of :func:`convergence_model`, shape (len(t), 4)."""
    return np.column_stack(
        [1.0 / (1.0 + 9.0 * np.exp(-t)), np.exp(-0.5 * t**2), np.cos(t), -np.sin(t)]
    )


@functools.cache
def convergence_model() -> BoundModel:
    """Nonlinear, time-dependent 4-state system with a closed-form solution."""
    return bind_model(_conv_rhs, 4, u0=[0.1, 1.0, 1.0, 0.0], stiff=False, name="conv")


@numba.njit
def _fail_rhs(t, y, p, dy):
    if p[0] == 0.0:
        dy[0] = y[0] * y[0]  # y = 1 / (1 - t): blows up at t = 1
    elif p[0] == 1.0:
        dy[0] = -math.sqrt(y[0] - 2.0)  # sqrt of a negative number at t0: NaN
    else:
        dy[0] = -math.sqrt(y[0])  # y = (1 - t/2)^2 reaches 0 at t = 2, then NaN


@functools.cache
def failure_model() -> BoundModel:
    """y(0) = 1 and p = [0]: y' = y^2 (blow-up at t = 1); [1]: y' = -sqrt(y - 2) (NaN at t0);
    [2]: y' = -sqrt(y) (y = (1 - t/2)^2 until t = 2, then a square root of a negative number)."""
    return bind_model(_fail_rhs, 1, u0=[1.0], n_inputs=1, stiff=False, name="fail")


CORPUS_DIR = Path(__file__).resolve().parents[3] / "shared" / "diffsl_corpus"


@functools.cache
def corpus_cases() -> dict[str, dict[str, Any]]:
    """The corpus models (``models.json``) by id; skips the test when the corpus is absent."""
    path = CORPUS_DIR / "models.json"
    if not path.exists():
        pytest.skip(f"the DiffSL corpus is not available at {path}")
    return {case["id"]: case for case in json.loads(path.read_text())}


@functools.cache
def corpus_model(model_id: str) -> Any:
    """A corpus model compiled with the DiffSL compiler (cached on disk and in memory)."""
    from diffid_plugins import compile_model

    return compile_model(corpus_cases()[model_id]["text"])

"""Shared compiled models for the problem tests (each distinct model costs seconds of numba
compile on a cold cache, so every test reuses these two)."""

from __future__ import annotations

import numpy as np
import pytest

from diffid_plugins import CompiledModel, compile_model
from diffid_plugins.examples import tutorial_data, tutorial_text

QUAD_TEXT = "in_i { c = 3 }\nu_i { x = 0 }\nF_i { c * t }\n"
"""x' = c t, x(0) = 0, so x = c t^2 / 2: with c = 3 the model is 1.5 t^2 (closed form)."""


@pytest.fixture(scope="session")
def lv_model() -> CompiledModel:
    """The tutorial Lotka-Volterra model (inputs a, b, d, g; outputs x, y)."""
    return compile_model(tutorial_text())


@pytest.fixture(scope="session")
def lv_data() -> np.ndarray:
    """The tutorial data (500 x 3: t, x, y)."""
    return tutorial_data()


@pytest.fixture(scope="session")
def quad_model() -> CompiledModel:
    """x' = c t, x(0) = 0 (one input, one output)."""
    return compile_model(QUAD_TEXT)


@pytest.fixture(scope="session")
def quad_data() -> np.ndarray:
    """Data t^2 at 11 times on [0, 2]: residuals of the model at c = 3 are 0.5 t^2."""
    t = np.linspace(0.0, 2.0, 11)
    return np.column_stack([t, t**2])

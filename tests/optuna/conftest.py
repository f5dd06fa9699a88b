"""Fixtures of the Optuna adapter tests; readable assertions inside Optuna's sampler suite."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("optuna") is not None:
    pytest.register_assert_rewrite("optuna.testing.pytest_samplers")

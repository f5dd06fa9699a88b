"""Static checks as tests, so that the README's single test command covers them too:
ruff (lint) on the package and tests, and mypy on the package (config in pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_clean() -> None:
    dirs = ("diffid_plugins", "tests", "benchmarks", "examples")
    paths = [d for d in dirs if (ROOT / d).is_dir()]
    res = _run("ruff", "check", *paths)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_clean() -> None:
    res = _run("mypy", "diffid_plugins")
    assert res.returncode == 0, res.stdout + res.stderr


def test_import_leaves_optional_dependencies_out() -> None:
    """Layer rule: importing the package imports no optional dependency, and not numba."""
    code = (
        "import sys, diffid_plugins\n"
        "bad = [m for m in ('optuna', 'pymoo', 'dask', 'distributed', 'matplotlib', 'numba')"
        " if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


@pytest.mark.parametrize(
    "module",
    ["diffid_plugins.problem", "diffid_plugins.parallel", "diffid_plugins.solvers._status"],
)
def test_problem_and_parallel_layers_load_without_numba(module: str) -> None:
    """Process workers of FunctionProblem import these modules (to unpickle the objective and
    map failures to statuses); they must not pay numba's import (0.2-0.5 s per worker)."""
    code = f"import sys, {module}\nprint('numba' in sys.modules, 'dask' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["False", "False"], res.stdout + res.stderr

"""Optuna is an optional dependency: importing the package or the adapter does not load it."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_adapter_does_not_import_optuna_or_cmaes() -> None:
    code = (
        "import sys, diffid_plugins, diffid_plugins.optuna as a;"
        "assert 'optuna' not in sys.modules and 'cmaes' not in sys.modules, 'imported';"
        "assert sorted(a.__all__) == ['CmaEsSampler', 'optimize']"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

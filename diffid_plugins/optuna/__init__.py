"""Optuna adapter: a CMA-ES sampler with restarts and a batch driver for problems.

``from diffid_plugins.optuna import CmaEsSampler, optimize``. Importing this package does not
import Optuna; the names load it on first use (Optuna and ``cmaes`` are optional
dependencies).

* :class:`CmaEsSampler`: an ``optuna.samplers.BaseSampler`` (any objective, ``study.optimize``);
* :func:`optimize`: one generation = one ``problem.evaluate_batch`` call, recorded as trials.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffid_plugins.optuna._driver import optimize
    from diffid_plugins.optuna._sampler import CmaEsSampler

__all__ = ["CmaEsSampler", "optimize"]

_LAZY = {
    "CmaEsSampler": "diffid_plugins.optuna._sampler",
    "optimize": "diffid_plugins.optuna._driver",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'diffid_plugins.optuna' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

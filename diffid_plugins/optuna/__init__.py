"""Optuna adapter: a CMA-ES sampler with restarts and a batch driver for problems.

``from diffid_plugins.optuna import CmaEsSampler, optimize``. Importing this package does not
import Optuna; the names load it on first use (Optuna and ``cmaes`` are optional
dependencies).

* :class:`CmaEsSampler`: an ``optuna.samplers.BaseSampler`` (any objective, ``study.optimize``);
* :func:`optimize`: one generation = one ``problem.evaluate_batch`` call, recorded as trials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from diffid_plugins._lazy import lazy_exports

if TYPE_CHECKING:
    from diffid_plugins.optuna._driver import optimize
    from diffid_plugins.optuna._sampler import CmaEsSampler

__all__ = ["CmaEsSampler", "optimize"]

_LAZY = {
    "CmaEsSampler": "diffid_plugins.optuna._sampler",
    "optimize": "diffid_plugins.optuna._driver",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

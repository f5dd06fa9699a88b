"""Optimisation algorithms over a batch function ``f(X: (n, d)) -> (n,)`` on a box.

:class:`RestartingCMA` is a CMA-ES engine with batch ask/tell, IPOP/BIPOP restarts,
documented stop rules and a JSON-serialisable state (``docs/optim.md``); it drives
``cmaes.CMA``, which is imported lazily.

This package depends on numpy (and ``cmaes`` when an engine is built) and never imports the
ODE stack, Optuna or pymoo.
"""

from __future__ import annotations

from ._cmaes import RestartingCMA as RestartingCMA
from ._stops import STOP_REASONS as STOP_REASONS

__all__ = ["STOP_REASONS", "RestartingCMA"]

"""numba ODE/DAE solvers: DOPRI5 and Tsit5, Rodas5P, stop/reset events, dense output.

Public API: :func:`solve`, :class:`Solution`, :func:`bind_model` (hand-written ``@njit``
models), :class:`BoundModel`, :class:`Status`, :data:`METHODS`.

The numerics are *template modules* (see ``docs/kernel-contract.md``): their text is pasted
after a generated model so that numba caches the solver specialised to each model.
:data:`SOLVER_TEMPLATES` lists them in dependency order for the DiffSL compiler.
"""

from __future__ import annotations

from diffid_plugins.solvers._api import (
    METHODS,
    SOLVER_TEMPLATES,
    BoundModel,
    Solution,
    bind_model,
    solve,
)
from diffid_plugins.solvers._status import Status

__all__ = [
    "METHODS",
    "SOLVER_TEMPLATES",
    "BoundModel",
    "Solution",
    "Status",
    "bind_model",
    "solve",
]

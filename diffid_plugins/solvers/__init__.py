"""numba ODE/DAE solvers: DOPRI5 and Tsit5, Rodas5P, stop/reset events, dense output.

Public API: :func:`solve`, :class:`Solution`, :func:`bind_model` (hand-written ``@njit``
models), :class:`BoundModel`, :class:`Status`, :data:`METHODS`.

The numerics are *template modules* (see ``docs/kernel-contract.md``): their text is pasted
after a generated model so that numba caches the solver specialised to each model.
:data:`SOLVER_TEMPLATES` lists them in dependency order for the kernel assembly
(``diffid_plugins._kernels``), which also builds the generic tier from them.
"""

from __future__ import annotations

import importlib
from typing import Any

from diffid_plugins.solvers._protocols import KernelModel
from diffid_plugins.solvers._status import Status

__all__ = [
    "METHODS",
    "SOLVER_TEMPLATES",
    "BoundModel",
    "KernelModel",
    "Solution",
    "Status",
    "bind_model",
    "solve",
]

#: Names that need numba, loaded on first use (so that importing the status codes, e.g. in a
#: worker process that only scores predictions, does not import numba).
_LAZY = {
    "METHODS": "diffid_plugins.solvers._api",
    "SOLVER_TEMPLATES": "diffid_plugins.solvers._bind",
    "BoundModel": "diffid_plugins.solvers._bind",
    "Solution": "diffid_plugins.solvers._api",
    "bind_model": "diffid_plugins.solvers._bind",
    "solve": "diffid_plugins.solvers._api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'diffid_plugins.solvers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

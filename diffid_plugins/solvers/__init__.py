"""numba ODE/DAE solvers: DOPRI5 and Tsit5, Rodas5P, stop/reset events, dense output.

Public API: :func:`solve`, :class:`Solution`, :func:`bind_model` (hand-written ``@njit``
models), :class:`BoundModel`, :class:`Status`, :data:`METHODS`.

The numerics are *template modules* (see ``docs/kernel-contract.md``): their text is pasted
after a generated model so that numba caches the solver specialised to each model.
:data:`SOLVER_TEMPLATES` lists them in dependency order for the kernel assembly
(``diffid_plugins._kernels``), which also builds the generic tier from them.
"""

from __future__ import annotations

from diffid_plugins._lazy import lazy_exports
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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

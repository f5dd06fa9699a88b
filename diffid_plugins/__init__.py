"""diffid_plugins: fit DiffSL ODE models to data, fast.

Compile a model written in DiffSL to numba kernels with :func:`compile_model`, solve it with
:func:`solve`, and score many parameter sets at once against data with :class:`Problem`.

Importing the package does not import numba or any optional dependency: the names that need
the numba stack (:func:`compile_model`, :func:`solve`, :class:`Solution`, ...) load on first
use.
"""

from __future__ import annotations

from diffid_plugins._lazy import lazy_exports
from diffid_plugins.diffsl import CompiledModel, check_model
from diffid_plugins.errors import (
    ArgumentError,
    ArgumentTypeError,
    DiffidError,
    DiffSLError,
    ResultError,
    ResultTypeError,
    SolverError,
)

__version__ = "0.1.0"

__all__ = [
    "RMSE",
    "SSE",
    "ArgumentError",
    "ArgumentTypeError",
    "CompiledModel",
    "DiffSLError",
    "DiffidError",
    "GaussianNLL",
    "Problem",
    "ResultError",
    "ResultTypeError",
    "Solution",
    "SolverError",
    "__version__",
    "check_model",
    "compile_model",
    "solve",
]

#: Public names loaded lazily: name -> module that defines it.
_LAZY = {
    "compile_model": "diffid_plugins._kernels",
    "solve": "diffid_plugins.solvers",
    "Solution": "diffid_plugins.solvers",
    "Problem": "diffid_plugins.problem",
    "SSE": "diffid_plugins.problem",
    "RMSE": "diffid_plugins.problem",
    "GaussianNLL": "diffid_plugins.problem",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

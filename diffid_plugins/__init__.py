"""diffid_plugins: fit DiffSL ODE models to data, fast.

Compile a model written in DiffSL to numba kernels with :func:`compile_model`, solve it with
:func:`solve`, and score many parameter sets at once against data with :class:`Problem`.
"""

from __future__ import annotations

from diffid_plugins.diffsl import CompiledModel, check_model, compile_model
from diffid_plugins.errors import DiffidError, DiffSLError, SolverError

__version__ = "0.1.0"

__all__ = [
    "CompiledModel",
    "DiffSLError",
    "DiffidError",
    "SolverError",
    "__version__",
    "check_model",
    "compile_model",
]

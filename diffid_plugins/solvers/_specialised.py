"""Model bindings of the specialised tier: derived constants of the model module.

A template module (``docs/kernel-contract.md``), assembled right after the generated model
source (or the namespace of :func:`~diffid_plugins.solvers.bind_model`) and before the solver
templates. In this tier the model names (``rhs``, ``N_STATES``, ...) are the model's own
module globals, so numba compiles the solvers with the model's kernels inlined and its sizes
as constants. This prelude adds the bindings that are derived from the model's: the index
arrays of its algebraic and differential states (frozen by numba as constant arrays).
"""

from __future__ import annotations

import numpy as np

from diffid_plugins.solvers._bindings import ALGEBRAIC, N_STATES  # model-bindings

__all__ = ["ALGEBRAIC_INDEX", "DIFFERENTIAL_INDEX"]

ALGEBRAIC_INDEX = np.array([i for i in range(N_STATES) if ALGEBRAIC[i]], dtype=np.int64)
DIFFERENTIAL_INDEX = np.array([i for i in range(N_STATES) if not ALGEBRAIC[i]], dtype=np.int64)

"""Placeholder model bindings for the template fixture (``tpl_example``).

A real template imports these names from ``diffid_plugins.solvers._bindings``; in a generated
module they are defined by the model source instead, so these bodies never run there.
"""

from __future__ import annotations

import numpy as np

__all__ = ["N_STATES", "rhs"]

N_STATES = 1


def rhs(t: float, y: np.ndarray, w: np.ndarray, dy: np.ndarray) -> None:
    """Placeholder for the model's right-hand side ``dy = F(t, y)``."""
    raise NotImplementedError("placeholder: the generated model defines `rhs`")

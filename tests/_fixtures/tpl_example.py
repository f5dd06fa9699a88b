"""A tiny template module for the tests: fixed-step explicit Euler over the model bindings.

The model names come from the placeholder module on the ``# model-bindings`` line, which
:func:`diffid_plugins._templates.template_source` removes when the text is pasted after a
generated model.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from _fixtures.stub_bindings import N_STATES, rhs  # model-bindings


@njit(cache=True)
def _tpl_euler_step(t, y, w, h, dy):
    """One explicit Euler step in place: ``y += h * F(t, y)`` (float64 arrays, N_STATES)."""
    rhs(t, y, w, dy)
    for i in range(N_STATES):
        y[i] += h * dy[i]


@njit(cache=True)
def tpl_euler(t0, t1, n_steps, y0, w):
    """Integrate from ``t0`` to ``t1`` with ``n_steps`` Euler steps; returns y(t1), (N_STATES,)."""
    y = y0.copy()
    dy = np.empty(N_STATES)
    h = (t1 - t0) / n_steps
    for k in range(n_steps):
        _tpl_euler_step(t0 + k * h, y, w, h, dy)
    return y

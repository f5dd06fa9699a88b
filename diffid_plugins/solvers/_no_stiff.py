"""Stand-in for the Rodas5P template when a model is bound with ``stiff=False``.

A template module: :func:`~diffid_plugins.solvers.bind_model` assembles it instead of
``_rosenbrock`` (halving the compile time of a non-stiff hand-written model). The driver never
calls these when ``SOLVER_HAS_STIFF`` is False; if it did, they report bad input.
"""

from __future__ import annotations

from numba import njit

from diffid_plugins.solvers._bindings import N_STATES  # model-bindings
from diffid_plugins.solvers._status import STATUS_BAD_INPUT

__all__: list[str] = []

_NS_UNUSED = N_STATES  # the bindings import is what makes this a template


@njit(cache=True, error_model="numpy")
def _ros_advance(w, t, y, h, t_eval, rtol, atol, max_steps, ys, us, ts, stats):
    return STATUS_BAD_INPUT, t, h


@njit(cache=True, error_model="numpy")
def _ros_consistent_init(t, y, w, rtol, atol, stats):
    return STATUS_BAD_INPUT

"""``KernelModel``: what :func:`~diffid_plugins.solve` and ``Problem`` need of a model.

Both a compiled DiffSL model (:class:`~diffid_plugins.CompiledModel`) and a hand-written one
(:class:`~diffid_plugins.solvers.BoundModel`) implement it: sizes, input names and defaults,
and ``kernels``, the :class:`~diffid_plugins.solvers._kernelset.KernelSet` of the tier that
serves it (``docs/kernel-contract.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["KernelModel"]


@runtime_checkable
class KernelModel(Protocol):
    """A model the solvers can integrate."""

    n_states: int
    n_inputs: int
    n_outputs: int
    n_stop: int
    has_mass: bool
    has_reset: bool
    kernels: Any  # KernelSet (Any here: the protocol module stays numba-free)

    @property
    def input_names(self) -> Sequence[str]:
        """Names of the inputs, in the order of a parameter vector."""
        ...

    @property
    def default_inputs(self) -> Any:
        """Inputs used when none are given, shape (n_inputs,), or None."""
        ...

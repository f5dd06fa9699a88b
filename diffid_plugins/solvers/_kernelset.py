"""``KernelSet``: the compiled entry points that :func:`solve` and ``Problem`` call.

A model reaches the solvers through one of three tiers (``docs/kernel-contract.md``):

* ``"generic"``: solver and batch kernels compiled once per install, calling the model through
  the addresses in its descriptor ``md`` (:func:`describe`); only the model's own small
  kernels are compiled per model;
* ``"specialised"``: a module in which the solver templates are pasted after the model, so
  numba inlines the model and knows its sizes (the fastest code, compiled per model);
* ``"bound"``: the specialised layout built in memory for hand-written ``@njit`` models
  (:func:`~diffid_plugins.solvers.bind_model`), never cached on disk.

A ``KernelSet`` hides which one is serving: :meth:`KernelSet.entry` returns a callable with the
specialised signature in every tier (the generic tier's ``md`` argument is bound in front).
It can also be given an *upgrade* callback, polled by :meth:`KernelSet.refresh` between calls,
that swaps in a faster tier once it is ready (the background-compiled specialised module).
"""

from __future__ import annotations

import functools
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.solvers._abi import (
    FLAG_NAMES,
    KERNEL_SIGNATURES,
    KERNELS,
    MD_ALG,
    MD_N_ALG,
    SIZE_NAMES,
)

__all__ = ["TIERS", "KernelSet", "describe", "kernel_address"]

TIERS = ("generic", "specialised", "bound")
"""Names of the tiers, as reported in ``Solution.tier`` and ``ProblemStats``."""

_POLL_SECONDS = 0.25  # how often refresh() asks the upgrade callback


def kernel_address(dispatcher: Any, name: str) -> int:
    """Compile kernel ``name`` of a model with its ABI signature and return its address.

    Parameters
    ----------
    dispatcher : numba dispatcher
        The model's ``@njit`` function (from a generated module: a disk-cache hit when the
        model was compiled before).
    name : str
        One of :data:`~diffid_plugins.solvers._abi.KERNELS`.

    Returns
    -------
    int
        The address of the compiled function's numba-ABI entry (valid while ``dispatcher``
        is alive; keep a reference).

    Raises
    ------
    TypeError
        If the function does not compile to the ABI signature (a wrong return type, say).
    """
    from numba.core import sigutils

    args, ret = sigutils.normalize_signature(KERNEL_SIGNATURES[name])
    cres = dispatcher.overloads.get(tuple(args))
    if cres is None:  # not compiled yet in this process (or not loaded from the disk cache)
        dispatcher.compile(args)
        cres = dispatcher.overloads[tuple(args)]
    if cres.signature.return_type != ret:
        raise ArgumentTypeError(
            f"model kernel `{name}` returns {cres.signature.return_type}, but the solver ABI "
            f"needs {KERNEL_SIGNATURES[name]}; a kernel writes its result into its last "
            f"argument and returns nothing."
        )
    return int(cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name))


def describe(namespace: types.ModuleType, stand_ins: types.ModuleType) -> NDArray[np.int64]:
    """Build the model descriptor ``md`` (``_abi.py``) of a model namespace.

    Compiles the kernels the solvers can call for this model (``prepare``, ``u0``, ``rhs``,
    ``out`` unless the outputs are the state itself, ``jac`` when the stiff method is
    available, ``mass``, ``stop`` and ``reset`` when the model has them) and points the others
    at stand-ins of the generic module (a state copy for ``out``; NaN-writing otherwise).

    Parameters
    ----------
    namespace : module
        Model bindings: sizes, flags and ``@njit`` kernels (``docs/kernel-contract.md``).
    stand_ins : module
        The loaded generic module (``_g_nan_vector``, ``_g_nan_matrix``).

    Returns
    -------
    ndarray of int64
        The descriptor. Addresses are process-local: build it again in every process.
    """
    ns = vars(namespace)
    n = int(ns["N_STATES"])
    algebraic = [bool(a) for a in ns["ALGEBRAIC"]]
    needed = {
        "prepare": True,
        "u0": True,
        "rhs": True,
        "out": not ns["OUTPUTS_ARE_STATES"],  # else a copy of the state, compiled once
        "jac": bool(ns["SOLVER_HAS_STIFF"]),
        "mass": bool(ns["HAS_MASS"]),
        "stop": int(ns["N_STOP"]) > 0,
        "reset": bool(ns["HAS_RESET"]),
    }
    stand_in = {"jac": "_g_nan_jacobian", "mass": "_g_nan_matrix", "out": "_g_copy_state"}
    addresses = [
        kernel_address(
            ns[name] if needed[name] else getattr(stand_ins, stand_in.get(name, "_g_nan_vector")),
            name,
        )  # a stand-in has its kernel's signature (compiled at import: a lookup here)
        for name in KERNELS
    ]
    md = addresses
    md += [int(ns[name]) for name in SIZE_NAMES]
    md += [int(bool(ns[name])) for name in FLAG_NAMES]
    alg_index = [i for i in range(n) if algebraic[i]]
    diff_index = [i for i in range(n) if not algebraic[i]]
    md.append(len(alg_index))
    if len(md) != MD_ALG or md[MD_N_ALG] != len(alg_index):  # pragma: no cover - layout bug
        raise RuntimeError("internal error: model descriptor layout out of step with _abi.py")
    md += [int(a) for a in algebraic] + alg_index + diff_index
    return np.array(md, dtype=np.int64)


class KernelSet:
    """The entry points of one tier, with the model's sizes (what solvers and batches call).

    Parameters
    ----------
    module : module
        The loaded kernels module of the tier (``solve_kernel``, ``batch_kernel``, ...).
    bindings : module
        The model's bindings (sizes and flags, ``docs/kernel-contract.md``).
    tier : {"generic", "specialised", "bound"}
    md : ndarray of int64, optional
        The model descriptor; required by the generic tier, whose entry points take it first.
    upgrade : callable, optional
        ``upgrade() -> (module, tier) | None``, asked at most every 0.25 s by
        :meth:`refresh`; a non-None answer makes that module (a specialised one, no ``md``)
        serve from then on.

    Attributes
    ----------
    N_STATES, N_INPUTS, N_OUTPUTS, N_STOP, N_WORK : int
    HAS_MASS, MASS_TIME_DEPENDENT, HAS_RESET, RHS_DEPENDS_ON_T, SOLVER_HAS_STIFF : bool
    tier : str
        The tier serving now.
    """

    def __init__(
        self,
        module: types.ModuleType,
        bindings: types.ModuleType,
        tier: str,
        md: NDArray[np.int64] | None = None,
        upgrade: Callable[[], tuple[types.ModuleType, str] | None] | None = None,
    ) -> None:
        if tier not in TIERS:
            raise ArgumentError(f"`tier` must be one of {TIERS}, got {tier!r}.")
        if (tier == "generic") != (md is not None):
            raise ArgumentError("the generic tier needs `md`; the other tiers take none.")
        ns = vars(bindings)
        self.bindings = bindings
        self.N_STATES = int(ns["N_STATES"])
        self.N_INPUTS = int(ns["N_INPUTS"])
        self.N_OUTPUTS = int(ns["N_OUTPUTS"])
        self.N_STOP = int(ns["N_STOP"])
        self.N_WORK = int(ns["N_WORK"])
        self.HAS_MASS = bool(ns["HAS_MASS"])
        self.MASS_TIME_DEPENDENT = bool(ns["MASS_TIME_DEPENDENT"])
        self.HAS_RESET = bool(ns["HAS_RESET"])
        self.RHS_DEPENDS_ON_T = bool(ns["RHS_DEPENDS_ON_T"])
        self.SOLVER_HAS_STIFF = bool(ns["SOLVER_HAS_STIFF"])
        self._lock = threading.Lock()
        self._upgrade = upgrade
        self._next_poll = 0.0
        self._set(module, tier, md)

    def _set(self, module: types.ModuleType, tier: str, md: NDArray[np.int64] | None) -> None:
        self.module = module
        self.tier = tier
        self.md = md
        self._entries: dict[str, Callable[..., Any]] = {}
        self.solve_kernel = self.entry("solve_kernel")

    def entry(self, name: str) -> Callable[..., Any]:
        """The tier's function ``name`` with the specialised signature (no ``md``).

        Raises
        ------
        AttributeError
            If the tier's module has no such function.
        """
        fn = self._entries.get(name)
        if fn is None:
            fn = getattr(self.module, name)
            if self.md is not None:
                fn = functools.partial(fn, self.md)
            self._entries[name] = fn
        return fn

    def has(self, name: str) -> bool:
        """Whether the serving tier's module defines ``name``."""
        return hasattr(self.module, name)

    def refresh(self) -> bool:
        """Swap in the upgraded tier if it has become ready; True when a swap happened.

        Cheap when there is nothing to do (one clock read); call it between solves or
        batches, never from inside one.
        """
        if self._upgrade is None:
            return False
        now = time.monotonic()
        if now < self._next_poll:
            return False
        with self._lock:
            if self._upgrade is None:
                return False
            self._next_poll = now + _POLL_SECONDS
            ready = self._upgrade()
            if ready is None:
                return False
            module, tier = ready
            self._upgrade = None
            self._set(module, tier, None)
            return True

    def __repr__(self) -> str:
        return f"KernelSet(tier={self.tier!r}, n_states={self.N_STATES})"

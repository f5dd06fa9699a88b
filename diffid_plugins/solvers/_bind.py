"""Binding models to the solver kernels: :class:`BoundModel` and :func:`bind_model`.

A DiffSL model is bound when it is compiled (its generated module includes the solver
templates). :func:`bind_model` does the same for hand-written ``@njit`` kernels: it execs the
template texts in a fresh namespace in which the model names are the user's functions, with
defaults for the kernels a model may omit (``docs/kernel-contract.md``).
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher
from numpy.typing import ArrayLike

from diffid_plugins._templates import exec_template, template_source
from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.solvers import (
    _bound_defaults,
    _driver,
    _erk,
    _events,
    _no_stiff,
    _ros_kernels,
    _rosenbrock,
    _specialised,
)
from diffid_plugins.solvers._kernelset import KernelSet

__all__ = ["SOLVER_TEMPLATES", "BoundModel", "bind_model"]

SOLVER_TEMPLATES: tuple[types.ModuleType, ...] = (
    _events,
    _erk,
    _ros_kernels,
    _rosenbrock,
    _driver,
)


class BoundModel:
    """A model bound to the solver kernels (what :func:`solve` consumes).

    Parameters
    ----------
    module : module
        Namespace holding the model bindings (``N_STATES``, ``rhs``, ...; see
        ``docs/kernel-contract.md``) and the solver templates (``solve_kernel``).
    input_names : sequence of str, optional
    default_inputs : array_like, optional
        Inputs used when :func:`solve` gets ``p=None``.
    name : str

    Attributes
    ----------
    n_states, n_inputs, n_outputs, n_stop : int
    has_mass, has_reset : bool
    algebraic : tuple of bool
    kernels : KernelSet
        The solver entry points (tier ``"bound"``), what :func:`solve` calls.
    """

    def __init__(
        self,
        module: types.ModuleType,
        *,
        input_names: Sequence[str] | None = None,
        default_inputs: ArrayLike | None = None,
        name: str = "model",
    ) -> None:
        self.module = module
        self.name = name
        self.n_states = int(module.N_STATES)
        self.n_inputs = int(module.N_INPUTS)
        self.n_outputs = int(module.N_OUTPUTS)
        self.n_stop = int(module.N_STOP)
        self.has_mass = bool(module.HAS_MASS)
        self.has_reset = bool(module.HAS_RESET)
        self.algebraic = tuple(bool(a) for a in module.ALGEBRAIC)
        if input_names is None:
            input_names = [f"p{i}" for i in range(self.n_inputs)]
        self.input_names = tuple(input_names)
        self.default_inputs = (
            None if default_inputs is None else np.asarray(default_inputs, dtype=np.float64)
        )
        self.kernels = KernelSet(module, module, "bound")

    def __repr__(self) -> str:
        return (
            f"BoundModel({self.name!r}, n_states={self.n_states}, n_inputs={self.n_inputs}, "
            f"n_outputs={self.n_outputs}, n_stop={self.n_stop}, has_mass={self.has_mass}, "
            f"has_reset={self.has_reset})"
        )


_BOUND_COUNTER = itertools.count()


def _check_dispatcher(name: str, fn: object) -> None:
    if not isinstance(fn, CPUDispatcher):
        raise ArgumentTypeError(
            f"`{name}` must be a numba @njit function, got {type(fn).__name__}. Decorate it "
            f"with `@numba.njit` (signature as in docs/kernel-contract.md)."
        )


def bind_model(
    rhs: Any,
    n_states: int,
    *,
    u0: ArrayLike | Any,
    n_inputs: int = 0,
    jac: Any | None = None,
    out: Any | None = None,
    n_outputs: int | None = None,
    stop: Any | None = None,
    n_stop: int = 0,
    reset: Any | None = None,
    mass: Any | None = None,
    mass_time_dependent: bool = False,
    algebraic: Sequence[bool] | None = None,
    autonomous: bool = False,
    input_names: Sequence[str] | None = None,
    default_inputs: ArrayLike | None = None,
    name: str = "model",
    stiff: bool = True,
) -> BoundModel:
    """Bind hand-written ``@njit`` model functions to the solver kernels.

    The solver templates are executed in a fresh namespace in which the model names of
    ``docs/kernel-contract.md`` are the given functions (re-jitted with
    ``error_model="numpy"`` unless they set one, so that a division by zero becomes inf/NaN
    and a failure status rather than an exception; missing ones get defaults). The kernels
    are compiled on the first solve, in every process (no on-disk cache: the functions are
    not in a generated file; compiled DiffSL models are cached).

    Parameters
    ----------
    rhs : numba dispatcher
        ``rhs(t, y, p, dy)``: writes F(t, y) into ``dy`` (n_states,). ``p`` is the solver's
        workspace: ``p[:n_inputs]`` are the inputs, ``p[n_inputs]`` the model index N.
    n_states : int
    u0 : array_like (n_states,) or numba dispatcher
        Constant initial state, or ``u0(p, y)`` writing it into ``y``.
    n_inputs : int, default 0
    jac : numba dispatcher, optional
        ``jac(t, y, p, J)``: dF/dy into ``J`` (n_states, n_states). Without it, forward
        differences are used (step ``sqrt(eps) * max(1, |y_j|)``; accurate to about 1e-8
        relative, not counted in ``n_rhs``) -- a fallback for hand-written models only.
    out : numba dispatcher, optional
        ``out(t, y, p, o)`` into ``o`` (n_outputs,); default: the state.
    n_outputs : int, optional
        Required with ``out``.
    stop : numba dispatcher, optional
        ``stop(t, y, p, g)`` into ``g`` (n_stop,).
    n_stop : int, default 0
    reset : numba dispatcher, optional
        ``reset(t, y, p, ynew)``: state after a root (requires ``stop``).
    mass : numba dispatcher, optional
        ``mass(t, p, M)``: mass matrix into ``M`` (n_states, n_states).
    mass_time_dependent : bool, default False
    algebraic : sequence of bool, optional
        Rows of the mass matrix that are identically zero. Default: detected from
        ``mass`` evaluated at t = 0 with zero inputs.
    autonomous : bool, default False
        True when neither F nor M depends on t (lets the stiff method skip df/dt).
    input_names : sequence of str, optional
    default_inputs : array_like, optional
    name : str, default "model"
    stiff : bool, default True
        False leaves the stiff method (Rodas5P) out of the compiled kernels, which roughly
        halves the compile time of a non-stiff model: ``method="auto"`` then runs DOPRI5
        without the stiffness switch and ``"rodas5p"`` is refused. Requires ``mass=None``.

    Returns
    -------
    BoundModel

    Raises
    ------
    TypeError
        If a function is not a numba ``@njit`` dispatcher.
    ValueError
        If sizes are inconsistent.
    """
    n_states = int(n_states)
    if n_states < 1:
        raise ArgumentError(f"`n_states` must be >= 1, got {n_states}.")
    if n_inputs < 0 or n_stop < 0:
        raise ArgumentError(f"`n_inputs` and `n_stop` must be >= 0, got {n_inputs}, {n_stop}.")
    if (stop is None) != (n_stop == 0):
        raise ArgumentError(
            f"`stop` and `n_stop` go together: got stop={stop!r} with n_stop={n_stop}. Pass "
            f"both (n_stop = number of root functions) or neither."
        )
    if reset is not None and stop is None:
        raise ArgumentError("`reset` requires `stop` (a reset happens at a root).")
    if mass is not None and not stiff:
        raise ArgumentError("A model with `mass` (a DAE) needs the stiff method: pass stiff=True.")
    if out is not None and n_outputs is None:
        raise ArgumentError("`out` requires `n_outputs` (the length of the output vector).")
    funcs: dict[str, Any] = {"rhs": rhs}
    for key, fn in (
        ("jac", jac),
        ("out", out),
        ("stop", stop),
        ("reset", reset),
        ("mass", mass),
    ):
        if fn is not None:
            funcs[key] = fn
    u0_array = None
    if isinstance(u0, CPUDispatcher):
        funcs["u0"] = u0
    else:
        u0_array = np.ascontiguousarray(u0, dtype=np.float64)
        if u0_array.shape != (n_states,):
            raise ArgumentError(
                f"`u0` must have shape ({n_states},) (one value per state), got "
                f"{u0_array.shape}. Pass an array of initial values or an @njit u0(p, y)."
            )
    for key, fn in funcs.items():
        _check_dispatcher(key, fn)
        # Re-jit with numpy's error model (a division by zero gives inf/NaN, which the solver
        # reports as a status, instead of raising inside a batch kernel), keeping the user's
        # other options.
        options = {k: v for k, v in fn.targetoptions.items() if k not in ("cache", "nopython")}
        options.setdefault("error_model", "numpy")
        funcs[key] = njit(**options)(fn.py_func)

    ns_module = types.ModuleType(f"diffid_plugins._bound.{name}_{next(_BOUND_COUNTER)}")
    ns = ns_module.__dict__
    ns.update(
        N_STATES=n_states,
        N_INPUTS=int(n_inputs),
        N_OUTPUTS=n_states if n_outputs is None or out is None else int(n_outputs),
        N_STOP=int(n_stop),
        N_WORK=int(n_inputs) + 1 + 3 * n_states,
        HAS_MASS=mass is not None,
        MASS_TIME_DEPENDENT=bool(mass_time_dependent) and mass is not None,
        HAS_RESET=reset is not None,
        OUTPUTS_ARE_STATES=out is None,
        RHS_DEPENDS_ON_T=not autonomous,
        SOLVER_HAS_STIFF=bool(stiff),
        ALGEBRAIC=(False,) * n_states,
    )
    exec_template(template_source(_bound_defaults), _bound_defaults.__name__, ns)
    ns["_BM_U0"] = u0_array
    ns.update(funcs)
    if mass is not None:
        ns["ALGEBRAIC"] = _algebraic_rows(mass, n_states, int(n_inputs), algebraic)
    for module in (_specialised, *SOLVER_TEMPLATES):
        if module is _rosenbrock and not stiff:
            module = _no_stiff
        exec_template(template_source(module), module.__name__, ns)
    return BoundModel(ns_module, input_names=input_names, default_inputs=default_inputs, name=name)


def _algebraic_rows(
    mass: Any, n_states: int, n_inputs: int, algebraic: Sequence[bool] | None
) -> tuple[bool, ...]:
    """Flags of the algebraic rows: given, or the zero rows of ``mass(0, w=0)``."""
    if algebraic is not None:
        flags = tuple(bool(a) for a in algebraic)
        if len(flags) != n_states:
            raise ArgumentError(f"`algebraic` must have {n_states} entries, got {len(flags)}.")
        return flags
    m = np.zeros((n_states, n_states))
    mass(0.0, np.zeros(n_inputs + 1 + 3 * n_states), m)
    return tuple(bool(np.all(m[i] == 0.0)) for i in range(n_states))


# --- solve -----------------------------------------------------------------------------------

"""``CompiledModel``: the Python face of a compiled DiffSL model.

The numba kernels live in a generated module (see ``docs/kernel-contract.md``); this class
validates arguments, allocates arrays and calls them. Every method is a convenience for
inspection and testing; solvers and batch kernels call the kernels directly.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffid_plugins.diffsl._codegen import GeneratedModel
from diffid_plugins.errors import ArgumentError

__all__ = ["CompiledModel"]

FloatArray = NDArray[np.float64]


class CompiledModel:
    """A DiffSL model compiled to numba kernels.

    Create one with :func:`diffid_plugins.compile_model`. Parameter vectors ``p`` follow
    the order of the ``in`` tensor (:attr:`input_names`); when ``p`` is omitted, the values
    written in the model (:attr:`default_inputs`) are used. (The reference implementations
    ignore those values and start from zeros; using them as defaults is this package's
    documented choice.)

    Attributes
    ----------
    n_states, n_inputs, n_outputs, n_stop : int
        Lengths of ``u``, ``in``, ``out`` (``n_states`` when ``out`` is absent) and ``stop``.
    input_names : list of str
        Labels of the ``in`` elements (``b[0]``, ``b[1]`` for a vector label ``b``).
    default_inputs : ndarray, shape (n_inputs,)
        The values written in the ``in`` tensor.
    has_mass, has_reset : bool
        Whether ``M`` / ``reset`` are defined.
    algebraic : ndarray of bool, shape (n_states,)
        States whose row of the mass matrix is identically zero.
    source : str
        The generated Python source of the model kernels.
    text, read_dir : str, str or None
        The DiffSL source and the ``read()`` directory it was compiled with (pickling a model
        sends these; unpickling compiles again, normally from the on-disk cache).
    module : module
        The loaded module holding the model's kernels (``docs/kernel-contract.md``).
    kernels : KernelSet or None
        The solver entry points (attached by :func:`diffid_plugins.compile_model`;
        ``kernels.tier`` says which compilation tier serves them).
    """

    def __init__(
        self,
        text: str,
        generated: GeneratedModel,
        module: types.ModuleType,
        input_names: Sequence[str],
        default_inputs: Sequence[float],
        read_dir: str | None = None,
    ) -> None:
        self.text = text
        self.read_dir = read_dir
        self._gen = generated
        self.module = module
        self.kernels: Any = None
        self._rebuild: Any = None
        self.n_states = generated.n_states
        self.n_inputs = generated.n_inputs
        self.n_outputs = generated.n_outputs
        self.n_stop = generated.n_stop
        self.n_work = generated.n_work
        self.has_mass = generated.has_mass
        self.has_reset = generated.has_reset
        self.mass_time_dependent = generated.mass_time_dependent
        self.algebraic = np.array(generated.algebraic, dtype=bool)
        self.input_names = list(input_names)
        self.default_inputs = np.array(default_inputs, dtype=np.float64)
        self.source = generated.source
        self.tensor_names = list(generated.tensor_offsets)

    def __repr__(self) -> str:
        return (
            f"CompiledModel(n_states={self.n_states}, n_inputs={self.n_inputs}, "
            f"n_outputs={self.n_outputs}, n_stop={self.n_stop}, has_mass={self.has_mass}, "
            f"has_reset={self.has_reset})"
        )

    # ------------------------------------------------------------------ argument handling
    def _params(self, p: ArrayLike | None) -> FloatArray:
        if p is None:
            return self.default_inputs.copy()
        arr = np.asarray(p, dtype=np.float64)
        if arr.ndim == 0 and self.n_inputs == 1:
            arr = arr.reshape(1)
        if arr.shape != (self.n_inputs,):
            raise ArgumentError(
                f"`p` has shape {arr.shape}, but the model has {self.n_inputs} inputs "
                f"({', '.join(self.input_names) or 'none'}); pass an array of shape "
                f"({self.n_inputs},) in that order."
            )
        return np.ascontiguousarray(arr)

    def _state(self, y: ArrayLike, name: str = "y") -> FloatArray:
        arr = np.asarray(y, dtype=np.float64)
        if arr.ndim == 0 and self.n_states == 1:
            arr = arr.reshape(1)
        if arr.shape != (self.n_states,):
            raise ArgumentError(
                f"`{name}` has shape {arr.shape}; expected ({self.n_states},), "
                "one value per state."
            )
        return np.ascontiguousarray(arr)

    def workspace(self, p: ArrayLike | None = None, model_index: int = 0) -> FloatArray:
        """The prepared parameter workspace ``w`` (shape ``(n_work,)``) for ``p`` and ``N``."""
        if int(model_index) != model_index or model_index < 0:
            raise ArgumentError(
                f"`model_index` must be a non-negative integer, got {model_index!r}."
            )
        w = np.zeros(self.n_work, dtype=np.float64)
        self.module.call_prepare(self._params(p), int(model_index), w)
        return w

    # ------------------------------------------------------------------ evaluations
    def initial_state(self, p: ArrayLike | None = None, *, model_index: int = 0) -> FloatArray:
        """Initial state ``u(t0)`` as written in the model, shape ``(n_states,)``.

        For a DAE the algebraic components are only initial guesses; the solvers make them
        consistent.
        """
        y = np.empty(self.n_states)
        self.module.call_u0(self.workspace(p, model_index), y)
        return y

    def rhs(
        self, p: ArrayLike | None, t: float, y: ArrayLike, *, model_index: int = 0
    ) -> FloatArray:
        """Right-hand side ``F(t, y)``, shape ``(n_states,)``."""
        dy = np.empty(self.n_states)
        self.module.call_rhs(float(t), self._state(y), self.workspace(p, model_index), dy)
        return dy

    def outputs(
        self, p: ArrayLike | None, t: float, y: ArrayLike, *, model_index: int = 0
    ) -> FloatArray:
        """Outputs ``out(t, y)`` (the state when ``out`` is absent), shape ``(n_outputs,)``."""
        o = np.empty(self.n_outputs)
        self.module.call_out(float(t), self._state(y), self.workspace(p, model_index), o)
        return o

    def jacobian(
        self, p: ArrayLike | None, t: float, y: ArrayLike, *, model_index: int = 0
    ) -> FloatArray:
        """Exact Jacobian ``dF/dy``, shape ``(n_states, n_states)``."""
        J = np.empty((self.n_states, self.n_states))
        self.module.call_jac(float(t), self._state(y), self.workspace(p, model_index), J)
        return J

    def jacobian_p(
        self, p: ArrayLike | None, t: float, y: ArrayLike, *, model_index: int = 0
    ) -> FloatArray:
        """Exact Jacobian ``dF/dp`` with respect to the inputs, shape ``(n_states, n_inputs)``."""
        J = np.empty((self.n_states, self.n_inputs))
        self.module.call_jac_p(float(t), self._state(y), self.workspace(p, model_index), J)
        return J

    def mass_matrix(
        self, p: ArrayLike | None = None, t: float = 0.0, *, model_index: int = 0
    ) -> FloatArray:
        """Mass matrix ``M(t)`` (the identity without ``M``), shape ``(n_states, n_states)``."""
        M = np.empty((self.n_states, self.n_states))
        self.module.call_mass(float(t), self.workspace(p, model_index), M)
        return M

    def stop(
        self, p: ArrayLike | None, t: float, y: ArrayLike, *, model_index: int = 0
    ) -> FloatArray:
        """Root functions ``stop(t, y)``, shape ``(n_stop,)``."""
        g = np.empty(max(self.n_stop, 1))
        self.module.call_stop(float(t), self._state(y), self.workspace(p, model_index), g)
        return g[: self.n_stop]

    def reset(
        self, p: ArrayLike | None, t: float, y: ArrayLike, *, model_index: int = 0
    ) -> FloatArray:
        """State after a root, ``reset(t, y)`` (``y`` itself without ``reset``)."""
        out = np.empty(self.n_states)
        self.module.call_reset(float(t), self._state(y), self.workspace(p, model_index), out)
        return out

    def evaluate_tensor(
        self,
        name: str,
        p: ArrayLike | None = None,
        t: float = 0.0,
        y: ArrayLike | None = None,
        *,
        dudt: ArrayLike | None = None,
        model_index: int = 0,
    ) -> FloatArray:
        """Dense value of any named tensor or element label, in its own shape.

        Parameters
        ----------
        name : str
            A tensor name (``"F"``, ``"A"``) or an element label (``"x"``).
        p : array_like, shape (n_inputs,), optional
            Inputs (default: :attr:`default_inputs`).
        t : float
            Time.
        y : array_like, shape (n_states,), optional
            State (default: the initial state). ``u`` evaluates to ``y`` itself.
        dudt : array_like, shape (n_states,), optional
            Values of the ``dudt`` tensor (default zeros); only ``M`` and tensors that use
            ``dudt`` depend on it.
        model_index : int
            The model index ``N``.
        """
        if name not in self._gen.tensor_offsets:
            known = ", ".join(self.tensor_names)
            raise KeyError(
                f"`name` {name!r} is not a tensor or label of this model; known: {known}."
            )
        w = self.workspace(p, model_index)
        if y is None:
            ys = np.empty(self.n_states)
            self.module.call_u0(w, ys)
        else:
            ys = self._state(y)
        dv = np.zeros(self.n_states) if dudt is None else self._state(dudt, "dudt")
        buf = np.empty(max(self._gen.n_tensor_buffer, 1))
        self.module.eval_tensors(float(t), ys, dv, w, buf)
        start, shape = self._gen.tensor_offsets[name]
        size = int(np.prod(shape)) if shape else 1
        return buf[start : start + size].reshape(shape).copy()

    def attach_kernels(self, kernels: Any, rebuild: Any = None) -> None:
        """Attach the solver entry points (done by the layer that assembles them).

        Parameters
        ----------
        kernels : KernelSet
        rebuild : callable, optional
            A module-level function ``rebuild(text, read_dir)`` that pickling uses to
            compile the model again in another process.
        """
        self.kernels = kernels
        self._rebuild = rebuild

    def __reduce__(self) -> tuple[Any, tuple[str, str | None]]:
        """Pickle as the model text (and ``read_dir``): unpickling compiles the model again,
        which loads the compiled kernels from the on-disk cache."""
        return (self._rebuild or _recompile_kernels, (self.text, self.read_dir))


def _recompile_kernels(text: str, read_dir: str | None) -> CompiledModel:
    """Unpickling helper for a model without solver kernels."""
    from diffid_plugins.diffsl._compile import compile_model_kernels

    return compile_model_kernels(text, read_dir=read_dir)

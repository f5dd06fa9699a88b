"""Cost descriptors: :class:`SSE`, :class:`RMSE`, :class:`GaussianNLL` and their sums.

A cost is a description, not code: :class:`Problem` encodes it as a few small arrays (one row
per summed term) that the compiled batch kernel reads, so one compiled kernel serves every
cost and the cost is computed inside numba from the solution at the data times.

All costs act on the residuals ``r_ij = y_j(t_i) - d_ij`` (model minus data) at the ``n_t``
data times for the ``m`` outputs, ``n = n_t m`` residuals in all, with optional per-output
weights ``v_j`` (default 1). The formulas reduce to diffid 0.3.0's (``diffid.SSE``,
``diffid.RMSE``, ``diffid.GaussianNLL``; see ``docs/diffid-reference.md`` section 1.7) when
all ``v_j = 1`` and the noise level is shared. Costs add up like diffid's builder metrics
(``SSE() + GaussianNLL(...)`` is the sum of both values) and scale (``2 * SSE()`` doubles the
weight).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ArgumentTypeError
from diffid_plugins.problem._codes import COST_GAUSSIAN_NLL, COST_RMSE, COST_SSE
from diffid_plugins.problem._validation import ProblemError

__all__ = ["RMSE", "SSE", "Cost", "CostSum", "EncodedCost", "GaussianNLL", "encode_cost"]


def _weight(value: Any, name: str = "weight") -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not (math.isfinite(float(value)) and float(value) >= 0.0):
        raise ProblemError(f"`{name}` must be a finite number >= 0, got {value!r}.")
    return float(value)


def _per_output(value: Any, name: str, positive: bool) -> float | tuple[float, ...] | None:
    """A scalar or a tuple of floats, each finite and >= 0 (> 0 when ``positive``)."""
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64) if not isinstance(value, str) else None
    if arr is None or arr.ndim > 1 or arr.size == 0:
        raise ProblemError(
            f"`{name}` must be a number or a sequence with one number per output, got {value!r}."
        )
    low_ok = arr > 0 if positive else arr >= 0
    if not (np.all(np.isfinite(arr)) and np.all(low_ok)):
        rule = "> 0" if positive else ">= 0"
        raise ProblemError(f"`{name}` must be finite and {rule}, got {value!r}.")
    return float(arr) if arr.ndim == 0 else tuple(float(v) for v in arr)


class Cost:
    """Base class of the cost descriptors: supports ``+`` (sum) and scalar ``*``."""

    def _terms(self) -> tuple[Cost, ...]:
        return (self,)

    @property
    def is_log_likelihood(self) -> bool:
        """Whether ``-cost`` is a normalised log-likelihood of the data.

        True for :class:`GaussianNLL` with unit weights only (a sum of terms may count the
        same data twice, so it is not taken as one); the nested sampler's ``from_problem``
        needs it (logL = -cost).
        """
        return False

    def _scaled(self, factor: float) -> Cost:
        scaled: Cost = replace(cast(Any, self), weight=cast(Any, self).weight * factor)
        return scaled

    def __add__(self, other: object) -> CostSum:
        if not isinstance(other, Cost):
            return NotImplemented
        return CostSum(self._terms() + other._terms())

    def __radd__(self, other: object) -> Cost:
        if isinstance(other, int) and other == 0:  # lets sum([SSE(), RMSE()]) work
            return self
        return NotImplemented

    def __mul__(self, factor: object) -> Cost:
        if not isinstance(factor, int | float | np.integer | np.floating) or isinstance(
            factor, bool
        ):
            return NotImplemented
        f = _weight(factor, "factor")
        return (
            CostSum(tuple(t._scaled(f) for t in self._terms()))
            if isinstance(self, CostSum)
            else self._scaled(f)
        )

    __rmul__ = __mul__


@dataclass(frozen=True, eq=True)
class SSE(Cost):
    """Sum of squared errors, ``weight * sum_j v_j sum_i r_ij^2``.

    With unit output weights this is diffid's ``SSE(weight)``: ``weight * sum_k r_k^2``
    over the flat residual vector.

    Parameters
    ----------
    weight : float, default 1.0
        Finite, >= 0.
    output_weights : float or sequence of float (n_outputs,), optional
        ``v_j``, finite, >= 0 (default 1 for every output).
    """

    weight: float = 1.0
    output_weights: float | tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _weight(self.weight))
        ow = _per_output(self.output_weights, "output_weights", positive=False)
        object.__setattr__(self, "output_weights", ow)


@dataclass(frozen=True, eq=True)
class RMSE(Cost):
    """Root-mean-square error, ``weight * sqrt(sum_j v_j sum_i r_ij^2 / n)``, ``n = n_t m``.

    With unit output weights this is diffid's ``RMSE(weight)``: ``weight * sqrt(sum r^2/n)``.

    Parameters
    ----------
    weight : float, default 1.0
    output_weights : float or sequence of float (n_outputs,), optional
    """

    weight: float = 1.0
    output_weights: float | tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _weight(self.weight))
        ow = _per_output(self.output_weights, "output_weights", positive=False)
        object.__setattr__(self, "output_weights", ow)


@dataclass(frozen=True, eq=True)
class GaussianNLL(Cost):
    """Gaussian negative log-likelihood with known or estimated noise levels.

    ``weight * sum_j v_j [ (n_t / 2) ln(2 pi sigma_j^2) + sum_i r_ij^2 / (2 sigma_j^2) ]``.

    With one shared ``sigma`` and unit output weights this is exactly diffid's
    ``GaussianNLL(variance=sigma**2, weight)``:
    ``weight * [ (n/2) ln(2 pi variance) + sum_k r_k^2 / (2 variance) ]``, constant included.

    Parameters
    ----------
    sigma : float or sequence of float (n_outputs,), optional
        Noise standard deviation, shared or one per output (> 0). When ``estimate_sigma`` is
        set it is the initial value (``x0``) of the noise parameters. Default 1.0.
    variance : float, optional
        diffid's argument: ``sigma = sqrt(variance)``. Give ``sigma`` or ``variance``.
    weight : float, default 1.0
    output_weights : float or sequence of float (n_outputs,), optional
    estimate_sigma : bool or {"shared", "per_output"}, default False
        Estimate the noise level as extra parameters appended to the parameter vector:
        ``True``/``"shared"`` adds one parameter named ``sigma_name``; ``"per_output"`` adds
        ``f"{sigma_name}_{j}"`` for every output ``j``. Their default bounds are (0, inf); a
        row whose noise level is not > 0 costs inf.
    sigma_name : str, default "sigma"
        Name (or prefix) of the estimated noise parameters. Terms that use the same names
        share the parameters.
    """

    sigma: float | tuple[float, ...] | None = None
    variance: float | None = None
    weight: float = 1.0
    output_weights: float | tuple[float, ...] | None = None
    estimate_sigma: bool | Literal["shared", "per_output"] = False
    sigma_name: str = "sigma"

    def __post_init__(self) -> None:
        if self.sigma is not None and self.variance is not None:
            raise ProblemError(
                f"GaussianNLL takes `sigma` or `variance`, not both; got sigma={self.sigma!r} "
                f"and variance={self.variance!r}."
            )
        sigma = _per_output(self.sigma, "sigma", positive=True)
        if self.variance is not None:
            var = _per_output(self.variance, "variance", positive=True)
            if not isinstance(var, float):
                raise ProblemError(f"`variance` must be one number, got {self.variance!r}.")
            sigma = math.sqrt(var)
        object.__setattr__(self, "sigma", 1.0 if sigma is None else sigma)
        object.__setattr__(self, "variance", None)
        object.__setattr__(self, "weight", _weight(self.weight))
        ow = _per_output(self.output_weights, "output_weights", positive=False)
        object.__setattr__(self, "output_weights", ow)
        mode = self.estimate_sigma
        if mode is True:
            mode = "shared"
        if mode not in (False, "shared", "per_output"):
            raise ProblemError(
                f"`estimate_sigma` must be False, True, 'shared' or 'per_output', got {mode!r}."
            )
        if mode == "shared" and isinstance(self.sigma, tuple):
            raise ProblemError(
                "`estimate_sigma='shared'` estimates one noise level, but `sigma` has one "
                "value per output; pass a single initial value or estimate_sigma='per_output'."
            )
        object.__setattr__(self, "estimate_sigma", mode)
        if not (isinstance(self.sigma_name, str) and self.sigma_name.isidentifier()):
            raise ProblemError(f"`sigma_name` must be an identifier, got {self.sigma_name!r}.")

    @property
    def is_log_likelihood(self) -> bool:
        """True with unit ``weight`` and output weights: ``-cost`` is then ln p(data | x)."""
        ow = self.output_weights
        unit = ow is None or all(w == 1.0 for w in (ow if isinstance(ow, tuple) else (ow,)))
        return self.weight == 1.0 and unit


@dataclass(frozen=True, eq=True)
class CostSum(Cost):
    """Sum of cost terms (made with ``+``); its value is the sum of the terms' values."""

    terms: tuple[Cost, ...]

    def _terms(self) -> tuple[Cost, ...]:
        return self.terms

    def __repr__(self) -> str:
        return " + ".join(repr(t) for t in self.terms)


@dataclass(frozen=True)
class EncodedCost:
    """A cost as the arrays the batch kernel reads (one row per term).

    Attributes
    ----------
    kind : int64 (n_terms,)
    weight : float64 (n_terms,)
    out_weight, sigma : float64 (n_terms, n_outputs)
    sigma_index : int64 (n_terms, n_outputs)
        Parameter column of an estimated noise level, -1 for a known one.
    sigma_names : list of str
        Names of the noise parameters (appended after the model parameters).
    sigma_x0 : list of float
        Their initial values.
    """

    kind: NDArray[np.int64]
    weight: NDArray[np.float64]
    out_weight: NDArray[np.float64]
    sigma: NDArray[np.float64]
    sigma_index: NDArray[np.int64]
    sigma_names: list[str]
    sigma_x0: list[float]


def _broadcast(value: float | tuple[float, ...] | None, n: int, name: str) -> list[float]:
    if value is None:
        return [1.0] * n
    if isinstance(value, float):
        return [value] * n
    if len(value) != n:
        raise ProblemError(
            f"`{name}` has {len(value)} values, but the model has {n} output(s); give one "
            f"value per output or a single number."
        )
    return list(value)


def encode_cost(cost: Any, n_outputs: int, n_fit: int, taken: Sequence[str]) -> EncodedCost:
    """Encode ``cost`` for a model with ``n_outputs`` outputs and ``n_fit`` fitted inputs.

    Parameters
    ----------
    cost : Cost
    n_outputs : int
    n_fit : int
        Number of fitted model inputs (the noise parameters come after them).
    taken : sequence of str
        Names already used by the fitted inputs (a noise parameter may not reuse one).

    Raises
    ------
    ArgumentTypeError
        ``cost`` is not a cost descriptor (a ``TypeError``).
    ProblemError
        Per-output values of the wrong length, or a noise name that clashes with an input.
    """
    if not isinstance(cost, Cost):
        raise ArgumentTypeError(
            f"`cost` must be a cost such as SSE(), RMSE(), GaussianNLL(sigma=...) or a sum "
            f"of them, got {type(cost).__name__}; write e.g. cost=SSE() or "
            "cost=GaussianNLL(sigma=0.1) + SSE()."
        )
    terms = cost._terms()
    if not terms:
        raise ProblemError("`cost` is an empty sum; give at least one term.")
    kinds, weights, out_w, sig, sig_idx = [], [], [], [], []
    names: list[str] = []
    x0: list[float] = []
    for term in terms:
        spec: Any = term  # SSE, RMSE or GaussianNLL (a CostSum is flattened by _terms)
        out_w.append(_broadcast(spec.output_weights, n_outputs, "output_weights"))
        weights.append(spec.weight)
        if isinstance(term, GaussianNLL):
            kinds.append(COST_GAUSSIAN_NLL)
            values = _broadcast(term.sigma, n_outputs, "sigma")
            sig.append(values)
            if term.estimate_sigma is False:
                sig_idx.append([-1] * n_outputs)
                continue
            if term.estimate_sigma == "shared":
                wanted = [term.sigma_name] * n_outputs
            else:
                wanted = [f"{term.sigma_name}_{j}" for j in range(n_outputs)]
            row = []
            for j, name in enumerate(wanted):
                if name in taken:
                    raise ProblemError(
                        f"the noise parameter name {name!r} is already a fitted model input; "
                        f"pass GaussianNLL(..., sigma_name='another_name')."
                    )
                if name not in names:
                    names.append(name)
                    x0.append(values[j])
                row.append(n_fit + names.index(name))
            sig_idx.append(row)
        else:
            kinds.append(COST_RMSE if isinstance(term, RMSE) else COST_SSE)
            sig.append([1.0] * n_outputs)
            sig_idx.append([-1] * n_outputs)
    return EncodedCost(
        kind=np.array(kinds, dtype=np.int64),
        weight=np.array(weights, dtype=np.float64),
        out_weight=np.array(out_w, dtype=np.float64).reshape(len(terms), n_outputs),
        sigma=np.array(sig, dtype=np.float64).reshape(len(terms), n_outputs),
        sigma_index=np.array(sig_idx, dtype=np.int64).reshape(len(terms), n_outputs),
        sigma_names=names,
        sigma_x0=x0,
    )

"""The numeric part of an Optuna search space as a continuous box, and back.

CMA-ES works on a box in R^d. Each float or int distribution becomes one coordinate:

* a float without step: ``[low, high]``; a log-scaled float: ``[ln low, ln high]``;
* a float with ``step`` and any int: the range widened by half a step on each side, so every
  grid value owns an interval of the same width; a value is mapped back by rounding to the
  nearest grid point (``floor((v - low) / step + 0.5)``) and clipping to ``[low, high]``;
* a log-scaled int: ``[ln(low - 0.5), ln(high + 0.5)]``, mapped back by ``round(exp(v))``.

This is the encoding Optuna's own ``CmaEsSampler`` uses (``optuna._transform``), written
independently here so the adapter does not rely on Optuna's private module. Values come back
as Python ``float``/``int`` (Optuna's samplers must not return numpy scalars).
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["NumericSpace", "is_numeric", "space_signature"]


def is_numeric(distribution: BaseDistribution) -> bool:
    """True for a float or int distribution with more than one value."""
    from optuna.distributions import FloatDistribution, IntDistribution

    return isinstance(distribution, FloatDistribution | IntDistribution) and not (
        distribution.single()
    )


def space_signature(space: dict[str, BaseDistribution]) -> str:
    """A short stable name of a search space (names and distributions, order-independent)."""
    from optuna.distributions import distribution_to_json

    text = ";".join(f"{k}={distribution_to_json(space[k])}" for k in sorted(space))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


class NumericSpace:
    """A search space of float/int distributions mapped to a continuous box.

    Parameters
    ----------
    space : dict of str to FloatDistribution or IntDistribution
        Distributions with more than one value; the coordinate order is sorted by name, so
        the same space always gives the same box whatever the dict order.

    Attributes
    ----------
    names : list of str
        Parameter names in coordinate order.
    lower, upper : ndarray, shape (d,)
        The box.
    signature : str
        :func:`space_signature` of ``space``.
    """

    def __init__(self, space: dict[str, BaseDistribution]) -> None:
        self.names = sorted(space)
        self.distributions = [space[name] for name in self.names]
        self.signature = space_signature(space)
        d = len(self.names)
        self.lower = np.empty(d)
        self.upper = np.empty(d)
        # per coordinate: 0 float, 1 float log, 2 float step, 3 int, 4 int log
        self._kind: list[int] = []
        for i, dist in enumerate(self.distributions):
            lo, hi, kind = _box_of(dist)
            self.lower[i], self.upper[i] = lo, hi
            self._kind.append(kind)

    @property
    def n_dim(self) -> int:
        """Number of coordinates d."""
        return len(self.names)

    def centre(self) -> NDArray[np.float64]:
        """Centre of the box, shape (d,)."""
        return 0.5 * (self.lower + self.upper)

    def to_box(
        self, params: dict[str, Any], default: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """Box coordinates (d,) of external parameter values.

        Names missing from ``params`` take their coordinate from ``default`` (d,) (the
        centre when not given). Values are clipped into the box.
        """
        out = self.centre() if default is None else np.array(default, dtype=np.float64)
        for i, (name, kind) in enumerate(zip(self.names, self._kind, strict=True)):
            if name in params:
                value = float(params[name])
                out[i] = math.log(value) if kind in (1, 4) else value
        return np.clip(out, self.lower, self.upper)

    def values(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """External values of box rows, shape (n, d) -> (n, d), float64.

        Vectorised :meth:`from_box` for float coordinates (clipped to ``[low, high]``, log
        ones exponentiated first); ints and stepped floats are rounded to their grid.
        """
        rows = np.asarray(rows, dtype=np.float64)
        out = np.empty_like(rows)
        for i, (dist, kind) in enumerate(zip(self.distributions, self._kind, strict=True)):
            low, high = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
            if kind == 0:
                out[:, i] = np.clip(rows[:, i], low, high)
            elif kind == 1:
                out[:, i] = np.clip(np.exp(rows[:, i]), low, high)
            else:
                out[:, i] = [_value_of(dist, kind, v) for v in rows[:, i].tolist()]
        return out

    def from_box(self, row: NDArray[np.float64]) -> dict[str, Any]:
        """External values (Python float/int, inside each distribution) of a box row (d,)."""
        params: dict[str, Any] = {}
        for name, dist, kind, v in zip(
            self.names, self.distributions, self._kind, row.tolist(), strict=True
        ):
            params[name] = _value_of(dist, kind, v)
        return params


def _box_of(dist: Any) -> tuple[float, float, int]:
    from optuna.distributions import FloatDistribution

    low, high = float(dist.low), float(dist.high)
    if isinstance(dist, FloatDistribution):
        if dist.log:
            return math.log(low), math.log(high), 1
        if dist.step is not None:
            half = 0.5 * float(dist.step)
            return low - half, high + half, 2
        return low, high, 0
    if dist.log:
        return math.log(low - 0.5), math.log(high + 0.5), 4
    half = 0.5 * float(dist.step)
    return low - half, high + half, 3


def _value_of(dist: Any, kind: int, v: float) -> float | int:
    if kind == 0:
        return min(max(v, dist.low), dist.high)
    if kind == 1:
        return min(max(math.exp(v), dist.low), dist.high)
    if kind == 2:
        k = math.floor((v - dist.low) / dist.step + 0.5)
        return float(min(max(k * dist.step + dist.low, dist.low), dist.high))
    if kind == 3:
        k = math.floor((v - dist.low) / dist.step + 0.5)
        return int(min(max(k * dist.step + dist.low, dist.low), dist.high))
    return int(min(max(round(math.exp(v)), dist.low), dist.high))

"""Storage layouts (dense, diagonal, sparse) of DiffSL tensors.

Values never depend on the layout: this package stores every tensor densely, and a
structural zero is an exact 0.0. The reference implementation, however, rejects some
models because of their layout (a sparse state vector, division by a sparse tensor,
indexing a sparse vector, ...). To report the same errors we track, for every value, the
reference's layout kind and its pattern of structural non-zeros (``diffsl-reference.md``
section 4.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Layout"]

DENSE = "dense"
DIAGONAL = "diagonal"
SPARSE = "sparse"


@dataclass(frozen=True, eq=False)
class Layout:
    """Layout kind and non-zero pattern ``mask`` (a boolean array of the value's shape)."""

    kind: str
    mask: NDArray[np.bool_]

    @staticmethod
    def dense(shape: tuple[int, ...]) -> Layout:
        return Layout(DENSE, np.ones(shape, dtype=bool))

    @staticmethod
    def from_mask(mask: NDArray[np.bool_], diagonal: bool = False) -> Layout:
        """Classify a pattern: full is dense; a diagonal request keeps ``diagonal``."""
        if mask.all():
            return Layout(DENSE, mask)
        if diagonal:
            return Layout(DIAGONAL, mask)
        return Layout(SPARSE, mask)

    @property
    def is_dense(self) -> bool:
        return self.kind == DENSE

    def describe(self) -> str:
        """Short name used in messages (``dense``, ``diagonal`` or ``sparse``)."""
        return self.kind

    def reshape(self, shape: tuple[int, ...]) -> Layout:
        return Layout(self.kind, self.mask.reshape(shape))

    def transpose(self, axes: tuple[int, ...]) -> Layout:
        return Layout(self.kind, self.mask.transpose(axes))

    def broadcast(self, shape: tuple[int, ...]) -> Layout:
        return Layout(self.kind, np.broadcast_to(self.mask, shape))

    def union(self, other: Layout, shape: tuple[int, ...]) -> Layout:
        """Pattern of ``a + b`` and ``a - b``."""
        if self.is_dense or other.is_dense:
            return Layout.dense(shape)
        mask = np.broadcast_to(self.mask, shape) | np.broadcast_to(other.mask, shape)
        both_diag = self.kind == DIAGONAL and other.kind == DIAGONAL
        return Layout.from_mask(mask, diagonal=both_diag)

    def intersection(self, other: Layout, shape: tuple[int, ...]) -> Layout:
        """Pattern of ``a * b`` and ``a / b``."""
        mask = np.broadcast_to(self.mask, shape) & np.broadcast_to(other.mask, shape)
        diag = DIAGONAL in (self.kind, other.kind) and not (
            self.kind == SPARSE or other.kind == SPARSE
        )
        return Layout.from_mask(mask.copy(), diagonal=diag)

    def contract_last(self) -> Layout:
        """Pattern after summing over the last axis."""
        mask = np.asarray(self.mask.any(axis=-1), dtype=bool)
        return Layout.from_mask(mask, diagonal=False)

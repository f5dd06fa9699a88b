"""Borrowed arrays for the hot loops of the solver templates (numba intrinsics).

A numba array holds a reference to its memory (a *meminfo*): every copy of an array variable
(an argument handed to an ``inline="always"`` helper, a view such as ``work[v, ln]``) takes a
reference with an atomic increment and drops it with an atomic decrement. Where the model is
compiled into the solver (specialised tier) LLVM unrolls the loops over the states and removes
those pairs; in the generic tier the loops and the indirect kernel calls stay, the pairs stay
with them, and on Lotka-Volterra they took ~15 % of a DOPRI5 solve (``perf``: the hot
instructions were ``lock incq``/``lock decq`` of ``NRT_incref``/``NRT_decref``).

A *borrowed* array is the same data, shape and strides without a meminfo: taking and dropping
references to it costs a null test. It is safe only while the owner is alive, which the two
uses here guarantee: :func:`borrowed` is applied to arguments of the kernel that uses it (the
caller owns them for the whole call), and :func:`borrowed_row` makes a view for one kernel
call, from an array the caller keeps.

Not templates: the solver templates and the generic tier's prelude import these functions
(the assembled modules keep the import), and the generic rewriter leaves them alone (they are
not ``@njit`` functions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

__all__ = ["borrowed", "borrowed_row"]


@intrinsic
def borrowed(typingctx: Any, arr: types.Type) -> tuple[Any, Callable[..., Any]] | None:
    """``arr`` (any numba array) without its reference to the memory: the caller must keep
    the owner alive while the result is used."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ndim = signature.args[0].ndim
        src = make_array(signature.args[0])(context, builder, value=args[0])
        out = make_array(signature.return_type)(context, builder)
        populate_array(
            out,
            data=src.data,
            shape=cgutils.unpack_tuple(builder, src.shape, ndim),
            strides=cgutils.unpack_tuple(builder, src.strides, ndim),
            itemsize=src.itemsize,
            meminfo=None,
        )
        return out._getvalue()

    return arr(arr), codegen


@intrinsic
def borrowed_row(
    typingctx: Any, work: types.Type, v: types.Type, ln: types.Type
) -> tuple[Any, Callable[..., Any]] | None:
    """``work[v, ln]`` of a C-contiguous float64 array ``(vector, lane, state)``: the row of
    the states as a borrowed C-contiguous view (N_STATES,), for one kernel call."""
    f8 = types.float64
    if not (isinstance(work, types.Array) and work.ndim == 3 and work.layout == "C"):
        return None
    if work.dtype != f8 or not isinstance(v, types.Integer) or not isinstance(ln, types.Integer):
        return None
    row_type = types.Array(f8, 1, "C")

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arr = make_array(signature.args[0])(context, builder, value=args[0])
        shape = cgutils.unpack_tuple(builder, arr.shape, 3)
        strides = cgutils.unpack_tuple(builder, arr.strides, 3)
        index = [
            context.cast(builder, value, ty, types.intp)
            for value, ty in zip(args[1:], signature.args[1:], strict=True)
        ]
        offset = builder.add(builder.mul(index[0], strides[0]), builder.mul(index[1], strides[1]))
        out = make_array(row_type)(context, builder)
        populate_array(
            out,
            data=cgutils.pointer_add(builder, arr.data, offset),
            shape=[shape[2]],
            strides=[strides[2]],
            itemsize=arr.itemsize,
            meminfo=None,
        )
        return out._getvalue()

    return row_type(work, v, ln), codegen

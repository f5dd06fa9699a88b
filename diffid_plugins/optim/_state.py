"""JSON-serialisable snapshots of ``cmaes.CMA`` and of numpy generators.

A snapshot holds only lists, strings, ints, floats, booleans and ``None``; it passes
``json.dumps(..., allow_nan=False)``: non-finite floats are written as the strings ``"inf"``,
``"-inf"`` and ``"nan"`` (``float()`` reads them back). Floats round-trip exactly (``json``
writes ``repr(float)``), so a restored optimiser continues bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ArgumentError

__all__ = [
    "decode_array",
    "decode_cma",
    "decode_float",
    "decode_rng",
    "encode_array",
    "encode_cma",
    "encode_float",
    "encode_rng",
]


def encode_float(x: float) -> float | str:
    """A float, or ``"inf"``/``"-inf"``/``"nan"`` for a non-finite one."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def decode_float(x: float | int | str) -> float:
    """Inverse of :func:`encode_float`."""
    return float(x)


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """``{"dtype", "shape", "data"}`` with the elements flattened in C order."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        data: list[Any] = [encode_float(v) for v in a.ravel().tolist()]
    elif a.dtype.kind in "iub":
        data = a.ravel().tolist()
    else:
        raise ArgumentError(f"encode_array: dtype {a.dtype} is not supported")
    return {"dtype": a.dtype.str, "shape": list(a.shape), "data": data}


def decode_array(d: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    dtype = np.dtype(d["dtype"])
    if dtype.kind == "f":
        flat = np.array([decode_float(v) for v in d["data"]], dtype=dtype)
    else:
        flat = np.array(d["data"], dtype=dtype)
    return flat.reshape(tuple(d["shape"]))


def _encode_value(v: Any) -> Any:
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, np.ndarray):
        return {"array": encode_array(v)}
    if isinstance(v, int | np.integer):
        return {"int": int(v)}
    if isinstance(v, float | np.floating):
        return {"float": encode_float(float(v))}
    raise ArgumentError(f"cannot serialise a cmaes.CMA attribute of type {type(v).__name__}")


def _decode_value(v: Any) -> Any:
    if v is None or isinstance(v, bool | str):
        return v
    if "array" in v:
        return decode_array(v["array"])
    if "int" in v:
        return int(v["int"])
    return decode_float(v["float"])


def encode_cma(cma: Any) -> dict[str, Any]:
    """Every attribute of a ``cmaes.CMA`` except its random generator (the engine samples
    with its own generator), including the eigen cache ``_B``, ``_D`` and the full ``C``
    (not the upper triangle that ``CMA.__getstate__`` keeps, which would lose the last bits of
    a ``C`` rebuilt from its eigen decomposition)."""
    return {k: _encode_value(v) for k, v in sorted(vars(cma).items()) if k != "_rng"}


def decode_cma(state: dict[str, Any], reference: Any) -> Any:
    """A ``cmaes.CMA`` with the attributes of ``state``.

    ``reference`` is a freshly built ``CMA`` of the same dimension and population: the
    snapshot must have exactly its attributes (else the snapshot comes from an incompatible
    ``cmaes`` version and an :class:`ArgumentError` says so).
    """
    expected = set(vars(reference)) - {"_rng"}
    if set(state) != expected:
        missing = sorted(expected - set(state))
        extra = sorted(set(state) - expected)
        raise ArgumentError(
            f"state['cma'] does not match this cmaes version's CMA (missing {missing}, "
            f"unexpected {extra}); restore with the cmaes version that wrote the state"
        )
    cma = object.__new__(type(reference))
    vars(cma).update({k: _decode_value(v) for k, v in state.items()})
    cma._rng = np.random.RandomState(0)  # never drawn from: the engine samples
    return cma


def encode_rng(rng: np.random.Generator) -> dict[str, Any]:
    """The bit generator's state with its integers as decimal strings (PCG64's are 128-bit,
    beyond what JSON readers other than Python's keep exactly)."""
    return _ints_to_str(rng.bit_generator.state)


def decode_rng(state: dict[str, Any]) -> np.random.Generator:
    """Inverse of :func:`encode_rng`."""
    st = _str_to_ints(state)
    name = st.get("bit_generator")
    if name != "PCG64":
        raise ArgumentError(
            f"state['rng']['bit_generator'] = {name!r}; expected 'PCG64' (the engine's generator)"
        )
    bg = np.random.PCG64()
    bg.state = st
    return np.random.Generator(bg)


def _ints_to_str(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _ints_to_str(x) for k, x in v.items()}
    if isinstance(v, bool):
        return v
    if isinstance(v, int | np.integer):
        return {"int": str(int(v))}
    return v


def _str_to_ints(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"int"}:
            return int(v["int"])
        return {k: _str_to_ints(x) for k, x in v.items()}
    return v

"""``read('file.tns')``: compile-time import of a sparse tensor in FROSTT format.

A FROSTT file has one non-zero per line: 1-based coordinates, then the value; ``#`` starts a
comment. For safety, files are only read from a directory the caller names explicitly
(``compile_model(text, read_dir=...)``), and the resolved path must stay inside it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ArgumentError

__all__ = ["load_frostt"]

_MAX_BYTES = 64 * 1024 * 1024


def _fail(path: str, why: str) -> ValueError:
    return ValueError(f"failed to import sparse tensor '{path}': {why}")


def resolve(path: str, read_dir: Path | None) -> Path:
    """Resolve ``path`` inside ``read_dir`` or raise ``ValueError`` saying why not."""
    if read_dir is None:
        raise ArgumentError(
            f"read('{path}') needs a directory to read from: pass read_dir=<directory> to "
            "compile_model (files are only read from a directory you name explicitly)"
        )
    if "\x00" in path:
        raise _fail(path, "the path contains a NUL character")
    base = Path(read_dir).resolve()
    target = (base / path).resolve()
    if Path(path).is_absolute() or not target.is_relative_to(base):
        raise _fail(path, f"the path must stay inside read_dir ({base})")
    if target.suffix != ".tns":
        raise _fail(path, "unsupported sparse tensor file extension (expected .tns)")
    return target


def load_frostt(
    path: str, shape: tuple[int, ...], read_dir: Path | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Read a ``.tns`` file into a dense array of ``shape`` and its non-zero mask.

    Raises
    ------
    ValueError
        With the reference's wording (``failed to import sparse tensor '<path>': ...``).
    """
    target = resolve(path, read_dir)
    try:
        if target.stat().st_size > _MAX_BYTES:
            raise _fail(path, f"file is larger than {_MAX_BYTES} bytes")
        text = target.read_text(encoding="ascii", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(
            path, f"failed to read sparse tensor file ({exc.__class__.__name__})"
        ) from None
    dense = np.zeros(shape, dtype=np.float64)
    mask = np.zeros(shape, dtype=bool)
    rank = len(shape)
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != rank + 1:
            raise _fail(path, f"line {lineno}: expected {rank + 1} fields, found {len(fields)}")
        try:
            coords = [int(f) for f in fields[:rank]]
        except ValueError:
            raise _fail(path, f"line {lineno}: invalid FROSTT coordinate") from None
        try:
            value = float(fields[rank])
        except ValueError:
            raise _fail(path, f"line {lineno}: invalid FROSTT value {fields[rank]!r}") from None
        if not math.isfinite(value):
            raise _fail(path, f"line {lineno}: invalid FROSTT value {fields[rank]!r}")
        if any(c < 1 for c in coords):
            raise _fail(path, f"line {lineno}: coordinates are 1-based")
        for axis, (c, n) in enumerate(zip(coords, shape, strict=True)):
            if c > n:
                raise _fail(path, f"line {lineno}: coordinate {c} outside axis {axis} of size {n}")
        idx = tuple(c - 1 for c in coords)
        if mask[idx]:
            raise _fail(path, f"line {lineno}: duplicate FROSTT coordinate {tuple(coords)}")
        dense[idx] = value
        mask[idx] = value != 0.0
    return dense, mask

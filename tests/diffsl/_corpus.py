"""Shared helpers for the DiffSL test modules (no conftest: import it as ``_corpus``).

* Where the shared corpus lives and how tests skip when it is absent.
* Loading ``models.json``, ``micro_tests.json`` and ``invalid.json`` as parametrize lists whose
  ids are the corpus ids, so a failure names the model.
* A process-wide cache of compiled models: every numba compile costs about a second, and the
  same text (a corpus model, a micro test) is used by several tests and modules. The cache also
  remembers compile *failures*, so a model that does not compile costs one attempt, not one per
  test.

The corpus (``../shared/diffsl_corpus``, see its README) holds values computed with the reference
implementation (pydiffsol 0.6.2 = diffsl 0.12.4, LLVM backend); tests that read it say so.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from diffid_plugins import DiffSLError

__all__ = [
    "CORPUS",
    "CORPUS_MISSING",
    "MICRO_SUFFIX",
    "SHARED",
    "case_params",
    "compiled",
    "compile_outcome",
    "load",
    "micro_text",
    "requires_corpus",
]

#: ``/work/shared`` next to the checkout: tests/diffsl/_corpus.py -> parents[2] is the repository.
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "diffsl_corpus"
CORPUS_MISSING = (
    f"the shared DiffSL corpus is not available at {CORPUS} "
    "(it lives next to the repository checkout, in ../shared/diffsl_corpus)"
)
requires_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)

#: Appended to every micro test fragment to make it a complete model (corpus README).
MICRO_SUFFIX = "u_i { y = 1, } F_i { y, } out_i { y, }"


@cache
def load(name: str) -> list[dict[str, Any]]:
    """Rows of ``<corpus>/<name>.json`` (models, micro_tests or invalid); [] if absent."""
    path = CORPUS / f"{name}.json"
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


def case_params(name: str, id_key: str = "id") -> list[Any]:
    """``pytest.param`` per corpus row, with the row's id; one skipped param if the file is absent.

    Keeping a (skipped) placeholder instead of an empty list makes the skip reason visible in
    the report rather than pytest's generic "got empty parameter set".
    """
    rows = load(name)
    if not rows:
        return [pytest.param(None, id=f"{name}-missing", marks=pytest.mark.skip(CORPUS_MISSING))]
    return [pytest.param(row, id=row[id_key]) for row in rows]


def micro_text(row: dict[str, Any]) -> str:
    """The complete model of a micro test: its fragment plus :data:`MICRO_SUFFIX`."""
    return f"{row['text']}\n{MICRO_SUFFIX}\n"


# ---------------------------------------------------------------- compiled-model cache

_CACHE: dict[tuple[str, str | None], Any] = {}


def compile_outcome(text: str, read_dir: str | Path | None = None) -> Any:
    """``compile_model(text)`` once per process: the model, or the exception it raised."""
    from diffid_plugins import compile_model

    key = (text, None if read_dir is None else str(read_dir))
    if key not in _CACHE:
        try:
            kwargs = {} if read_dir is None else {"read_dir": read_dir}
            _CACHE[key] = compile_model(text, **kwargs)
        except Exception as exc:  # remembered and re-raised by compiled()
            _CACHE[key] = exc
    return _CACHE[key]


def compiled(text: str, read_dir: str | Path | None = None) -> Any:
    """The compiled model for ``text`` (cached); a compile failure fails the calling test."""
    outcome = compile_outcome(text, read_dir)
    if isinstance(outcome, DiffSLError):
        pytest.fail(f"valid model rejected with DiffSLError:\n{outcome}\n--- model ---\n{text}")
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def as_array(values: Any) -> np.ndarray:
    """Corpus JSON numbers as a float64 array."""
    return np.asarray(values, dtype=np.float64)

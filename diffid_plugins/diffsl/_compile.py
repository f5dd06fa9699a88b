"""``compile_model``: the compiler pipeline, parse -> analyse -> generate -> load."""

from __future__ import annotations

import os
import types
from pathlib import Path

from diffid_plugins.diffsl._analysis import LoweredModel, analyse
from diffid_plugins.diffsl._codegen import GeneratedModel, MassNotLinear, generate
from diffid_plugins.diffsl._parser import parse
from diffid_plugins.diffsl.model import CompiledModel
from diffid_plugins.errors import Diagnostic, DiffSLError

__all__ = ["check_model", "compile_model"]

_MAX_TEXT = 10_000_000


def _front_end(
    text: str, read_dir: str | os.PathLike[str] | None
) -> tuple[LoweredModel, GeneratedModel]:
    from diffid_plugins import __version__

    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str holding DiffSL source, got {type(text).__name__}.")
    if len(text) > _MAX_TEXT:
        raise DiffSLError(
            [Diagnostic(f"the model text has {len(text)} characters; the limit is {_MAX_TEXT}")]
        )
    model = parse(text)
    rd = None if read_dir is None else Path(read_dir)
    try:
        lowered, diagnostics = analyse(text, model, rd)
    except RecursionError:
        raise DiffSLError(
            [Diagnostic("the model is nested too deeply to compile (simplify the expressions)")]
        ) from None
    if lowered is None:
        raise DiffSLError(diagnostics)
    try:
        generated = generate(lowered, __version__)
    except MassNotLinear as exc:
        raise DiffSLError([Diagnostic(str(exc))]) from None
    return lowered, generated


def check_model(text: str, *, read_dir: str | os.PathLike[str] | None = None) -> str:
    """Parse, analyse and generate code for a model without compiling it with numba.

    Returns the generated model source; raises :class:`DiffSLError` like
    :func:`compile_model`. Useful to validate models quickly (milliseconds).
    """
    return _front_end(text, read_dir)[1].source


def _templates() -> list[types.ModuleType]:
    try:
        from diffid_plugins.problem import _batch, _lanes
        from diffid_plugins.solvers import SOLVER_TEMPLATES
    except ImportError:  # solver layer not available: kernels only
        return []
    return [*SOLVER_TEMPLATES, _batch, _lanes]


def compile_model(text: str, *, read_dir: str | os.PathLike[str] | None = None) -> CompiledModel:
    """Compile DiffSL source to numba kernels.

    Parameters
    ----------
    text : str
        The model, in DiffSL (diffsl 0.8 to 0.12 syntax; see the language reference).
    read_dir : path-like, optional
        Directory that ``read('file.tns')`` imports are resolved in. Without it, a model
        that uses ``read()`` is rejected: files are only read from a directory you name.

    Returns
    -------
    CompiledModel
        Sizes, names and kernels of the model. The generated module is cached on disk
        (``DIFFID_PLUGINS_CACHE_DIR`` overrides the location), so compiling the same model in
        a new process is fast.

    Raises
    ------
    DiffSLError
        With every diagnostic (line, column, message, source context) when the model is
        invalid.

    Examples
    --------
    >>> from diffid_plugins import compile_model
    >>> m = compile_model("in_i { k = 2 } u { x = 1 } F { -k * x }")
    >>> m.rhs([2.0], 0.0, [1.0])
    array([-2.])
    """
    from diffid_plugins._codecache import load_source_module
    from diffid_plugins._templates import assemble

    lowered, generated = _front_end(text, read_dir)
    full = assemble(generated.source, _templates())
    module = load_source_module(full, prefix="model")
    rd = None if read_dir is None else os.path.abspath(read_dir)
    return CompiledModel(
        text, generated, module, lowered.input_names, lowered.default_inputs, read_dir=rd
    )

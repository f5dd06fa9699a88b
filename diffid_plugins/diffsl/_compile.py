"""``compile_model``: the compiler pipeline, parse -> analyse -> generate -> load."""

from __future__ import annotations

import os
from pathlib import Path

from diffid_plugins.diffsl._analysis import LoweredModel, analyse
from diffid_plugins.diffsl._codegen import GeneratedModel, generate
from diffid_plugins.diffsl._parser import parse
from diffid_plugins.diffsl.model import CompiledModel
from diffid_plugins.errors import ArgumentTypeError, Diagnostic, DiffSLError

__all__ = ["check_model", "compile_model_kernels"]

_MAX_TEXT = 10_000_000


def _front_end(
    text: str, read_dir: str | os.PathLike[str] | None
) -> tuple[LoweredModel, GeneratedModel]:
    from diffid_plugins import __version__

    if not isinstance(text, str):
        raise ArgumentTypeError(
            f"`text` must be a str holding DiffSL source, got {type(text).__name__}."
        )
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
    return lowered, generate(lowered, __version__)


def check_model(text: str, *, read_dir: str | os.PathLike[str] | None = None) -> str:
    """Parse, analyse and generate code for a model without compiling it with numba.

    Returns the generated model source; raises :class:`DiffSLError` like
    :func:`compile_model`. Useful to validate models quickly (milliseconds).
    """
    return _front_end(text, read_dir)[1].source


def compile_model_kernels(
    text: str, *, read_dir: str | os.PathLike[str] | None = None
) -> CompiledModel:
    """Compile DiffSL source to the model's own numba kernels (no solver).

    This is the compiler's whole output: the generated module (sizes, flags and the kernels
    of ``docs/kernel-contract.md``), loaded from the on-disk cache. The solvers are attached
    by the layer above (:func:`diffid_plugins.compile_model`), which is what users call.

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
        Sizes, names and kernels of the model; ``kernels`` is ``None`` until attached.

    Raises
    ------
    DiffSLError
        With every diagnostic (line, column, message, source context) when the model is
        invalid.
    """
    from diffid_plugins._codecache import load_source_module

    lowered, generated = _front_end(text, read_dir)
    module = load_source_module(generated.source, prefix="model")
    rd = None if read_dir is None else os.path.abspath(read_dir)
    return CompiledModel(
        text, generated, module, lowered.input_names, lowered.default_inputs, read_dir=rd
    )

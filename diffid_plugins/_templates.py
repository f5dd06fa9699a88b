"""Turn template modules into text that is pasted into a generated model module.

A *template module* is an ordinary, importable Python module whose ``@njit(cache=True)``
functions call the model through module-level names (``rhs``, ``jac``, ``N_STATES``, ...).
It imports those placeholder names in a top-level import statement marked with the comment
``# model-bindings``; :func:`template_source` drops that statement (and any ``from __future__``
import), so that in the generated file the names resolve to the generated model's own
definitions. :func:`assemble` joins a model source and several templates into one module
source, ready for :func:`diffid_plugins._codecache.load_source_module`. See
``docs/kernel-contract.md`` for the reasons and the names a model defines.
"""

from __future__ import annotations

import ast
import inspect
import io
import threading
import tokenize
import types
from collections.abc import Sequence

__all__ = ["BINDINGS_MARKER", "assemble", "template_source"]

BINDINGS_MARKER = "# model-bindings"
"""Comment that marks the import of the model bindings in a template module."""


_LOCK = threading.Lock()
#: module name -> (module text, stripped text): each template is parsed once per process.
_CACHE: dict[str, tuple[str, str]] = {}


def _module_text(module: types.ModuleType) -> str:
    """The source text of ``module``."""
    try:
        return inspect.getsource(module)
    except (OSError, TypeError) as exc:
        raise ValueError(
            f"cannot read the source of template module {module.__name__!r} ({exc}); a "
            f"template must be a module with a Python source file."
        ) from exc


def _is_marker_comment(comment: str) -> bool:
    """Whether a comment is, or chains, the marker (``# model-bindings  # noqa: E501``)."""
    marker = BINDINGS_MARKER.lstrip("#").strip()
    return any(part.strip() == marker for part in comment.split("#"))


def _marker_lines(text: str) -> list[int]:
    """1-based numbers of the lines that carry the bindings marker comment."""
    return [
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type == tokenize.COMMENT and _is_marker_comment(token.string)
    ]


def template_source(module: types.ModuleType) -> str:
    """Return the text of a template module without its model-bindings import.

    Parameters
    ----------
    module : types.ModuleType
        An imported template module. It must contain at least one top-level import of the
        model names that carries the comment ``# model-bindings``, normally on one line:
        ``from diffid_plugins.solvers._bindings import N_STATES, rhs  # model-bindings``.
        The marker may share its comment with others (``# model-bindings  # noqa: E501``),
        and the parenthesised multi-line form that ``ruff format`` makes of a long import,
        with the marker on any of its lines, is removed whole.

    Returns
    -------
    str
        The module's source without those import statements and without ``from __future__
        import ...`` statements; all other lines, including blank lines and comments, are
        kept, so line structure stays readable in the generated file.

    Raises
    ------
    ValueError
        If the module's source cannot be read, has no ``# model-bindings`` comment, or a
        marker comment is not on a top-level import statement.
    """
    name = module.__name__
    text = _module_text(module)
    # ast.parse is not thread-safe in CPython 3.11 ("AST constructor recursion depth
    # mismatch" when two threads parse at once), and the text of a module does not change
    # while the process runs: parse each template once, under a lock.
    with _LOCK:
        cached = _CACHE.get(name)
        if cached is not None and cached[0] == text:
            return cached[1]
        tree = ast.parse(text)
        result = _strip(name, text, tree)
        _CACHE[name] = (text, result)
        return result


def _strip(name: str, text: str, tree: ast.Module) -> str:
    """The template text without its model-bindings and ``__future__`` imports."""
    markers = _marker_lines(text)
    drop: set[int] = set()
    for node in tree.body:
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        span = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if is_future or any(line in span for line in markers):
            drop.update(span)
    if not markers:
        raise ValueError(
            f"template module {name!r} has no {BINDINGS_MARKER!r} comment; a template must "
            f"import the model names it calls on one line such as "
            f"`from diffid_plugins.solvers._bindings import N_STATES, rhs  {BINDINGS_MARKER}`."
        )
    stray = [line for line in markers if line not in drop]
    if stray:
        raise ValueError(
            f"line {stray[0]} of template module {name!r} has the {BINDINGS_MARKER!r} "
            f"comment but is not part of a top-level import statement; put the marker only "
            f"on the line that imports the model names."
        )
    lines = text.splitlines(keepends=True)
    kept = "".join(line for number, line in enumerate(lines, start=1) if number not in drop)
    return kept if kept.endswith("\n") else kept + "\n"


def _header(title: str) -> str:
    """A comment line that separates the parts of an assembled module."""
    return f"# {'-' * 20} {title} {'-' * max(3, 74 - len(title))}\n"


def assemble(model_source: str, templates: Sequence[types.ModuleType]) -> str:
    """Join a generated model and the texts of template modules into one module source.

    Parameters
    ----------
    model_source : str
        Generated Python source that defines the model bindings (see
        ``docs/kernel-contract.md``).
    templates : sequence of types.ModuleType
        Template modules, included in this order after the model with
        :func:`template_source`.

    Returns
    -------
    str
        The module source: a header comment, then each part preceded by a comment that names
        it (``model`` or the template module's name).

    Raises
    ------
    ValueError
        If a template is not a valid template module (see :func:`template_source`).
    """
    parts = ["# Generated by diffid_plugins. Do not edit: this file is rewritten when needed.\n"]
    body = model_source if model_source.endswith("\n") else model_source + "\n"
    parts += ["\n", _header("model"), body]
    for module in templates:
        parts += ["\n\n", _header(f"template {module.__name__}"), template_source(module)]
    return "".join(parts)

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

from diffid_plugins.errors import ArgumentError

__all__ = [
    "BINDINGS_MARKER",
    "KERNEL_NAMES",
    "VALUE_NAMES",
    "assemble",
    "exec_template",
    "generic_source",
    "template_source",
]

BINDINGS_MARKER = "# model-bindings"
"""Comment that marks the import of the model bindings in a template module."""


_LOCK = threading.RLock()
#: module name -> (module text, stripped text): each template is parsed once per process.
_CACHE: dict[str, tuple[str, str]] = {}


def _module_text(module: types.ModuleType) -> str:
    """The source text of ``module``."""
    try:
        return inspect.getsource(module)
    except (OSError, TypeError) as exc:
        raise ArgumentError(
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


def template_source(module: types.ModuleType, *, bindings: bool = True) -> str:
    """Return the text of a template module without its model-bindings import.

    Parameters
    ----------
    module : types.ModuleType
        An imported template module. It must contain at least one top-level import of the
        model names that carries the comment ``# model-bindings``, normally on one line:
        ``from diffid_plugins.solvers._bindings import N_STATES, rhs  # model-bindings``.
        A module that uses no model name (a tier's bindings prelude) passes
        ``bindings=False`` and needs no marker.
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
        result = _strip(name, text, tree, bindings)
        _CACHE[name] = (text, result)
        return result


def _strip(name: str, text: str, tree: ast.Module, bindings: bool) -> str:
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
    if not markers and bindings:
        raise ArgumentError(
            f"template module {name!r} has no {BINDINGS_MARKER!r} comment; a template must "
            f"import the model names it calls on one line such as "
            f"`from diffid_plugins.solvers._bindings import N_STATES, rhs  {BINDINGS_MARKER}`."
        )
    stray = [line for line in markers if line not in drop]
    if stray:
        raise ArgumentError(
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


# --- the generic tier ------------------------------------------------------------------------
KERNEL_NAMES = frozenset({"prepare", "u0", "rhs", "jac", "mass", "out", "stop", "reset"})
"""Model kernels a template may call (``docs/kernel-contract.md``)."""

VALUE_NAMES = frozenset(
    {
        "N_STATES",
        "N_INPUTS",
        "N_OUTPUTS",
        "N_STOP",
        "N_WORK",
        "HAS_MASS",
        "MASS_TIME_DEPENDENT",
        "HAS_RESET",
        "RHS_DEPENDS_ON_T",
        "SOLVER_HAS_STIFF",
        "ALGEBRAIC",
        "ALGEBRAIC_INDEX",
        "DIFFERENTIAL_INDEX",
    }
)
"""Model sizes, flags and index arrays a template may read (inside its kernels only)."""

_MD = "md"


def _is_njit(node: ast.FunctionDef) -> bool:
    """Whether a function is decorated with ``@njit`` or ``@njit(...)``."""
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name) and target.id == "njit":
            return True
    return False


class _Genericise(ast.NodeTransformer):
    """Rewrite a template for the generic tier (see :func:`generic_source`)."""

    def __init__(
        self, module: str, kernels: frozenset[str], slots: dict[str, int], flags: frozenset[str]
    ) -> None:
        self.module = module
        self.kernels = kernels
        self.slots = slots
        self.flags = flags
        self.depth = 0

    def _fail(self, node: ast.AST, what: str) -> ValueError:
        line = getattr(node, "lineno", "?")
        return ValueError(
            f"template {self.module!r}, line {line}: {what}; templates use the model names "
            f"only inside @njit functions, as calls `rhs(...)` and values `N_STATES` (see "
            f"docs/kernel-contract.md)."
        )

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:  # noqa: N802
        if not _is_njit(node):
            return node  # plain Python helpers and intrinsics run at import, untouched
        if self.depth:
            raise self._fail(node, "nested @njit functions are not supported")
        names = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        clash = names & (KERNEL_NAMES | VALUE_NAMES | {_MD})
        if clash:
            raise self._fail(node, f"parameter {sorted(clash)[0]!r} shadows a model name")
        node.args.args.insert(0, ast.arg(arg=_MD))
        if not _is_parallel(node):
            # md = _g_borrowed(md): md is an argument (the caller keeps it alive), so copies of
            # it (one per inlined helper call) need no reference counting (solvers/_views.py).
            first = 1 if ast.get_docstring(node, clean=False) is not None else 0
            node.body.insert(first, _borrow_md())
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:  # noqa: N802
        func = node.func
        if isinstance(func, ast.Name) and (func.id in KERNEL_NAMES or func.id in self.kernels):
            if not self.depth:
                raise self._fail(node, f"call of {func.id!r} at module level")
            node.args = [self.visit(a) for a in node.args]
            node.keywords = [self.visit(k) for k in node.keywords]
            if func.id in KERNEL_NAMES:
                # rhs(...) -> _g_fn(_G_RHS_T, md[slot])(...): one indirect call, no wrapper
                pointer = ast.Call(
                    func=ast.Name(id="_g_fn", ctx=ast.Load()),
                    args=[
                        ast.Name(id=f"_G_{func.id.upper()}_T", ctx=ast.Load()),
                        _md_item(self.slots[func.id]),
                    ],
                    keywords=[],
                )
                node.func = ast.copy_location(pointer, func)
            else:
                node.args.insert(0, ast.Name(id=_MD, ctx=ast.Load()))
            return node
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802
        if node.id in VALUE_NAMES or node.id in KERNEL_NAMES:
            if not isinstance(node.ctx, ast.Load):
                raise self._fail(node, f"assignment to the model name {node.id!r}")
            if node.id in KERNEL_NAMES or not self.depth:
                raise self._fail(node, f"use of {node.id!r} outside a call in a kernel")
            if node.id in self.slots:  # sizes: md[i]; flags: (md[i] != 0)
                value: ast.expr = _md_item(self.slots[node.id])
                if node.id in self.flags:
                    value = ast.Compare(left=value, ops=[ast.NotEq()], comparators=[_const(0)])
            else:  # index arrays: a slice of md, computed by a prelude function
                value = ast.Call(
                    func=ast.Name(id=f"_g_{node.id}", ctx=ast.Load()),
                    args=[ast.Name(id=_MD, ctx=ast.Load())],
                    keywords=[],
                )
            return ast.copy_location(value, node)
        return node


def _is_parallel(node: ast.FunctionDef) -> bool:
    """Whether a function is decorated with ``@njit(..., parallel=True)`` (its ``prange``
    body becomes a gufunc that gets ``md`` as an argument of its own)."""
    return any(
        isinstance(dec, ast.Call)
        and any(
            k.arg == "parallel" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in dec.keywords
        )
        for dec in node.decorator_list
    )


def _borrow_md() -> ast.Assign:
    """The statement ``md = _g_borrowed(md)``."""
    call = ast.Call(
        func=ast.Name(id="_g_borrowed", ctx=ast.Load()),
        args=[ast.Name(id=_MD, ctx=ast.Load())],
        keywords=[],
    )
    return ast.Assign(targets=[ast.Name(id=_MD, ctx=ast.Store())], value=call)


def _const(value: int) -> ast.Constant:
    return ast.Constant(value=value)


def _md_item(index: int) -> ast.Subscript:
    """The expression ``md[index]``."""
    return ast.Subscript(
        value=ast.Name(id=_MD, ctx=ast.Load()), slice=_const(index), ctx=ast.Load()
    )


def _njit_functions(tree: ast.Module) -> set[str]:
    """Names of the module-level ``@njit`` functions of a template."""
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef) and _is_njit(node)
    }


def generic_source(
    prelude: types.ModuleType,
    templates: Sequence[types.ModuleType],
    slots: dict[str, int],
    flags: frozenset[str],
) -> str:
    """The source of the generic-tier module: ``prelude`` and the rewritten templates.

    In the generic tier the model is not a set of module globals but a run-time argument: the
    model descriptor ``md`` (``solvers/_abi.py``). Each template's text (as
    :func:`template_source` returns it) is rewritten so that

    * every ``@njit`` function of the templates takes ``md`` as its first parameter, and every
      call of one passes it on;
    * a call of a model kernel ``rhs(t, y, w, dy)`` becomes an indirect call through the
      address in the descriptor, ``_g_fn(_G_RHS_T, md[slot])(t, y, w, dy)``;
    * a size such as ``N_STATES`` becomes ``md[slot]``, a flag such as ``HAS_MASS`` becomes
      ``(md[slot] != 0)``, and an index array such as ``ALGEBRAIC`` becomes
      ``_g_ALGEBRAIC(md)``.

    No wrapper function and no IR inlining is involved (both cost compile time). ``_g_fn``,
    the ``_G_<KERNEL>_T`` function types and the ``_g_<ARRAY>`` functions come from
    ``prelude`` (``solvers/_generic.py``), included first, unchanged. The arithmetic of the
    templates is untouched, so both tiers compute the same numbers in the same order.
    Comments are not kept (the text is produced by :func:`ast.unparse`).

    Parameters
    ----------
    prelude : types.ModuleType
        Template module that defines the ``_g_*`` bindings.
    templates : sequence of types.ModuleType
        Template modules, in dependency order.
    slots : dict of str to int
        Descriptor index of each kernel (its address) and of each size and flag.
    flags : frozenset of str
        The names in ``slots`` that are booleans.

    Returns
    -------
    str
        Module source for :func:`diffid_plugins._codecache.load_source_module`.

    Raises
    ------
    ValueError
        If a template uses a model name where it cannot be rewritten (at module level, as a
        value that is not called, or shadowed by a parameter).
    """
    trees = []
    with _LOCK:
        for module in templates:
            trees.append((module.__name__, ast.parse(template_source(module))))
    kernels = frozenset().union(*(_njit_functions(tree) for _, tree in trees))
    parts = [
        "# Generated by diffid_plugins (generic solver tier). Do not edit: this file is "
        "rewritten when needed.\n",
        "\n",
        _header(f"bindings {prelude.__name__}"),
        template_source(prelude, bindings=False),
    ]
    for name, tree in trees:
        rewriter = _Genericise(name, kernels, dict(slots), frozenset(flags))
        rewritten = ast.fix_missing_locations(rewriter.visit(tree))
        parts += ["\n\n", _header(f"template {name} (generic)"), ast.unparse(rewritten), "\n"]
    return "".join(parts)


def exec_template(text: str, name: str, namespace: dict[str, object]) -> None:
    """Execute template text in an in-memory namespace (models bound at run time).

    Such a namespace has no source file, so numba cannot cache its functions: the one
    decorator option that differs from the on-disk tiers, ``cache=True``, is switched off
    here (the only place that edits template text besides :func:`generic_source`).

    Parameters
    ----------
    text : str
        Template text, as :func:`template_source` returns it.
    name : str
        The template module's name (shown in tracebacks).
    namespace : dict
        Globals holding the model bindings; the template's functions are added to it.
    """
    text = text.replace("cache=True", "cache=False")
    exec(compile(text, f"<diffid_plugins template {name}>", "exec"), namespace)

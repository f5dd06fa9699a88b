"""Import direction between the package's layers (``../shared/docs/architecture.md``).

Every ``import`` statement of every module, at any depth (function-level imports count: a
lazy upward import is still an upward dependency), is read with :mod:`ast` and checked
against the layer order. A lower layer never imports a higher one:

* the compiler (``diffsl``) imports no solver, problem or assembly code;
* the solvers (``solvers``) never import ``problem`` or ``diffsl``;
* the algorithms (``parallel``, and ``optim``/``nested`` when they exist) never import the
  ODE stack (``diffsl``, ``solvers``, ``problem``) nor the assembly;
* nothing imports an adapter (``pymoo``, ``optuna``, ``diffid``) except the adapters.

Kernel assembly (``_kernels``, ``_warm``) sits above ``diffsl``, ``solvers`` and ``problem``,
and only the package root, the command line and the adapters import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "diffid_plugins"

#: Layer of a module (its first package component below ``diffid_plugins``; top-level modules
#: by their own name) -> the layers it must not import.
_ODE_STACK = {"diffsl", "solvers", "problem"}
_ASSEMBLY = {"_kernels", "_warm"}
_ADAPTERS = {"pymoo", "optuna", "diffid"}
FORBIDDEN: dict[str, set[str]] = {
    "diffsl": {"solvers", "problem", "parallel", "cli"} | _ASSEMBLY | _ADAPTERS,
    "solvers": {"diffsl", "problem", "parallel", "cli"} | _ASSEMBLY | _ADAPTERS,
    "problem": {"diffsl", "cli"} | _ASSEMBLY | _ADAPTERS,
    "parallel": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"cli"},
    "optim": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"cli"},
    "nested": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"cli"},
    "_status_codes": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "cli", "errors"},
    "errors": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "cli"},
    "_codecache": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "cli"},
    "_templates": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "cli"},
    "examples": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "cli"},
    "_kernels": _ADAPTERS | {"cli"},
}


def _layer(module: str) -> str | None:
    """``diffid_plugins.solvers._erk`` -> ``solvers``; ``diffid_plugins`` -> None."""
    parts = module.split(".")
    if parts[0] != "diffid_plugins" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import statement in a file, at any depth."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from diffid_plugins import solvers` names a layer in the alias
            if target == "diffid_plugins":
                found += [(node.lineno, f"diffid_plugins.{a.name}") for a in node.names]
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(_module_name(path))
        forbidden = FORBIDDEN.get(layer or "", set())
        for line, target in _imports(path):
            target_layer = _layer(target)
            if target_layer in forbidden:
                rel = path.relative_to(PACKAGE.parent)
                bad.append(f"{rel}:{line}: layer {layer!r} imports {target} ({target_layer!r})")
    return bad


def test_lower_layers_never_import_higher_ones() -> None:
    violations = _violations()
    assert not violations, "upward imports:\n" + "\n".join(violations)


@pytest.mark.parametrize(
    ("layer", "target"),
    [("diffsl", "diffid_plugins.solvers._driver"), ("solvers", "diffid_plugins.problem")],
)
def test_the_checker_sees_an_upward_import(layer: str, target: str, tmp_path: Path) -> None:
    """The rule table really forbids the edges the architecture names."""
    assert _layer(target) in FORBIDDEN[layer]


def test_every_layer_has_a_rule() -> None:
    """A new top-level module or package must be placed in the layer table."""
    layers = {_layer(_module_name(p)) for p in PACKAGE.rglob("*.py")} - {None}
    allowed_unruled = {"cli", "__main__", "_warm", "_generated"}
    assert layers - set(FORBIDDEN) - allowed_unruled == set(), layers - set(FORBIDDEN)

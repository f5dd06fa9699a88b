"""Import direction between the package's layers (``../shared/docs/architecture.md``).

Every ``import`` statement of every module, at any depth (function-level imports count: a
lazy upward import is still an upward dependency), is read with :mod:`ast` and checked
against the layer order. A lower layer never imports a higher one:

* the compiler (``diffsl``) imports no solver, problem or assembly code;
* the solvers (``solvers``) never import ``problem`` or ``diffsl``;
* the algorithms (``parallel``, and ``optim``/``nested`` when they exist) never import the
  ODE stack (``diffsl``, ``solvers``, ``problem``) nor the assembly;
* nothing imports an adapter (``pymoo``, ``optuna``, ``diffid``) except the adapters;
* the algorithms (``parallel``, ``optim``, ``nested``) never import the host libraries the
  adapters wrap (the third-party ``optuna``, ``pymoo``, ``dask``/``distributed``): they work
  on any batch function, and the adapters sit on top of them;
* the pymoo and Optuna adapters use the problem layer only (no compiler, solvers or kernel
  assembly) and not each other.

Kernel assembly (``_kernels``, ``_warm``) sits above ``diffsl``, ``solvers`` and ``problem``,
and only the package root, the command line and the adapters import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

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
    # the lazy-export helper of the package __init__ files sits below every layer
    "_lazy": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "optim", "nested", "errors", "cli"},
    "_templates": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "cli"},
    "examples": _ODE_STACK | _ASSEMBLY | _ADAPTERS | {"parallel", "cli"},
    "_kernels": _ADAPTERS | {"cli"},
    # adapters sit on the problem layer's protocols; they never reach into the compiler, the
    # solvers or the kernel assembly, nor import another adapter
    "optuna": {"diffsl", "solvers", "pymoo", "diffid", "cli"} | _ASSEMBLY,
    "pymoo": {"diffsl", "solvers", "optuna", "diffid", "cli"} | _ASSEMBLY,
}

#: Layer -> third-party top-level packages it must not import (at any depth).
_HOSTS = {"optuna", "pymoo", "dask", "distributed"}
FORBIDDEN_EXTERNAL: dict[str, set[str]] = {
    "parallel": _HOSTS,
    "optim": _HOSTS,
    "nested": _HOSTS,
}


def _layer(module: str) -> str | None:
    """``diffid_plugins.solvers._erk`` -> ``solvers``; ``diffid_plugins`` -> None."""
    parts = module.split(".")
    if parts[0] != "diffid_plugins" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import statement in a file, at any depth."""
    module = _module_name(path, root)
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


def _violations(package: Path = PACKAGE) -> list[str]:
    """Upward imports of every module below ``package`` (a ``diffid_plugins`` directory)."""
    root = package.parent
    bad = []
    for path in sorted(package.rglob("*.py")):
        layer = _layer(_module_name(path, root))
        forbidden = FORBIDDEN.get(layer or "", set())
        external = FORBIDDEN_EXTERNAL.get(layer or "", set())
        for line, target in _imports(path, root):
            target_layer = _layer(target)
            rel = path.relative_to(root)
            if target_layer in forbidden:
                bad.append(f"{rel}:{line}: layer {layer!r} imports {target} ({target_layer!r})")
            elif target.split(".")[0] in external:
                bad.append(f"{rel}:{line}: layer {layer!r} imports the host library {target}")
    return bad


def test_lower_layers_never_import_higher_ones() -> None:
    violations = _violations()
    assert not violations, "upward imports:\n" + "\n".join(violations)


def test_the_checker_finds_upward_imports_at_any_depth(tmp_path: Path) -> None:
    """The checker run on a small fake package: a lazy (function-level) import of the solvers
    from the compiler, a relative import of the problem layer from the solvers and an alias
    import of the ODE stack from ``parallel`` are all reported; a downward import is not."""
    package = tmp_path / "diffid_plugins"
    for sub in ("diffsl", "solvers", "parallel"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "diffsl" / "_lazy.py").write_text(
        "def f():\n    from diffid_plugins.solvers._driver import solve_kernel\n"
    )
    (package / "solvers" / "_rel.py").write_text("from ..problem import _batch\n")
    (package / "solvers" / "_ok.py").write_text("from diffid_plugins import errors\n")
    (package / "parallel" / "_alias.py").write_text("from diffid_plugins import diffsl\n")
    found = _violations(package)
    assert len(found) == 3, found
    assert "diffsl/_lazy.py:2: layer 'diffsl' imports diffid_plugins.solvers._driver" in found[0]
    assert "parallel/_alias.py:1: layer 'parallel' imports diffid_plugins.diffsl" in found[1]
    assert "solvers/_rel.py:1: layer 'solvers' imports diffid_plugins.problem" in found[2]


def test_every_layer_has_a_rule() -> None:
    """A new top-level module or package must be placed in the layer table."""
    layers = {_layer(_module_name(p)) for p in PACKAGE.rglob("*.py")} - {None}
    allowed_unruled = {"cli", "__main__", "_warm", "_generated"}
    assert layers - set(FORBIDDEN) - allowed_unruled == set(), layers - set(FORBIDDEN)


def test_the_checker_finds_host_libraries_in_the_algorithm_layers(tmp_path: Path) -> None:
    """``optim`` importing the ODE stack, Optuna (lazily) or pymoo is reported; its own lazy
    ``cmaes`` and numpy imports are not."""
    package = tmp_path / "diffid_plugins"
    (package / "optim").mkdir(parents=True)
    (package / "optim" / "__init__.py").write_text("")
    (package / "optim" / "_hosts.py").write_text(
        "import numpy as np\n"
        "def f():\n    import cmaes\n    import optuna.samplers\n"
        "from pymoo.core.problem import Problem\n"
        "from ..problem import Problem as P\n"
    )
    found = sorted(v.split("diffid_plugins/", 1)[1] for v in _violations(package))
    assert found == [
        "optim/_hosts.py:4: layer 'optim' imports the host library optuna.samplers",
        "optim/_hosts.py:5: layer 'optim' imports the host library pymoo.core.problem",
        "optim/_hosts.py:6: layer 'optim' imports diffid_plugins.problem ('problem')",
    ]

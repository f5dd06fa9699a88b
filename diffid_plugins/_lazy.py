"""Lazy public names of a package: module ``__getattr__`` / ``__dir__`` (PEP 562).

A package lists ``{name: module}`` and exports them without importing the modules (numba,
optuna, ... load on first use)::

    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

The first access imports the module and caches the value in the package's namespace, so later
accesses are plain attribute lookups. Imports nothing itself (any layer may use it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: dict[str, Any], table: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names ``table`` maps to modules."""

    def __getattr__(name: str) -> Any:  # noqa: N807
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__

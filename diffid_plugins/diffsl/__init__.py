"""DiffSL text -> :class:`CompiledModel` (numba kernels).

Pipeline: :func:`parse` (lark grammar, AST with spans) -> analysis (names, shapes, layouts,
special tensors; all errors collected) -> scalar expression graph (constant folding, exact
derivatives) -> Python source -> numba, cached on disk.
"""

from __future__ import annotations

from diffid_plugins.diffsl._compile import check_model, compile_model
from diffid_plugins.diffsl._parser import parse
from diffid_plugins.diffsl.model import CompiledModel

__all__ = ["CompiledModel", "check_model", "compile_model", "parse"]

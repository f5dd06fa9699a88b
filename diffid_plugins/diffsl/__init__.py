"""DiffSL text -> :class:`CompiledModel` (numba kernels).

Pipeline: :func:`parse` (lark grammar, AST with spans) -> analysis (names, shapes, layouts,
special tensors; all errors collected) -> scalar expression graph (constant folding, exact
derivatives) -> Python source of the model's kernels -> numba, cached on disk. The solvers
are attached above this package (:func:`diffid_plugins.compile_model`).
"""

from __future__ import annotations

from diffid_plugins.diffsl._compile import check_model, compile_model_kernels
from diffid_plugins.diffsl._parser import parse
from diffid_plugins.diffsl.model import CompiledModel

__all__ = ["CompiledModel", "check_model", "compile_model_kernels", "parse"]

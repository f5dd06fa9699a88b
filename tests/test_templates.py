"""Tests of template modules (``diffid_plugins._templates``), end to end with the code cache."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import uuid
from pathlib import Path

import numpy as np
import pytest

from diffid_plugins._codecache import CACHE_DIR_ENV, load_source_module
from diffid_plugins._templates import BINDINGS_MARKER, assemble, template_source

TESTS_DIR = Path(__file__).parent

# dy/dt = -k y, stored as the first input w[0] = k.
MODEL_SOURCE = """\
from __future__ import annotations

import numpy as np
from numba import njit

N_STATES = 1


@njit(cache=True)
def rhs(t, y, w, dy):
    dy[0] = -w[0] * y[0]
"""


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache at a fresh temporary directory for each test."""
    root = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(root))
    return root


@pytest.fixture
def tpl_example(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The template fixture module ``tests/_fixtures/tpl_example.py``."""
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    return importlib.import_module("_fixtures.tpl_example")


def module_from_text(tmp_path: Path, text: str) -> types.ModuleType:
    """Import ``text`` from a file in ``tmp_path`` as a throwaway module."""
    name = f"tpl_{uuid.uuid4().hex}"
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_template_source_drops_bindings_and_future_lines(tpl_example: types.ModuleType) -> None:
    original = Path(tpl_example.__file__ or "").read_text(encoding="utf-8")
    text = template_source(tpl_example)
    assert not [line for line in text.splitlines() if line.endswith(BINDINGS_MARKER)]
    assert "__future__" not in text
    assert "stub_bindings" not in text
    assert "def tpl_euler(" in text and "from numba import njit" in text
    assert len(text.splitlines()) == len(original.splitlines()) - 2


def test_template_without_marker_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    stub = importlib.import_module("_fixtures.stub_bindings")
    with pytest.raises(ValueError, match=f"has no '{BINDINGS_MARKER}' comment"):
        template_source(stub)


def test_multiline_bindings_import_is_removed_whole(tmp_path: Path) -> None:
    # The form ruff's import sorter produces when it merges two marked lines.
    module = module_from_text(
        tmp_path,
        "from __future__ import annotations\n"
        "\n"
        "from math import (  # model-bindings\n"
        "    e,\n"
        "    pi,\n"
        ")\n"
        "from os import sep  # model-bindings  # noqa: E501\n"
        "from sys import path  # noqa: F401  # model-bindings\n"
        "\n"
        "TAU = 2 * pi + 0 * e\n",
    )
    assert template_source(module) == "\n\nTAU = 2 * pi + 0 * e\n"


def test_marker_outside_a_top_level_import_is_rejected(tmp_path: Path) -> None:
    module = module_from_text(
        tmp_path,
        "import sys\n\nif sys:\n    from math import pi  # model-bindings\n",
    )
    with pytest.raises(ValueError, match="line 4 .* not part of a top-level import"):
        template_source(module)


def test_marker_inside_a_string_does_not_count(tmp_path: Path) -> None:
    module = module_from_text(
        tmp_path, 'TEXT = """\nx  # model-bindings\n"""  # not model-bindings docs\n'
    )
    with pytest.raises(ValueError, match="has no"):
        template_source(module)


def test_assemble_then_load_runs_the_template_on_the_model(
    tpl_example: types.ModuleType,
) -> None:
    model = f"# model {uuid.uuid4().hex}\n{MODEL_SOURCE}"
    source = assemble(model, [tpl_example])
    assert (
        source.index("-- model --")
        < source.index(model)
        < source.index("-- template _fixtures.tpl_example --")
    )
    assert template_source(tpl_example) in source
    compile(source, "<assembled>", "exec", dont_inherit=True)  # __future__ stays first

    generated = load_source_module(source, prefix="tpltest")
    assert "_fixtures.stub_bindings" not in generated.__dict__.get("__name__", "")
    y0, w = np.array([2.0]), np.array([0.5])
    n_steps = 100
    y1 = generated.tpl_euler(0.0, 1.0, n_steps, y0, w)
    # Explicit Euler on y' = -k y: y_n = y_0 (1 - h k)^n exactly (up to rounding).
    expected = 2.0 * (1.0 - 0.5 / n_steps) ** n_steps
    np.testing.assert_allclose(y1, [expected], rtol=1e-13)
    np.testing.assert_array_equal(y0, [2.0])  # input not mutated
    # The template's `rhs` is the model's function, not the placeholder.
    py_func = getattr(generated.tpl_euler, "py_func", generated.tpl_euler)
    assert py_func.__globals__["rhs"] is generated.rhs
    assert sys.modules[generated.__name__] is generated


def test_template_source_is_thread_safe() -> None:
    """Regression: two threads compiling models at once raised ``SystemError: AST constructor
    recursion depth mismatch`` (CPython 3.11's ``ast.parse`` is not thread-safe). Templates
    are now parsed once per process under a lock; 8 threads x 5 calls must all agree."""
    import threading

    from diffid_plugins import _templates
    from diffid_plugins.solvers import SOLVER_TEMPLATES

    _templates._CACHE.clear()
    expected = [_templates.template_source(m) for m in SOLVER_TEMPLATES]
    _templates._CACHE.clear()
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append([_templates.template_source(m) for m in SOLVER_TEMPLATES])
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 40 and all(r == expected for r in results)


def test_every_template_kernel_uses_numpys_error_model() -> None:
    """One decorator policy (docs/kernel-contract.md): every ``@njit`` function of every
    template module sets ``error_model="numpy"`` (a division by zero gives inf/NaN and a
    failure status, never a ZeroDivisionError inside a batch) and ``cache=True``."""
    import ast
    import inspect

    from diffid_plugins._kernels import TEMPLATES
    from diffid_plugins.solvers import _generic, _specialised

    missing = []
    for module in (*TEMPLATES, _generic, _specialised):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and getattr(dec.func, "id", "") == "njit":
                    options = {k.arg: getattr(k.value, "value", None) for k in dec.keywords}
                    if options.get("error_model") != "numpy" or options.get("cache") is not True:
                        missing.append(f"{module.__name__}.{node.name}")
    assert not missing, missing

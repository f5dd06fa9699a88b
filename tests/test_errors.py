"""The package keeps its two promises about failures, checked on the source and at run time.

1. Errors: every exception the package raises on purpose derives from ``DiffidError``
   (``diffid_plugins/errors.py``). The source is walked with ``ast``: a bare
   ``raise ValueError(...)`` / ``raise TypeError(...)`` fails the test unless its file is in
   :data:`PENDING_BARE_RAISES`, and every exception class defined in the package must derive
   from ``DiffidError`` unless it is an internal signal listed in :data:`INTERNAL_CLASSES`.
2. Statuses: one registry (``diffid_plugins/_status_codes.py``) names every status code of the
   solvers, the problem layer and Python objectives, with a message and a success flag, and
   gives every unknown code the same message.

Both allow-lists must shrink: an entry whose file no longer needs it fails
:func:`test_allow_lists_hold_no_stale_entries`, so remove it when its file is fixed.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest

import diffid_plugins
from diffid_plugins import _status_codes as registry
from diffid_plugins import errors
from diffid_plugins.errors import (
    ArgumentError,
    ArgumentTypeError,
    DiffidError,
    DiffSLError,
    ResultError,
    ResultTypeError,
    SolverError,
)
from diffid_plugins.parallel import _validation as parallel_validation
from diffid_plugins.problem import ProblemError, status_message, status_name
from diffid_plugins.problem import _codes as problem_codes
from diffid_plugins.problem import _function_objective as objective_codes
from diffid_plugins.problem._costs import encode_cost
from diffid_plugins.problem._function_objective import ObjectiveResultError, status_label
from diffid_plugins.problem._validation import resolve_bounds, resolve_parameters
from diffid_plugins.solvers import Status
from diffid_plugins.solvers import _status as solver_codes

PACKAGE = Path(diffid_plugins.__file__).resolve().parent
ROOT = PACKAGE.parent

BARE = frozenset({"ValueError", "TypeError"})

PENDING_BARE_RAISES: frozenset[str] = frozenset()
"""Files that may still ``raise ValueError(...)`` / ``raise TypeError(...)``."""

INTERNAL_CLASSES: frozenset[tuple[str, str]] = frozenset(
    {
        # Control-flow signals, caught inside the package; they never reach the user, and
        # deriving them from DiffidError would let a user's `except DiffidError` swallow them.
        ("diffid_plugins/diffsl/_expr.py", "Abort"),  # caught in diffsl/_analysis.py
        ("diffid_plugins/diffsl/_parse_errors.py", "ParseProblem"),  # -> a Diagnostic
        ("diffid_plugins/parallel/_supervisor.py", "StopRun"),  # caught in parallel/executor.py
        # Never raised: it carries a worker's traceback text as the `__cause__` of a
        # DiffidError (parallel.RemoteTaskError and friends).
        ("diffid_plugins/parallel/_errors.py", "RemoteTraceback"),
    }
)
"""(file, class) pairs of exception classes that need not derive from ``DiffidError``."""


def _modules() -> dict[str, ast.Module]:
    """Every module of the package: relative posix path -> parsed tree."""
    return {
        path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


MODULES = _modules()


def _bare_raises(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, name) of each ``raise ValueError(...)`` / ``raise TypeError`` in a module."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(target, ast.Name) and target.id in BARE:
            found.append((node.lineno, target.id))
    return found


def _exception_classes(tree: ast.Module) -> dict[str, list[str]]:
    """Classes of a module whose bases name an exception: class name -> base names."""
    classes = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
            if any(base.endswith(("Error", "Exception", "Warning")) for base in bases):
                classes[node.name] = bases
    return classes


def _package_exception_names() -> set[str]:
    """Names of every exception class of the package that derives from DiffidError."""
    names = {"DiffidError"}
    changed = True
    while changed:  # follow chains such as ProblemError -> ArgumentError -> DiffidError
        changed = False
        for tree in MODULES.values():
            for name, bases in _exception_classes(tree).items():
                if name not in names and names.intersection(bases):
                    names.add(name)
                    changed = True
    return names


# --- 1. errors ---------------------------------------------------------------------------------


def test_no_bare_value_or_type_errors_outside_the_allow_list() -> None:
    offenders = [
        f"{path}:{line}: raise {name}(...)"
        for path, tree in MODULES.items()
        if path not in PENDING_BARE_RAISES
        for line, name in _bare_raises(tree)
    ]
    assert not offenders, (
        "raise a DiffidError subclass instead (diffid_plugins.errors: ArgumentError for a bad "
        "value, ArgumentTypeError for a bad type; problem code may use ProblemError):\n"
        + "\n".join(offenders)
    )


def test_exception_classes_derive_from_diffid_error() -> None:
    ours = _package_exception_names()
    offenders = [
        f"{path}: class {name}({', '.join(bases)})"
        for path, tree in MODULES.items()
        for name, bases in _exception_classes(tree).items()
        if name not in ours and (path, name) not in INTERNAL_CLASSES
    ]
    assert not offenders, "derive these from DiffidError:\n" + "\n".join(offenders)


def test_allow_lists_hold_no_stale_entries() -> None:
    """An allow-listed file that no longer needs its entry: delete the entry."""
    missing = sorted(path for path in PENDING_BARE_RAISES if path not in MODULES)
    clean = sorted(
        path for path in PENDING_BARE_RAISES if path in MODULES and not _bare_raises(MODULES[path])
    )
    ours = _package_exception_names()
    stale_classes = sorted(
        (path, name)
        for path, name in INTERNAL_CLASSES
        if path not in MODULES or name not in _exception_classes(MODULES[path]) or name in ours
    )
    assert not (missing or clean or stale_classes), (missing, clean, stale_classes)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (ArgumentError, ValueError),
        (ArgumentTypeError, TypeError),
        (ResultError, ValueError),
        (ResultTypeError, TypeError),
        (ProblemError, ValueError),
        (DiffSLError, ValueError),
        (ObjectiveResultError, TypeError),
        (SolverError, RuntimeError),
    ],
)
def test_error_classes_keep_their_builtin_base(error: type[Exception], builtin: type) -> None:
    """Handlers written for the built-in exception keep working; all are DiffidErrors."""
    assert issubclass(error, DiffidError) and issubclass(error, builtin)


def test_the_package_root_exports_every_error_class() -> None:
    exported = {name for name in errors.__all__ if name.endswith("Error")}
    assert exported <= set(diffid_plugins.__all__)


def test_problem_and_compiler_errors_are_argument_errors() -> None:
    assert issubclass(ProblemError, ArgumentError) and issubclass(DiffSLError, ArgumentError)
    assert issubclass(ObjectiveResultError, ResultTypeError)


@pytest.mark.parametrize(
    "error", [ArgumentError, ArgumentTypeError, ResultError, ResultTypeError, ProblemError]
)
def test_errors_cross_processes(error: type[Exception]) -> None:
    """Errors are recorded in workers and sent back: they must pickle with their message."""
    copy = pickle.loads(pickle.dumps(error("`x` must be 1; got 2. Pass 1.")))
    assert type(copy) is error and str(copy) == "`x` must be 1; got 2. Pass 1."


def test_input_checks_raise_package_errors() -> None:
    """A sample of the converted raise sites, one per error class and layer."""
    with pytest.raises(ArgumentError, match="`backend` must be 'process' or 'thread'"):
        parallel_validation.check_backend("mpi")
    with pytest.raises(ArgumentTypeError, match="`function` must be callable; got int"):
        parallel_validation.check_call(1, [])
    with pytest.raises(ArgumentError, match="`X` has shape"):
        parallel_validation.as_float_rows(np.ones(3))
    with pytest.raises(ResultTypeError, match="row 4 returned 'a'"):
        parallel_validation.as_cost("a", 4)
    with pytest.raises(ArgumentTypeError, match=r"write parameters=\['a'\]"):
        resolve_parameters("a", ["a"])
    with pytest.raises(ArgumentTypeError, match="`bounds` must be a list of"):
        resolve_bounds(5, ["a"], [(0.0, 1.0)], 1)
    with pytest.raises(ArgumentTypeError, match="`cost` must be a cost such as SSE()"):
        encode_cost(5, 1, 1, ["a"])
    with pytest.raises(ArgumentTypeError, match="list of parameter names"):
        objective_codes.check_names("a")


# --- 2. statuses -------------------------------------------------------------------------------


def _status_constants(module: object) -> dict[str, int]:
    """The ``STATUS_*`` ints of a module (the codes the kernels import)."""
    return {
        name: value
        for name, value in vars(module).items()
        if name.startswith("STATUS_") and isinstance(value, int)
    }


def _status_assignments() -> list[tuple[str, str, int]]:
    """(file, name, value) of every module-level ``STATUS_X = <int>`` in the package."""
    found = []
    for path, tree in MODULES.items():
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.startswith("STATUS_"):
                    try:
                        value = ast.literal_eval(node.value)
                    except ValueError:  # not a literal (e.g. a name): not a code definition
                        continue
                    if isinstance(value, int):
                        found.append((path, target.id, value))
    return found


@pytest.mark.parametrize(
    "module",
    [registry, solver_codes, problem_codes, objective_codes],
    ids=lambda module: module.__name__,
)
def test_every_status_constant_is_in_the_registry(module: object) -> None:
    constants = _status_constants(module)
    assert constants, f"{module} defines no STATUS_* codes"
    for name, code in constants.items():
        info = registry.STATUSES.get(code)
        assert info is not None, f"{name} = {code} is missing from the status registry"
        assert info.code == code and f"STATUS_{info.name}" == name
        assert isinstance(info.success, bool)
        assert info.message.endswith(".") and len(info.message) > 20, info


def test_status_codes_are_defined_once_in_the_registry() -> None:
    """A code defined anywhere else would be a second scheme; it must live in the registry."""
    assignments = _status_assignments()
    elsewhere = [entry for entry in assignments if entry[0] != "diffid_plugins/_status_codes.py"]
    assert not elsewhere, f"define these in diffid_plugins/_status_codes.py: {elsewhere}"
    defined = {value: name for _, name, value in assignments}
    assert defined == {code: f"STATUS_{info.name}" for code, info in registry.STATUSES.items()}


def test_registry_entries_are_complete_and_in_their_ranges() -> None:
    ranges = {"solver": range(-19, 20), "problem": range(-29, -19), "objective": range(-39, -29)}
    for code, info in registry.STATUSES.items():
        assert info.code == code and info.name.isupper() and info.origin in ranges
        assert code in ranges[info.origin], info
        assert info.message.endswith(".") and len(info.message) > 20, info
    successes = {info.name for info in registry.STATUSES.values() if info.success}
    assert successes == {"DONE", "ROOT"}
    assert set(registry.status_codes("problem")) == set(problem_codes.PROBLEM_STATUS_NAMES)
    assert registry.status_codes("objective") == (-30, -31, -32, -33)


def test_solver_status_enum_matches_the_registry() -> None:
    assert {s.value: s.name for s in Status} == {
        code: registry.STATUSES[code].name for code in registry.status_codes("solver")
    }
    for status in Status:
        info = registry.describe_status(status)
        assert status.message == info.message and status.is_successful == info.success
        assert solver_codes.message(int(status)) == info.message


def test_layer_views_agree_with_the_registry() -> None:
    for code, name in problem_codes.PROBLEM_STATUS_NAMES.items():
        assert registry.STATUSES[code].name == name
        assert problem_codes.PROBLEM_STATUS_MESSAGES[code] == registry.STATUSES[code].message
    for code, name in objective_codes.FUNCTION_STATUS_NAMES.items():
        assert registry.STATUSES[code].name == name == status_label(code) == status_name(code)
    for code, info in registry.STATUSES.items():
        assert status_name(code) == info.name and status_message(code) == info.message


@pytest.mark.parametrize("code", [42, 3, -7, -19, -24, -34, -99])
def test_unknown_codes_get_the_one_unknown_message(code: int) -> None:
    expected = registry.UNKNOWN_STATUS_MESSAGE.format(code=code)
    info = registry.describe_status(code)
    assert (info.name, info.origin, info.success) == (f"UNKNOWN_{code}", "unknown", False)
    assert info.message == expected
    assert solver_codes.message(code) == status_message(code) == expected
    assert status_name(code) == status_label(code) == f"UNKNOWN_{code}"


def test_numpy_integers_are_looked_up_like_ints() -> None:
    """Kernels hand back numpy integers; the lookup must not depend on the integer type."""
    assert registry.describe_status(np.int64(-1)).name == "MAX_STEPS"
    assert registry.describe_status(np.int32(-33)).name == "WORKER_DIED"
    assert status_name(np.int64(-77)) == "UNKNOWN_-77"


def test_the_registry_imports_nothing_of_the_package() -> None:
    """Layer rule: every layer (solvers, problem, parallel-facing code) may import it."""
    tree = MODULES["diffid_plugins/_status_codes.py"]
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    allowed = {"__future__", "collections", "dataclasses", "types", "typing"}
    assert imported and all(name and name.split(".")[0] in allowed for name in imported), imported

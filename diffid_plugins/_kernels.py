"""Kernel assembly: the one place that joins models, solver templates and batch templates.

The layers below know nothing of each other's code: the DiffSL compiler (``diffsl/``) emits a
model's own kernels, the solvers (``solvers/``) and the batch evaluator (``problem/``) are
template modules written against the model names of ``docs/kernel-contract.md``. This module
owns the ordered template list and builds, for a compiled model, the :class:`KernelSet` that
:func:`~diffid_plugins.solve` and :class:`~diffid_plugins.Problem` call, in one of two tiers:

* **generic** (:func:`generic_module`): every template rewritten to take the model as a run-time
  descriptor (:func:`diffid_plugins._templates.generic_source`), compiled once per install and
  cached on disk, keyed by the hash of the templates' text and the versions. A new or edited
  model compiles only its own kernels (tens of milliseconds each) and is served at once.
* **specialised** (:func:`specialised_source`): the model source followed by the templates, so
  numba inlines the model and unrolls its sizes. It is compiled per model, by default in a
  niced background process (:mod:`diffid_plugins._warm`), and swapped in between calls once
  it is ready; ``python -m diffid_plugins warm model.ds`` builds it ahead of time.

Both tiers run the same template arithmetic in the same order: results are bit-identical
(``tests/test_tiers.py``).

Control: ``compile_model(text, tier=...)``, or the environment variables
``DIFFID_PLUGINS_TIER`` (``auto``, ``generic``, ``specialised``) and
``DIFFID_PLUGINS_BACKGROUND=0`` (never start a background compile: CI, clusters, batch jobs).
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path

from diffid_plugins import _codecache
from diffid_plugins._templates import assemble, generic_source
from diffid_plugins.diffsl._compile import compile_model_kernels
from diffid_plugins.diffsl.model import CompiledModel
from diffid_plugins.errors import ArgumentError
from diffid_plugins.problem import BATCH_TEMPLATES
from diffid_plugins.solvers import SOLVER_TEMPLATES
from diffid_plugins.solvers import _generic as _generic_prelude
from diffid_plugins.solvers import _specialised as _specialised_prelude
from diffid_plugins.solvers._abi import FLAG_NAMES, KERNELS, MD_FLAGS, MD_SIZES, SIZE_NAMES
from diffid_plugins.solvers._kernelset import KernelSet, describe

__all__ = [
    "BACKGROUND_ENV",
    "TEMPLATES",
    "background_slot",
    "TIER_ENV",
    "compile_model",
    "generic_module",
    "kernels_for",
    "release_slot",
    "specialised_source",
    "warm",
]

TEMPLATES: tuple[types.ModuleType, ...] = (*SOLVER_TEMPLATES, *BATCH_TEMPLATES)
"""Every template module, in dependency order (the solver's, then the batch evaluator's)."""

TIER_ENV = "DIFFID_PLUGINS_TIER"
BACKGROUND_ENV = "DIFFID_PLUGINS_BACKGROUND"
_TIER_CHOICES = ("auto", "generic", "specialised")
_LOCK_STALE_SECONDS = 600.0  # a background slot older than this is from a dead run

_GENERIC_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _generic_text() -> str:
    slots = {name: i for i, name in enumerate(KERNELS)}
    slots.update({name: MD_SIZES + i for i, name in enumerate(SIZE_NAMES)})
    slots.update({name: MD_FLAGS + i for i, name in enumerate(FLAG_NAMES)})
    return generic_source(_generic_prelude, TEMPLATES, slots, frozenset(FLAG_NAMES))


def generic_module() -> types.ModuleType:
    """The generic tier's module (written and imported once per process; compiled once per
    install: its kernels are cached by numba next to the file)."""
    with _GENERIC_LOCK:
        return _codecache.load_source_module(_generic_text(), prefix="generic")


def specialised_source(model_source: str) -> str:
    """The specialised module of a model: its generated source, then every template."""
    return assemble(model_source, (_specialised_prelude, *TEMPLATES))


def _tier_setting(tier: str | None) -> str:
    value = tier if tier is not None else (os.environ.get(TIER_ENV, "").strip() or "auto")
    if value not in _TIER_CHOICES:
        where = "`tier`" if tier is not None else f"the environment variable {TIER_ENV}"
        raise ArgumentError(
            f"{where} must be one of {list(_TIER_CHOICES)}, got {value!r}. Use 'auto' (the "
            f"generic tier at once, the specialised one when its background compile is done)."
        )
    return value


def _jit_disabled() -> bool:
    from numba.core import config

    return bool(config.DISABLE_JIT)  # type: ignore[attr-defined]


def background_enabled() -> bool:
    """Whether background compiles may start (``DIFFID_PLUGINS_BACKGROUND`` is not 0/false/no)."""
    value = os.environ.get(BACKGROUND_ENV, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


# --- the specialised tier's files: source, model text, ready mark; the background slot -------
class _SpecialisedFiles:
    """Paths that describe one model's specialised module in the cache directory."""

    def __init__(self, model: CompiledModel) -> None:
        self.source = specialised_source(model.source)
        self.path = _codecache.module_path(self.source, prefix="spec")
        self.ready = self.path.with_suffix(".ready")
        self.log = self.path.with_suffix(".log")
        self.model_text = self.path.with_suffix(".ds")

    def load(self) -> types.ModuleType:
        return _codecache.load_source_module(self.source, prefix="spec")

    def mark_ready(self) -> None:
        _codecache.write_atomically(self.ready, b"ok\n")


def background_slot() -> Path:
    """The lock file that lets one background compile run at a time per cache directory.

    Compiling a specialised module occupies a core for tens of seconds; a user who edits a
    model ten times must not start ten of them. The file holds the compiling process's pid;
    a lock whose process is gone (or older than ten minutes) is stale and is taken over.
    """
    return _codecache.cache_dir() / "background.lock"


def _slot_is_stale(slot: Path) -> bool:
    try:
        text = slot.read_text().strip()
        age = time.time() - slot.stat().st_mtime
    except (OSError, ValueError):
        return False  # being written or just removed: try again on the next poll
    if age > _LOCK_STALE_SECONDS:
        return True
    try:
        pid = int(text)
    except ValueError:
        return age > 5.0  # a lock whose pid was never written: its writer died
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's (cannot happen in a 0700 dir)
        return False
    return False


def _take_slot() -> int | None:
    """Create the background slot exclusively; its file descriptor, or None if taken."""
    slot = background_slot()
    for _ in range(2):
        try:
            return os.open(slot, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            if not _slot_is_stale(slot):
                return None
            with contextlib.suppress(FileNotFoundError):
                slot.unlink()
    return None


def release_slot() -> None:
    """Remove the background slot if this process holds it (the child calls this at exit)."""
    slot = background_slot()
    with contextlib.suppress(OSError, ValueError):
        if int(slot.read_text().strip()) == os.getpid():
            slot.unlink()


def _start_background(files: _SpecialisedFiles, model: CompiledModel) -> subprocess.Popen | None:
    """Start ``python -m diffid_plugins._warm`` for this model if the background slot is free.

    Returns the process, or None when another background compile holds the slot (the caller
    asks again on a later poll).
    """
    fd = _take_slot()
    if fd is None:
        return None
    try:
        _codecache.write_atomically(files.model_text, model.text.encode("utf-8"))
        env = dict(os.environ, **{BACKGROUND_ENV: "0", TIER_ENV: "specialised"})
        args = [sys.executable, "-m", "diffid_plugins._warm", str(files.model_text)]
        if model.read_dir is not None:
            args += ["--read-dir", model.read_dir]
        with open(files.log, "wb") as log:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
    except OSError:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            background_slot().unlink()
        return None
    with os.fdopen(fd, "w") as handle:  # the child's pid: it releases the slot at exit
        handle.write(f"{process.pid}\n")
    return process


class _Upgrade:
    """The callback a generic :class:`KernelSet` polls: the specialised module once ready.

    Starts the background compile when the slot is free (at once, or on a later poll when
    another model's compile was running), and answers the loaded module once the ready mark
    exists; after a failed compile (see the ``.log`` file) it stays generic.
    """

    def __init__(self, files: _SpecialisedFiles, model: CompiledModel) -> None:
        self.files = files
        self.model = model
        self.process: subprocess.Popen | None = None
        self.failed = False

    def __call__(self) -> tuple[types.ModuleType, str] | None:
        if self.failed:
            return None
        if self.files.ready.exists():
            if self.process is not None:
                self.process.poll()  # reap the child (it exits right after the ready mark)
            try:
                return self.files.load(), "specialised"
            except Exception as exc:  # never let the upgrade break a working generic tier
                self.failed = True
                warnings.warn(
                    f"the specialised solver of this model could not be loaded ({exc}); the "
                    f"generic tier keeps serving it (results are the same, a little slower).",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return None
        if self.process is None:
            self.process = _start_background(self.files, self.model)
            return None
        if self.process.poll() not in (None, 0):
            self.failed = True  # the compile failed: stay generic, do not retry
        return None


def kernels_for(model: CompiledModel, tier: str | None = None) -> KernelSet:
    """The :class:`KernelSet` of a compiled model (see the module docstring for the tiers).

    Parameters
    ----------
    model : CompiledModel
        From :func:`diffid_plugins.diffsl.compile_model_kernels`.
    tier : {"auto", "generic", "specialised"}, optional
        Default: ``DIFFID_PLUGINS_TIER``, else ``"auto"``.

    Returns
    -------
    KernelSet
    """
    setting = _tier_setting(tier)
    bindings = model.module
    if _jit_disabled():  # NUMBA_DISABLE_JIT: plain Python functions have no addresses
        setting = "specialised"
    if setting == "specialised":
        files = _SpecialisedFiles(model)
        return KernelSet(files.load(), bindings, "specialised")
    upgrade = None
    if setting == "auto":
        upgrade = _Upgrade(_SpecialisedFiles(model), model)
        ready = upgrade() if upgrade.files.ready.exists() else None  # warns if unloadable
        if ready is not None:
            return KernelSet(ready[0], bindings, "specialised")
    generic = generic_module()
    md = describe(bindings, generic)
    if upgrade is not None and not upgrade.failed and background_enabled():
        upgrade()  # start the background compile now if the slot is free
    else:
        upgrade = None
    return KernelSet(generic, bindings, "generic", md=md, upgrade=upgrade)


def compile_model(
    text: str,
    *,
    read_dir: str | os.PathLike[str] | None = None,
    tier: str | None = None,
) -> CompiledModel:
    """Compile DiffSL source to numba kernels, ready for :func:`~diffid_plugins.solve`.

    Parameters
    ----------
    text : str
        The model, in DiffSL (diffsl 0.8 to 0.12 syntax).
    read_dir : path-like, optional
        Directory that ``read('file.tns')`` imports are resolved in. Without it, a model
        that uses ``read()`` is rejected: files are only read from a directory you name.
    tier : {"auto", "generic", "specialised"}, optional
        Which solver code serves the model. ``"auto"`` (default, or the environment variable
        ``DIFFID_PLUGINS_TIER``): the generic solver at once (compiled once per install; only
        the model's own kernels are compiled now), and the solver specialised to this model
        once a niced background process has compiled it (``DIFFID_PLUGINS_BACKGROUND=0``
        disables that process). ``"generic"``: never specialise. ``"specialised"``: compile
        the specialised solver here, on the first solve. Results are the same in every tier;
        ``model.kernels.tier`` says which one is serving.

    Returns
    -------
    CompiledModel
        Sizes, names and kernels of the model (``model.kernels``: a ``KernelSet``). Generated
        code is cached on disk (``DIFFID_PLUGINS_CACHE_DIR`` overrides the location).

    Raises
    ------
    DiffSLError
        With every diagnostic (line, column, message, source context) when the model is
        invalid.
    ArgumentError
        If ``tier`` is not one of the choices (a ``ValueError``).

    Examples
    --------
    >>> from diffid_plugins import compile_model
    >>> m = compile_model("in_i { k = 2 } u { x = 1 } F { -k * x }")
    >>> m.rhs([2.0], 0.0, [1.0])
    array([-2.])
    """
    setting = _tier_setting(tier)
    model = compile_model_kernels(text, read_dir=read_dir)
    model.attach_kernels(kernels_for(model, setting), rebuild=_recompile)
    return model


def _recompile(text: str, read_dir: str | None) -> CompiledModel:
    """Unpickling helper of :class:`CompiledModel`: ``compile_model(text, read_dir=...)``."""
    return compile_model(text, read_dir=read_dir)


def _exercise(model: CompiledModel) -> None:
    """Call every entry point the way solve() and Problem do, so that numba compiles (and
    caches) exactly the signatures a later process will call."""
    import numpy as np

    from diffid_plugins.problem import Problem
    from diffid_plugins.solvers import solve

    kernels = model.kernels
    solve(model, None, [1e-9], method="auto")
    data = np.zeros((2, 1 + model.n_outputs))
    data[1, 0] = 1e-9
    methods = ["auto"]
    if kernels.SOLVER_HAS_STIFF:
        methods.append("rodas5p")  # the scalar batch kernel (lanes serve "auto" when they can)
    for method in methods:
        problem = Problem(model, data, method=method)
        problem.evaluate_batch(np.tile(problem.x0, (2, 1)), n_threads=1)


def warm(
    text: str,
    *,
    read_dir: str | os.PathLike[str] | None = None,
    tiers: tuple[str, ...] = ("generic", "specialised"),
) -> dict[str, float]:
    """Compile (and cache) a model's tiers now, in the foreground; return seconds per tier.

    After ``warm``, a new process that compiles the same model text is served by the
    specialised tier at once (its ready mark is written) and loads everything from the disk
    cache. This is what ``python -m diffid_plugins warm model.ds`` runs, and what the
    background process runs for ``tier="auto"``.
    """
    seconds: dict[str, float] = {}
    for tier in tiers:
        start = time.perf_counter()
        model = compile_model(text, read_dir=read_dir, tier=tier)
        _exercise(model)
        if tier == "specialised":
            _SpecialisedFiles(model).mark_ready()
        seconds[tier] = time.perf_counter() - start
    return seconds

"""On-disk cache of generated Python modules, so that numba's ``cache=True`` works for them.

numba caches a compiled function only when it is defined at module level in a real source file
of an importable module (see ``docs/kernel-contract.md``). Generated model modules are therefore
written to a per-user cache directory, keyed by a hash of their source and of the versions of
diffid_plugins, numba and Python, and imported from there. numba then keeps its own cache
files (``*.nbi`` index, ``*.nbc`` data) in ``__pycache__`` next to each generated file, so a
model compiled once loads without recompiling in the next process.

This module imports neither numba nor numpy; it only reads numba's version from the installed
package metadata.

Concurrency: each generated file is written to a temporary file in the same directory and
then moved into place atomically (a hard link that refuses to overwrite, or ``os.replace``),
so a reader never sees a partial file and two processes creating the same module at once both
end up with the same, complete file. numba writes its own cache files atomically as well.

Security: the cache directory holds code that is executed (the generated modules and numba's
pickled cache files), so it must be writable only by the current user. The default directory
is in the user's home; the temporary-directory fallback is a private (mode 0700) directory
owned by the user, or a fresh ``mkdtemp`` directory when that cannot be guaranteed. A module is
always executed from the source text held in memory, never from what is read back from disk.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.abc
import importlib.metadata
import importlib.util
import io
import linecache
import os
import pickletools
import re
import shutil
import stat
import sys
import tempfile
import threading
import types
import warnings
from pathlib import Path

import platformdirs

from diffid_plugins.errors import ArgumentError

__all__ = [
    "CACHE_DIR_ENV",
    "cache_dir",
    "clear_cache",
    "load_source_module",
    "module_path",
    "scrub_numba_cache",
    "source_key",
    "write_atomically",
]

CACHE_DIR_ENV = "DIFFID_PLUGINS_CACHE_DIR"
"""Name of the environment variable that overrides the cache root directory."""

_APP_NAME = "diffid_plugins"
_GENERATED_PACKAGE = "diffid_plugins._generated"
_PREFIX_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Generated modules and their sidecar files (the specialised tier's ready mark, background
# log and model text), and the background-compile slot: everything clear_cache() removes.
_GENERATED_FILE_RE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*_[0-9a-f]{24}\.(py|ready|log|ds)|background\.lock"
)
_VERSION_DIR_RE = re.compile(r"v[^/\\]*-numba[^/\\]*-py[0-9]+")
_UNSAFE_CHARS_RE = re.compile(r"[^A-Za-z0-9._-]")

# In-process memo: module name -> loaded module. Guarded by _LOCK (re-entrant so that a
# generated module may itself load another one while it is being executed).
_MODULES: dict[str, types.ModuleType] = {}
_LOCK = threading.RLock()
# Unwritable cache directory -> the fallback chosen for it (so that the warning is given once
# and a mkdtemp fallback is reused within the process).
_FALLBACKS: dict[Path, Path] = {}


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[str, str, str]:
    """Return the versions of diffid_plugins, numba and Python (numba is not imported)."""
    from diffid_plugins import __version__

    try:
        numba_version = importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - numba is required
        numba_version = "unknown"
    python_version = ".".join(str(part) for part in sys.version_info[:3])
    return __version__, numba_version, python_version


def _version_tag() -> str:
    """Name of the versioned subdirectory, e.g. ``v0.1.0-numba0.68.1-py311``."""
    ours, numba_version, _ = _versions()
    tag = f"v{ours}-numba{numba_version}-py{sys.version_info[0]}{sys.version_info[1]}"
    return _UNSAFE_CHARS_RE.sub("_", tag)


def _cache_root() -> Path:
    """The cache root directory: the environment override or the platform default."""
    override = os.environ.get(CACHE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser().absolute()
    return Path(platformdirs.user_cache_dir(_APP_NAME)).absolute()


def _ensure_writable_dir(directory: Path) -> None:
    """Create ``directory`` if needed and check that files can be created in it.

    Raises
    ------
    OSError
        If the directory cannot be created or is not writable.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory):
        pass


def _user_tag() -> str:
    """A file-name-safe identifier of the current user."""
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    try:  # pragma: no cover - Windows
        import getpass

        return _UNSAFE_CHARS_RE.sub("_", getpass.getuser()) or "user"
    except Exception:  # pragma: no cover - no user name available at all
        return "user"


def _is_private_dir(directory: Path) -> bool:
    """Whether ``directory`` is a real directory that only the current user can write to."""
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # pragma: no cover - Windows: the temp directory is per user
        return True
    return st.st_uid == getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _fallback_root() -> Path:
    """A per-user private directory in the system temporary directory."""
    shared = Path(tempfile.gettempdir()) / f"{_APP_NAME}-{_user_tag()}"
    try:
        shared.mkdir(mode=0o700, exist_ok=True)
        if _is_private_dir(shared):
            _ensure_writable_dir(shared)
            return shared
    except OSError:
        pass
    # Another user owns that name, or it is not usable: fall back to a private directory for
    # this process only (generated modules are then recompiled in every process).
    return Path(tempfile.mkdtemp(prefix=f"{_APP_NAME}-"))


def cache_dir() -> Path:
    """Return the directory that holds the generated modules, creating it if needed.

    The root is the directory named by the ``DIFFID_PLUGINS_CACHE_DIR`` environment variable
    if it is set and non-empty, otherwise ``platformdirs.user_cache_dir("diffid_plugins")``.
    Generated modules live in a subdirectory named after the versions of diffid_plugins, numba
    and Python (for example ``v0.1.0-numba0.68.1-py311``), so that upgrading any of them never
    reuses stale files.

    Returns
    -------
    pathlib.Path
        An absolute path to an existing, writable directory.

    Warns
    -----
    UserWarning
        If the configured directory cannot be created or written to. A private per-user
        directory in the system temporary directory is used instead; set
        ``DIFFID_PLUGINS_CACHE_DIR`` to a writable directory to silence the warning.
    """
    directory = _cache_root() / _version_tag()
    with _LOCK:
        fallback = _FALLBACKS.get(directory)
        if fallback is not None:
            return fallback
        try:
            _ensure_writable_dir(directory)
            return directory
        except OSError as exc:
            fallback = _fallback_root() / _version_tag()
            _ensure_writable_dir(fallback)
            _FALLBACKS[directory] = fallback
            reason = exc.strerror or type(exc).__name__
    warnings.warn(
        f"The diffid_plugins cache directory {str(directory)!r} is not writable ({reason}); "
        f"compiled models are cached in {str(fallback)!r} instead. Set the environment "
        f"variable `{CACHE_DIR_ENV}` to a writable directory to silence this warning.",
        UserWarning,
        stacklevel=2,
    )
    return fallback


def source_key(source: str) -> str:
    """Return the cache key of a generated source text.

    Parameters
    ----------
    source : str
        The generated Python source.

    Returns
    -------
    str
        64 hexadecimal digits: the SHA-256 of the versions of diffid_plugins, numba and
        Python and of ``source``.
    """
    ours, numba_version, python_version = _versions()
    digest = hashlib.sha256()
    header = f"diffid_plugins={ours}\0numba={numba_version}\0python={python_version}\0"
    digest.update(header.encode("utf-8"))
    digest.update(source.encode("utf-8"))
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes | None:
    """The content of ``path``, or ``None`` if it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def write_atomically(path: Path, data: bytes) -> None:
    """Make ``path`` hold exactly ``data``, never exposing a partially written file.

    The data go to a temporary file in the same directory first. A missing target is created
    with a hard link, which fails instead of overwriting when another process won the race
    (its file then has the same content, so the file and its timestamps stay put); a target
    with other content, or a file system without hard links, gets ``os.replace``.
    """
    existing = _read_bytes(path)
    if existing == data:
        return
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if existing is None:
            try:
                os.link(tmp_name, path)
                return
            except FileExistsError:
                if _read_bytes(path) == data:
                    return
            except OSError:  # no hard links on this file system
                pass
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


class _SourceLoader(importlib.abc.Loader):
    """Execute a generated module from its in-memory source, attributed to its cache file.

    The code object's file name is the cache file, which is what numba's cache locator and
    tracebacks use; the bytes executed are the ones the caller passed, whatever is on disk.
    """

    def __init__(self, source: str, path: str) -> None:
        self._source = source
        self._path = path

    def get_filename(self, fullname: str) -> str:
        """Return the path of the cache file."""
        return self._path

    def get_source(self, fullname: str) -> str:
        """Return the generated source (used by ``inspect`` and ``linecache``)."""
        return self._source

    def get_code(self, fullname: str) -> types.CodeType:
        """Compile the source without inheriting this module's ``__future__`` flags."""
        return compile(self._source, self._path, "exec", dont_inherit=True)

    def exec_module(self, module: types.ModuleType) -> None:
        """Run the module body in ``module.__dict__``."""
        exec(self.get_code(module.__name__), module.__dict__)


def _register_linecache(path: str, source: str) -> None:
    """Make tracebacks and ``inspect`` show the generated source even if the file goes away."""
    # mtime None: linecache.checkcache() leaves the entry alone.
    linecache.cache[path] = (len(source), None, source.splitlines(keepends=True), path)


def _import_generated(name: str, path: Path, source: str) -> types.ModuleType:
    """Import ``source`` as module ``name`` attributed to ``path`` and register it."""
    filename = str(path)
    loader = _SourceLoader(source, filename)
    spec = importlib.util.spec_from_file_location(name, filename, loader=loader)
    if spec is None:  # pragma: no cover - cannot happen with an explicit loader
        raise RuntimeError(f"internal error: no import spec for {filename!r}.")
    module = importlib.util.module_from_spec(spec)
    _register_linecache(filename, source)
    # numba rebuilds cached functions' environments with importlib.import_module(__name__),
    # so the module must be in sys.modules before (and while) its body runs.
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise RuntimeError(
            f"Internal error in diffid_plugins (a bug, not a problem with your input): the "
            f"generated module {filename!r} failed to import with "
            f"{type(exc).__name__}: {exc}. The file is kept for debugging; please report "
            f"this bug and attach that file."
        ) from exc
    return module


def load_source_module(source: str, *, prefix: str = "model") -> types.ModuleType:
    """Write generated source to the cache directory (if needed) and import it.

    Parameters
    ----------
    source : str
        Complete Python source of the module. Its ``@njit(cache=True)`` functions are cached
        by numba in ``__pycache__`` next to the generated file.
    prefix : str, default ``"model"``
        Start of the file and module name; a Python identifier.

    Returns
    -------
    types.ModuleType
        The module, registered in ``sys.modules`` as
        ``diffid_plugins._generated.<prefix>_<key>``. Within a process the same source and
        prefix always give the same module object (until :func:`clear_cache` is called).

    Raises
    ------
    ValueError
        If ``prefix`` is not a Python identifier.
    RuntimeError
        If the source fails to import (for example a ``SyntaxError``): generated code that
        does not import is an internal bug. The message names the file, which is kept.

    Notes
    -----
    The file is ``<cache_dir()>/<prefix>_<key[:24]>.py`` where ``key`` is
    :func:`source_key` of ``source``. It is written only if it is missing or its content
    differs, through a temporary file and an atomic rename, so concurrent processes are safe.
    """
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise ArgumentError(
            f"`prefix` must be a Python identifier such as 'model', got {prefix!r}; it becomes "
            f"part of a module name."
        )
    key = source_key(source)
    name = f"{_GENERATED_PACKAGE}.{prefix}_{key}"
    with _LOCK:
        module = _MODULES.get(name)
        if module is not None:
            return module
        path = module_path(source, prefix=prefix)
        write_atomically(path, source.encode("utf-8"))
        scrub_numba_cache(path)
        module = _import_generated(name, path, source)
        _MODULES[name] = module
        return module


def module_path(source: str, *, prefix: str = "model") -> Path:
    """The cache file that :func:`load_source_module` uses for ``source`` (not written here).

    Parameters
    ----------
    source : str
        Complete Python source of the module.
    prefix : str, default ``"model"``
        Start of the file name (a Python identifier).

    Returns
    -------
    pathlib.Path
        ``<cache_dir()>/<prefix>_<key[:24]>.py``.
    """
    return cache_dir() / f"{prefix}_{source_key(source)[:24]}.py"


def _numba_cache_files(path: Path) -> list[Path]:
    """numba's index and data files for the functions of generated module ``path``."""
    dirs = [path.parent / "__pycache__"]
    override = os.environ.get("NUMBA_CACHE_DIR", "").strip()
    if override:
        dirs += [d for d in Path(override).glob(f"{path.parent.name}_*") if d.is_dir()]
    files: list[Path] = []
    for directory in dirs:
        with contextlib.suppress(OSError):
            files += [
                f
                for f in directory.glob(f"{path.stem}.*")
                if f.suffix in (".nbi", ".nbc") and f.is_file()
            ]
    return files


def _is_complete_pickle(path: Path) -> bool:
    """Whether a numba cache file holds complete pickles (it is read, not unpickled).

    numba does not guard against truncated cache files (a killed writer, a full disk): loading
    one raises ``EOFError`` or ``UnpicklingError`` instead of recompiling (numba issue #10434).
    An index file (``.nbi``) is two pickles (numba's version, then the index); a data file
    (``.nbc``) is one. :func:`pickletools.genops` walks the opcodes without building any
    object and raises at a truncated stream (a last-byte test is not enough: pickled data
    holds many ``.`` bytes). About 0.3 ms per file.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return True  # gone or unreadable: numba treats it as a miss
    try:
        stream = io.BytesIO(data)
        for _ in range(2 if path.suffix == ".nbi" else 1):
            for _op in pickletools.genops(stream):
                pass
        return stream.tell() == len(data)
    except (ValueError, EOFError, IndexError):
        return False


def scrub_numba_cache(path: Path) -> int:
    """Delete numba's cache files of generated module ``path`` if any of them is truncated.

    All of the module's files go together (index and data must agree), so numba compiles that
    module's functions again and rewrites them; a warning says so.

    Parameters
    ----------
    path : pathlib.Path
        A generated module file in the cache directory.

    Returns
    -------
    int
        The number of files deleted (0 when all were complete).
    """
    files = _numba_cache_files(path)
    if all(_is_complete_pickle(f) for f in files):
        return 0
    removed = 0
    for f in files:
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
            removed += 1
    warnings.warn(
        f"numba's cache of the generated module {path.name!r} was incomplete (a truncated "
        f"file, e.g. from an interrupted write); it was deleted and the module is compiled "
        f"again.",
        RuntimeWarning,
        stacklevel=3,
    )
    return removed


def _generated_dirs(root: Path) -> list[Path]:
    """The versioned subdirectories of ``root`` created by this module."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return [
        entry
        for entry in entries
        if _VERSION_DIR_RE.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink()
    ]


def clear_cache() -> int:
    """Delete the generated modules, their sidecar files and numba's cache files for them.

    Sidecars are the specialised tier's ready marks, background logs and model texts, and
    the background-compile slot; a ready mark must not outlive the code it vouches for.

    Every versioned subdirectory of the current cache root (all diffid_plugins, numba and
    Python versions) and of any temporary fallback directory used by this process is
    cleaned; other files in the root are left alone. Modules that are already imported keep
    working, but the in-process memo is emptied, so the next :func:`load_source_module`
    writes the file again and imports a new module object.

    Returns
    -------
    int
        The number of generated module files removed.
    """
    removed = 0
    with _LOCK:
        roots = {_cache_root(), *(fallback.parent for fallback in _FALLBACKS.values())}
        for root in sorted(roots):
            for directory in _generated_dirs(root):
                for entry in directory.iterdir():
                    if entry.name == "__pycache__" and entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    elif _GENERATED_FILE_RE.fullmatch(entry.name) and entry.is_file():
                        with contextlib.suppress(FileNotFoundError):
                            entry.unlink()
                            removed += entry.suffix == ".py"
                    elif entry.name.startswith(".") and entry.name.endswith(".tmp"):
                        with contextlib.suppress(OSError):
                            entry.unlink()
                with contextlib.suppress(OSError):
                    directory.rmdir()  # only succeeds when nothing else is left
        _MODULES.clear()
    return removed

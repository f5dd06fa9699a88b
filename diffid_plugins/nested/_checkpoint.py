"""Checkpoint files of a nested-sampling run: a pickled state dict, written atomically.

:func:`save_checkpoint` pickles ``{"format": FORMAT, "version": VERSION, "state": state}`` to
a temporary file in the target's directory, flushes it to disk and renames it over the target
(``os.replace``), so a crash or a failed write never leaves a half-written checkpoint: the
previous file stays intact. :func:`load_checkpoint` returns the state and refuses, with the
path in the message, a missing file, a file that is not such a checkpoint, and a checkpoint of
another format version. :func:`due` tells when the next checkpoint is due.

Unpickling runs code chosen by whoever wrote the file: load only checkpoints you wrote.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ArgumentError, ArgumentTypeError

__all__ = ["FORMAT", "VERSION", "due", "load_checkpoint", "save_checkpoint"]

FORMAT = "diffid_plugins.nested.checkpoint"
"""The ``format`` tag of a checkpoint file."""

VERSION = 1
"""Version of the state layout; a checkpoint of another version is refused."""


def _as_path(path: str | os.PathLike[str], func: str) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise ArgumentTypeError(
            f"{func}(path={path!r}): expected a file name (str or os.PathLike), got a "
            f"{type(path).__name__}"
        )
    return Path(path)


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file + ``os.replace``).

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file; its directory must exist. An existing file is replaced only once
        the new one is completely written.
    state : dict
        The run's state; everything in it must be picklable.

    Raises
    ------
    ArgumentTypeError
        ``state`` is not a dict, or ``path`` is not a file name.
    ArgumentError
        The directory of ``path`` does not exist.
    Exception
        Whatever pickling or writing raises (for example ``pickle.PicklingError``, or
        ``OSError`` for a full disk); the temporary file is removed and ``path`` is untouched.
    """
    target = _as_path(path, "save_checkpoint")
    if not isinstance(state, dict):
        raise ArgumentTypeError(
            f"save_checkpoint(state=...) got a {type(state).__name__}; expected a dict"
        )
    folder = target.parent
    if not folder.is_dir():
        raise ArgumentError(
            f"save_checkpoint: the directory {str(folder)!r} of {str(target)!r} does not exist; "
            "create it first or choose another checkpoint file"
        )
    payload = {"format": FORMAT, "version": VERSION, "state": state}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state dict stored by :func:`save_checkpoint` at ``path``.

    Raises
    ------
    ArgumentError
        The file does not exist, is not a checkpoint of this package, or has another format
        version; the message names the path.
    """
    source = _as_path(path, "load_checkpoint")
    if not source.is_file():
        raise ArgumentError(
            f"load_checkpoint: no checkpoint file at {str(source)!r}; check the path (a run "
            "writes it when given a checkpoint file)"
        )
    try:
        with source.open("rb") as f:
            payload = pickle.load(f)
    except Exception as exc:  # any unpickling failure means: not one of our checkpoints
        raise ArgumentError(
            f"load_checkpoint: {str(source)!r} is not a checkpoint file (it could not be "
            f"unpickled: {type(exc).__name__}: {exc})"
        ) from exc
    if not (isinstance(payload, dict) and payload.get("format") == FORMAT):
        raise ArgumentError(
            f"load_checkpoint: {str(source)!r} is not a {FORMAT} file (a pickle of another "
            f"kind: {type(payload).__name__})"
        )
    if payload.get("version") != VERSION or not isinstance(payload.get("state"), dict):
        raise ArgumentError(
            f"load_checkpoint: {str(source)!r} has checkpoint version "
            f"{payload.get('version')!r}; this version of diffid_plugins reads version "
            f"{VERSION}: rerun without resuming (or with the version that wrote it)"
        )
    state: dict[str, Any] = payload["state"]
    return state


def due(last_time: float | None, every: float | None, now: float | None = None) -> bool:
    """True when a checkpoint is due: ``every`` seconds after ``last_time``.

    Parameters
    ----------
    last_time : float or None
        ``time.monotonic()`` of the last checkpoint; None: none written yet (due at once).
    every : float or None
        Seconds between checkpoints; None: never due.
    now : float, optional
        The current ``time.monotonic()`` (default: read the clock).
    """
    if every is None:
        return False
    if not every >= 0:  # also NaN
        raise ArgumentError(
            f"checkpoint interval every={every!r}: expected a number of seconds >= 0, or None "
            "for no checkpoints"
        )
    if last_time is None:
        return True
    current = time.monotonic() if now is None else now
    return current - last_time >= every

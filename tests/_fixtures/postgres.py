"""A real PostgreSQL server for the storage tests, started from the ``pgserver`` wheel.

``pgserver`` (PyPI) ships the PostgreSQL 16 binaries inside a wheel and runs ``initdb`` and
``pg_ctl`` on a data directory of our choosing; the server listens on a Unix socket in that
directory only (no TCP port, so parallel test sessions cannot collide). :func:`start_server`
starts one in a fresh directory and returns a SQLAlchemy URL for Optuna's ``RDBStorage``
(psycopg2 driver); the caller stops it with :func:`stop_server`.

When the server cannot start (the package is missing, the platform has no wheel, the socket
path is too long, ``initdb`` refuses to run), :class:`ServerUnavailable` says why and the tests
skip with that reason: the storage tests need a real server, not a stand-in.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PostgresServer", "ServerUnavailable", "start_server", "stop_server"]

# Unix domain socket paths are limited to 107 bytes on Linux (sun_path is 108 with the NUL);
# the server's socket is <data dir>/.s.PGSQL.5432.
_MAX_SOCKET_PATH = 107


class ServerUnavailable(RuntimeError):
    """The PostgreSQL server could not be started here (the message says why)."""


@dataclass
class PostgresServer:
    """A running server: its SQLAlchemy URL, its data directory and the pgserver handle."""

    url: str
    data_dir: Path
    handle: Any


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def start_server(parent: Path | None = None) -> PostgresServer:
    """Start a fresh server in a new directory under ``parent`` (default: the temp dir).

    Returns
    -------
    PostgresServer
        ``url`` is ``postgresql+psycopg2://postgres:@/postgres?host=<data dir>``.

    Raises
    ------
    ServerUnavailable
        With the reason (missing package, socket path too long, start-up failure).
    """
    missing = _missing("pgserver", "psycopg2", "sqlalchemy")
    if missing:
        raise ServerUnavailable(
            f"packages {missing} are not installed (pip install -e '.[test]' installs them)"
        )
    # A short directory: the socket path must fit in sun_path.
    base = Path(tempfile.mkdtemp(prefix="pg", dir=parent))
    data_dir = base / "d"
    socket = data_dir / ".s.PGSQL.5432"
    if len(str(socket)) > _MAX_SOCKET_PATH:
        shutil.rmtree(base, ignore_errors=True)
        raise ServerUnavailable(f"socket path {socket} is longer than {_MAX_SOCKET_PATH} bytes")
    import pgserver

    try:
        handle = pgserver.get_server(data_dir, cleanup_mode="delete")
        uri = handle.get_uri()
    except Exception as exc:  # initdb/pg_ctl failures come as several exception types
        shutil.rmtree(base, ignore_errors=True)
        raise ServerUnavailable(f"pgserver could not start PostgreSQL: {exc!r}") from exc
    url = uri.replace("postgresql://", "postgresql+psycopg2://", 1)
    return PostgresServer(url=url, data_dir=data_dir, handle=handle)


def stop_server(server: PostgresServer) -> None:
    """Stop the server and delete its data directory."""
    try:
        server.handle.cleanup()
    finally:
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)

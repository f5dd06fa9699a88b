"""Tests of the on-disk cache of generated modules (``diffid_plugins._codecache``).

Every test points ``DIFFID_PLUGINS_CACHE_DIR`` at a temporary directory, so the user's cache
is never touched. numba compiles take about a second each; the tests that compile are the
cold/warm test and the concurrency test (which runs its compiles in child processes).
"""

from __future__ import annotations

import importlib
import json
import linecache
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np
import pytest

from diffid_plugins import _codecache
from diffid_plugins._codecache import (
    CACHE_DIR_ENV,
    cache_dir,
    clear_cache,
    load_source_module,
    source_key,
)

# f(arange(4.0)) = sum(3 * x + 1) = 3 * 6 + 4 = 22.
SOURCE = """\
import numpy as np
from numba import njit

SCALE = 3.0


@njit(cache=True)
def _helper(x):
    return SCALE * x + 1.0


@njit(cache=True)
def f(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += _helper(x[i])
    return total
"""
EXPECTED = 22.0

# Runs in a fresh interpreter: load the source named by argv[1], call f, report as JSON.
# With argv[2] (a directory), it first signals readiness and waits for a "go" file there, so
# that several processes start loading at the same moment.
CHILD_SCRIPT = textwrap.dedent(
    """\
    import json, sys, time
    from pathlib import Path
    t_start = time.perf_counter()
    import numpy as np
    import numba
    from diffid_plugins._codecache import load_source_module
    t_imported = time.perf_counter()
    source = Path(sys.argv[1]).read_text(encoding="utf-8")
    if len(sys.argv) > 2:
        sync = Path(sys.argv[2])
        (sync / ("ready-" + sys.argv[3])).touch()
        deadline = time.monotonic() + 120
        while not (sync / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("no go signal")
            time.sleep(0.001)
    t_load = time.perf_counter()
    module = load_source_module(source)
    value = module.f(np.arange(4.0))
    t_end = time.perf_counter()
    print(json.dumps({
        "value": value,
        "file": module.__file__,
        "hits": [str(sig) for sig in module.f.stats.cache_hits],
        "misses": [str(sig) for sig in module.f.stats.cache_misses],
        "load_call_s": t_end - t_load,
        "total_s": t_end - t_start,
        "import_s": t_imported - t_start,
    }))
    """
)


def unique_source(tag: str) -> str:
    """``SOURCE`` with a unique first line, so that no two tests share a module or file."""
    return f"# test {tag} {uuid.uuid4().hex}\n{SOURCE}"


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the cache at a fresh temporary directory for each test."""
    root = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(root))
    yield root


def child_env(root: Path) -> dict[str, str]:
    """Environment for a child interpreter that uses the cache at ``root``."""
    env = dict(os.environ)
    env[CACHE_DIR_ENV] = str(root)
    env.pop("NUMBA_DISABLE_JIT", None)
    return env


def parse_child(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """Check that a child succeeded without a traceback and return its JSON report."""
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def generated_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.py"))


# ---------------------------------------------------------------------------- layout, memo


def test_cache_dir_uses_env_var_and_versioned_subdirectory(cache_root: Path) -> None:
    directory = cache_dir()
    assert directory.is_dir()
    assert directory.parent == cache_root.absolute()
    assert re.fullmatch(r"v[0-9A-Za-z._-]+-numba[0-9A-Za-z._-]+-py\d+", directory.name)
    assert f"py{sys.version_info[0]}{sys.version_info[1]}" in directory.name


def test_cache_dir_default_is_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CACHE_DIR_ENV)
    calls: list[str] = []

    def fake_user_cache_dir(appname: str) -> str:
        calls.append(appname)
        return str(tmp_path / "platform")

    monkeypatch.setattr(_codecache.platformdirs, "user_cache_dir", fake_user_cache_dir)
    assert cache_dir().parent == tmp_path / "platform"
    assert calls == ["diffid_plugins"]


def test_unwritable_cache_dir_falls_back_to_private_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker / "cache"))  # fails even for root
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.warns(UserWarning, match=CACHE_DIR_ENV):
        directory = cache_dir()
    assert directory.is_relative_to(tmp_path / "tmp")
    assert directory.is_dir()
    if hasattr(os, "getuid"):
        assert directory.parent.stat().st_mode & 0o077 == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache_dir() == directory  # warned once


def test_load_is_memoised_and_written_to_cache_file() -> None:
    source = unique_source("memo")
    module = load_source_module(source)
    assert load_source_module(source) is module
    key = source_key(source)
    assert module.__name__ == f"diffid_plugins._generated.model_{key}"
    assert sys.modules[module.__name__] is module
    # numba rebuilds cached environments with importlib.import_module(__name__).
    assert importlib.import_module(module.__name__) is module
    path = Path(module.__file__ or "")
    assert path == cache_dir() / f"model_{key[:24]}.py"
    assert path.read_text(encoding="utf-8") == source
    assert not list(path.parent.glob("*.tmp"))

    other = load_source_module(source, prefix="solver")
    assert other is not module
    assert Path(other.__file__ or "").name == f"solver_{key[:24]}.py"


def test_source_key_depends_on_source_only_through_its_text() -> None:
    assert source_key("a = 1\n") == source_key("a = 1\n")
    assert source_key("a = 1\n") != source_key("a = 2\n")
    assert re.fullmatch(r"[0-9a-f]{64}", source_key(""))


@pytest.mark.parametrize("prefix", ["", "1model", "a-b", "a.b", "../x"])
def test_invalid_prefix_is_rejected(prefix: str) -> None:
    with pytest.raises(ValueError, match="`prefix` must be a Python identifier"):
        load_source_module("x = 1\n", prefix=prefix)


def test_linecache_and_inspect_show_generated_source() -> None:
    source = unique_source("linecache")
    module = load_source_module(source)
    path = module.__file__ or ""
    Path(path).unlink()  # the registered text survives the file
    linecache.checkcache()
    assert linecache.getline(path, 1) == source.splitlines(keepends=True)[0]
    import inspect

    py_func = getattr(module.f, "py_func", module.f)  # plain function under NUMBA_DISABLE_JIT
    assert "total += _helper(x[i])" in inspect.getsource(py_func)


def test_corrupted_file_is_rewritten() -> None:
    source = unique_source("corrupt")
    path = cache_dir() / f"model_{source_key(source)[:24]}.py"
    path.write_text("raise SystemExit('tampered')\n", encoding="utf-8")
    module = load_source_module(source)  # executes the source given, never the file's text
    assert module.SCALE == 3.0
    assert path.read_text(encoding="utf-8") == source


@pytest.mark.parametrize("winner", [b"same", b"other"])
def test_write_race_lost_to_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, winner: bytes
) -> None:
    # Another process creates the file between our existence check and our hard link.
    target = tmp_path / "model_x.py"
    real_link = os.link

    def racing_link(src: str, dst: Path) -> None:
        Path(dst).write_bytes(winner)
        real_link(src, dst)

    monkeypatch.setattr(_codecache.os, "link", racing_link)
    _codecache.write_atomically(target, b"same")
    assert target.read_bytes() == b"same"  # equal content kept, other content replaced
    assert [p.name for p in tmp_path.iterdir()] == ["model_x.py"]  # no temporary left


def test_write_without_hard_links_uses_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: str, dst: Path) -> None:
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(_codecache.os, "link", no_link)
    target = tmp_path / "model_x.py"
    _codecache.write_atomically(target, b"data")
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["model_x.py"]


@pytest.mark.parametrize(
    ("body", "cause"),
    [("def broken(:\n    pass\n", "SyntaxError"), ("x = undefined_name\n", "NameError")],
)
def test_broken_source_raises_runtime_error_naming_the_file(body: str, cause: str) -> None:
    source = f"# {uuid.uuid4().hex}\n{body}"
    path = cache_dir() / f"model_{source_key(source)[:24]}.py"
    with pytest.raises(RuntimeError, match="Internal error") as info:
        load_source_module(source)
    message = str(info.value)
    assert str(path) in message
    assert cause in message
    assert "bug" in message
    assert path.read_text(encoding="utf-8") == source  # kept for debugging
    assert f"diffid_plugins._generated.model_{source_key(source)}" not in sys.modules
    with pytest.raises(RuntimeError):  # not memoised
        load_source_module(source)


def test_clear_cache_removes_generated_files_only(cache_root: Path) -> None:
    source = unique_source("clear-1")
    first = load_source_module(source)
    load_source_module(unique_source("clear-2"))
    directory = cache_dir()
    (directory / "__pycache__").mkdir(exist_ok=True)  # numba may have made it
    (directory / "__pycache__" / "model_x.f-12.py311.nbi").write_bytes(b"")
    (directory / "notes.txt").write_text("user file")
    (cache_root / "unrelated.txt").write_text("user file")

    assert clear_cache() == 2
    assert generated_files(directory) == []
    assert not (directory / "__pycache__").exists()
    assert (directory / "notes.txt").exists()
    assert (cache_root / "unrelated.txt").exists()
    assert clear_cache() == 0

    again = load_source_module(source)  # the memo was emptied: written and imported again
    assert again is not first
    assert Path(again.__file__ or "").read_text(encoding="utf-8") == source


def test_module_does_not_import_numba() -> None:
    code = (
        "import sys, diffid_plugins._codecache, diffid_plugins._templates; "
        "assert 'numba' not in sys.modules, 'numba imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---------------------------------------------------------------------- numba's disk cache


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="needs numba's JIT (NUMBA_DISABLE_JIT set)")
def test_cold_compile_then_warm_load_in_fresh_process(tmp_path: Path, cache_root: Path) -> None:
    source = unique_source("warm")
    start = time.perf_counter()
    module = load_source_module(source)
    assert module.f(np.arange(4.0)) == EXPECTED
    cold = time.perf_counter() - start
    assert module.f.stats.cache_misses and not module.f.stats.cache_hits
    path = Path(module.__file__ or "")
    if not os.environ.get("NUMBA_CACHE_DIR"):  # numba's in-tree locator: next to the file
        assert list((path.parent / "__pycache__").glob(f"{path.stem}.f-*.nbi"))
        assert list((path.parent / "__pycache__").glob(f"{path.stem}.f-*.nbc"))

    source_file = tmp_path / "source.py.txt"
    source_file.write_text(source, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, str(source_file)],
        capture_output=True,
        text=True,
        env=child_env(cache_root),
        timeout=120,
    )
    report = parse_child(proc)
    assert report["value"] == EXPECTED
    assert report["file"] == str(path)
    assert report["hits"], report  # numba loaded f from its disk cache
    assert not report["misses"], report
    print(
        f"\ncold load+compile+call in-process: {cold:.3f} s; fresh process: "
        f"load+call {report['load_call_s']:.3f} s, imports {report['import_s']:.3f} s, "
        f"total {report['total_s']:.3f} s"
    )
    assert isinstance(report["load_call_s"], float) and report["load_call_s"] < 5.0


def test_two_processes_creating_the_same_module_at_once(tmp_path: Path) -> None:
    for repetition in range(3):
        root = tmp_path / f"cache-{repetition}"
        sync = tmp_path / f"sync-{repetition}"
        sync.mkdir()
        source = unique_source(f"race-{repetition}")
        source_file = tmp_path / f"source-{repetition}.py.txt"
        source_file.write_text(source, encoding="utf-8")
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD_SCRIPT, str(source_file), str(sync), str(i)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=child_env(root),
            )
            for i in range(2)
        ]
        deadline = time.monotonic() + 120
        while not all((sync / f"ready-{i}").exists() for i in range(2)):
            assert all(p.poll() is None for p in procs), "a child exited before the barrier"
            assert time.monotonic() < deadline, "children did not become ready"
            time.sleep(0.005)
        (sync / "go").touch()
        reports = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=120)
            reports.append(
                parse_child(
                    subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
                )
            )
        assert [r["value"] for r in reports] == [EXPECTED, EXPECTED]
        assert reports[0]["file"] == reports[1]["file"]
        path = Path(str(reports[0]["file"]))
        assert generated_files(path.parent) == [path]
        assert path.read_text(encoding="utf-8") == source
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
        assert not [p for p in (path.parent / "__pycache__").glob("*.tmp.*")]

    # After the race, the next process finds a usable numba cache.
    proc = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, str(source_file)],
        capture_output=True,
        text=True,
        env=child_env(root),
        timeout=120,
    )
    report = parse_child(proc)
    assert report["value"] == EXPECTED
    assert report["hits"] and not report["misses"], report


def test_clear_cache_removes_the_tiers_sidecar_files(cache_root: Path) -> None:
    """A ready mark must not outlive the specialised module it vouches for: clear_cache()
    removes ready marks, background logs, model texts and the background slot too."""
    module = load_source_module(unique_source("sidecar"), prefix="spec")
    path = Path(module.__file__ or "")
    directory = path.parent
    sidecars = [path.with_suffix(s) for s in (".ready", ".log", ".ds")]
    sidecars.append(directory / "background.lock")
    for f in sidecars:
        f.write_text("x")
    (directory / "keep.ready").write_text("not ours: no key in the name")
    assert clear_cache() == 1  # one generated module; sidecars are not counted
    assert not any(f.exists() for f in sidecars)
    assert (directory / "keep.ready").exists()

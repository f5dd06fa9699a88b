"""ParallelExecutor: timeouts, straggler resubmission, crashed workers and Ctrl-C.

Processes are checked without psutil: ``multiprocessing.active_children()`` for the
executor's own children and ``/proc`` for any process, zombie or not.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import _parallel_funcs as funcs
import pytest

from diffid_plugins.parallel import (
    ExecutionCancelledError,
    ParallelExecutor,
    TaskTimeoutError,
    WorkerDiedError,
)

HELPERS = Path(funcs.__file__).resolve().parent
REPO = HELPERS.parent.parent


def process_state(pid: int) -> str | None:
    """State letter of ``pid`` from /proc (``"Z"`` for a zombie), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def child_pids(pid: int) -> list[int]:
    """Every process (zombies included) whose parent is ``pid``, read from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def descendant_pids(pid: int) -> list[int]:
    """Children, grandchildren, ... of ``pid`` (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        found, frontier = [], [pid]
        while frontier:
            children = child_pids(frontier.pop())
            found += children
            frontier += children
        return found
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def wait_gone(pids: list[int], limit: float = 10.0) -> list[int]:
    """The pids that still exist (zombies included) after waiting up to ``limit`` seconds."""
    deadline = time.monotonic() + limit
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if process_state(pid) is not None]
        time.sleep(0.05)
    return alive


def wait_for_files(folder: Path, pattern: str, count: int, limit: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{count} files {pattern!r} did not appear in {folder}")


@pytest.mark.parametrize("straggler_limit", [0, 3])
def test_hung_task_is_killed_and_the_rest_completes(tmp_path: Path, straggler_limit: int) -> None:
    # straggler_limit=0: the hung attempt is killed at the timeout. straggler_limit=3: it
    # first gets a duplicate (DSPy), which hangs too and is killed with it one timeout later.
    data = [(i, 2, str(tmp_path)) for i in range(8)]
    before = set(multiprocessing.active_children())  # e.g. the shared executor's workers
    executor = ParallelExecutor(
        num_threads=2, timeout=0.5, straggler_limit=straggler_limit, disable_progress_bar=True
    )
    with executor:
        start = time.monotonic()
        results = executor.execute(funcs.hang_on, data)
        elapsed = time.monotonic() - start
        assert results == [0, 1, None, 3, 4, 5, 6, 7]
        assert executor.failed_indices == [2]
        assert isinstance(executor.exceptions_map[2], TaskTimeoutError)
        assert isinstance(executor.exceptions_map[2], TimeoutError)
        assert elapsed < 20
        hung = [int(p.read_text()) for p in tmp_path.glob("hung-*")]
        assert len(hung) == (1 if straggler_limit == 0 else 2)
        for pid in hung:
            assert process_state(pid) is None  # killed and reaped: no zombie
        mine = set(multiprocessing.active_children()) - before
        assert len(mine) <= 2 and not {p.pid for p in mine} & set(hung)
    assert set(multiprocessing.active_children()) <= before
    assert not set(child_pids(os.getpid())) & set(hung)


def test_straggler_duplicate_wins(tmp_path: Path) -> None:
    data = [(i, 3, str(tmp_path), 30.0) for i in range(6)]
    with ParallelExecutor(num_threads=2, timeout=0.4, disable_progress_bar=True) as executor:
        start = time.monotonic()
        results = executor.execute(funcs.slow_first_attempt, data)
        elapsed = time.monotonic() - start
        original_pid = int((tmp_path / "first-attempt").read_text())
        assert results[3][:2] == ("duplicate", 3)  # the faster duplicate's result is used
        assert results[3][2] != original_pid
        assert [r[1] for r in results] == list(range(6))
        assert executor.failed_indices == []
        assert elapsed < 20  # far less than the 30 s of the original attempt
        assert process_state(original_pid) is None  # the losing attempt was killed


def test_no_straggler_handling_when_timeout_is_zero(
    process_executor: ParallelExecutor, tmp_path: Path
) -> None:
    process_executor.timeout = 0
    data = [(i, 1, str(tmp_path), 0.8) for i in range(3)]
    results = funcs.run(process_executor, "slow_first_attempt", data)
    assert results[1][:2] == ("original", 1)


def test_thread_backend_abandons_timed_out_task(caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="diffid_plugins.parallel")
    data = [(0, 3.0)] + [(i, 0.01) for i in range(1, 6)]
    executor = ParallelExecutor(
        num_threads=2,
        backend="thread",
        timeout=0.3,
        straggler_limit=0,
        disable_progress_bar=True,
    )
    start = time.monotonic()
    results = executor.execute(funcs.sleep_and_return, data)
    assert time.monotonic() - start < 2.5
    assert results == [None, 1, 2, 3, 4, 5]
    assert isinstance(executor.exceptions_map[0], TaskTimeoutError)
    assert "cannot be stopped" in caplog.text


def test_crashed_worker_fails_its_item_and_is_replaced(
    process_executor: ParallelExecutor,
) -> None:
    results = funcs.run(process_executor, "crash_on", [(i, 1) for i in range(6)])
    assert results == [0, None, 2, 3, 4, 5]
    error = process_executor.exceptions_map[1]
    assert isinstance(error, WorkerDiedError) and "exited with code 3" in str(error)
    assert funcs.run(process_executor, "crash_on", [(0, 9), (1, 9)]) == [0, 1]


def test_sigint_with_ignored_handler_still_interrupts() -> None:
    # DSPy 3.4.1: when the previous handler is SIG_IGN/SIG_DFL, fall back to
    # default_int_handler. The handler is restored afterwards.
    def interrupt(x: int) -> int:
        if x == 0:
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        return x

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        executor = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
        with pytest.raises(KeyboardInterrupt):
            executor.execute(interrupt, [0, 1, 2])
        assert executor.cancel_jobs.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigint_with_non_raising_handler_cancels() -> None:
    calls: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))

    def interrupt(x: int) -> int:
        if x == 0:
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)
        return x

    try:
        executor = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
        with pytest.raises(ExecutionCancelledError):
            executor.execute(interrupt, list(range(6)))
        assert calls == [signal.SIGINT]  # the user's handler was chained
    finally:
        signal.signal(signal.SIGINT, previous)


def test_cancel_jobs_from_another_thread() -> None:
    executor = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
    threading.Timer(0.2, executor.cancel_jobs.set).start()
    with pytest.raises(ExecutionCancelledError):
        executor.execute(funcs.sleep_and_return, [(i, 0.1) for i in range(40)])


SCRIPT = """
import logging, multiprocessing, sys
sys.path.insert(0, {helpers!r})
from diffid_plugins.parallel import ParallelExecutor
import _parallel_funcs as funcs

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    executor = ParallelExecutor(num_threads=2, timeout=0, disable_progress_bar=True)
    try:
        executor.execute(funcs.record_pid_and_sleep, [({folder!r}, 1000.0)] * 4)
    except KeyboardInterrupt:
        print("INTERRUPTED", len(multiprocessing.active_children()), flush=True)
        sys.exit(0)
    print("NOT INTERRUPTED", flush=True)
"""


@pytest.mark.parametrize("target", ["process", "group"])
def test_keyboard_interrupt_leaves_no_child_process(tmp_path: Path, target: str) -> None:
    # "group" is what Ctrl-C in a terminal does: every process of the group gets SIGINT.
    script = tmp_path / "interrupt_me.py"
    script.write_text(textwrap.dedent(SCRIPT.format(helpers=str(HELPERS), folder=str(tmp_path))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(HELPERS)]))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        pid_files = wait_for_files(tmp_path, "pid-*", 2)
        workers = [int(p.read_text()) for p in pid_files]
        assert set(workers) <= set(child_pids(proc.pid))
        # Every descendant (workers and anything they or multiprocessing started), snapshot
        # before the interrupt: once the script exits, orphans would be re-parented to init.
        descendants = descendant_pids(proc.pid)
        assert set(workers) <= set(descendants)
        if target == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert "INTERRUPTED 0" in out, (out, err)
    assert "SIGINT received. Cancelling." in err
    for pid in workers:
        assert process_state(pid) is None
    assert wait_gone(descendants) == []  # no grandchild of the test survives

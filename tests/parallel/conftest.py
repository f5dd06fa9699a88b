"""Fixtures for the ParallelExecutor tests, and ``_parallel_funcs`` on ``sys.path``.

Worker processes receive functions pickled by reference (``_parallel_funcs.square``); they
inherit the parent's ``sys.path`` when they start, so putting this folder on it (whatever
pytest's import mode) lets them import the helper module.

Starting a pool of spawned workers costs about a second here, so the tests that do not kill
workers or count them share one process executor that always runs ``_parallel_funcs.dispatch``
(its pool is reused while the function is unchanged); its settings are reset before each test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from diffid_plugins.parallel import ParallelExecutor  # noqa: E402


@pytest.fixture(scope="session")
def _shared_process_executor() -> Iterator[ParallelExecutor]:
    executor = ParallelExecutor(num_threads=2, disable_progress_bar=True)
    yield executor
    executor.close()


@pytest.fixture
def process_executor(_shared_process_executor: ParallelExecutor) -> ParallelExecutor:
    """The shared 2-worker process executor, with default settings (no progress bar)."""
    executor = _shared_process_executor
    executor.max_errors = 10
    executor.disable_progress_bar = True
    executor.provide_traceback = False
    executor.compare_results = False
    executor.timeout = 120.0
    executor.straggler_limit = 3
    executor.return_failed_examples = False
    return executor


@pytest.fixture(params=["process", "thread"])
def executor(
    request: pytest.FixtureRequest, process_executor: ParallelExecutor
) -> Iterator[ParallelExecutor]:
    """The shared process executor, or a fresh 2-thread executor."""
    if request.param == "process":
        yield process_executor
        return
    threaded = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
    yield threaded
    threaded.close()

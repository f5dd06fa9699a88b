"""ParallelExecutor: ordering, failure bookkeeping, max_errors, state reset, progress, API.

Expected behaviour is DSPy's ``ParallelExecutor`` (``ecosystem-conventions.md`` section 4);
the max_errors tests are DSPy's own ``test_max_errors_handling`` / ``test_max_errors_not_met``.
Most tests run through ``_parallel_funcs.run``, which calls a named helper through
``dispatch`` so that the process tests share one pool (see ``conftest.py``).
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

import _parallel_funcs as funcs
import pytest

from diffid_plugins.parallel import (
    CANCELLED_MESSAGE,
    ExecutionCancelledError,
    ParallelExecutor,
    RemoteTaskError,
    WorkerStartError,
)


def test_results_are_in_input_order(executor: ParallelExecutor) -> None:
    # Later items finish first, so completion order is the reverse of input order.
    data = [(i, 0.02 * (6 - i)) for i in range(6)]
    assert funcs.run(executor, "sleep_and_return", data) == list(range(6))


def test_failures_give_none_and_are_recorded(executor: ParallelExecutor) -> None:
    results = funcs.run(executor, "double_unless_negative", [0, -1, 2, -3, 4])
    assert results == [0, None, 4, None, 8]
    assert executor.failed_indices == [1, 3]
    assert list(executor.exceptions_map) == [1, 3]
    assert all(isinstance(e, ValueError) for e in executor.exceptions_map.values())
    assert str(executor.exceptions_map[3]) == "negative item -3"
    assert executor.error_count == 2


def test_thread_and_process_backends_agree(process_executor: ParallelExecutor) -> None:
    data = [3, -1, 4, -1, 5, 9, -2, 6]
    threaded = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
    outcomes = []
    for executor in (process_executor, threaded):
        results = funcs.run(executor, "double_unless_negative", data)
        errors = {i: str(e) for i, e in executor.exceptions_map.items()}
        outcomes.append((results, executor.failed_indices, errors))
    assert outcomes[0] == outcomes[1]


def test_max_errors_cancels_with_dspy_message(executor: ParallelExecutor) -> None:
    executor.max_errors = 1
    with pytest.raises(Exception, match="Execution cancelled due to errors or interruption."):
        funcs.run(executor, "fail_on_three", [1, 2, 3, 4, 5])
    assert CANCELLED_MESSAGE == "Execution cancelled due to errors or interruption."
    assert executor.failed_indices == [2]


def test_max_errors_not_met_returns_results(executor: ParallelExecutor) -> None:
    executor.max_errors = 2
    assert funcs.run(executor, "fail_on_three", [1, 2, 3, 4, 5]) == [1, 2, None, 4, 5]


def test_max_errors_default_is_dspy_ten() -> None:
    assert ParallelExecutor().max_errors == 10
    executor = ParallelExecutor(num_threads=1, backend="thread", disable_progress_bar=True)
    with pytest.raises(ExecutionCancelledError):
        executor.execute(funcs.double_unless_negative, [-1] * 10 + [1])
    assert executor.error_count == 10


def test_cancellation_kills_running_process_tasks(
    process_executor: ParallelExecutor, tmp_path: Path
) -> None:
    process_executor.max_errors = 1
    data = [(0, 0.0, str(tmp_path)), (1, 60.0, str(tmp_path))]
    with pytest.raises(ExecutionCancelledError):
        funcs.run(process_executor, "fail_fast_or_sleep", data)
    pids = [int(p.read_text()) for p in tmp_path.glob("pid-*")]
    assert pids, "the long task never started"
    assert not set(pids) & {p.pid for p in multiprocessing.active_children()}
    # The pool stays usable after a cancellation.
    assert funcs.run(process_executor, "square", [1, 2, 3]) == [1, 4, 9]
    assert process_executor.failed_indices == []


def test_state_resets_between_calls(executor: ParallelExecutor) -> None:
    funcs.run(executor, "double_unless_negative", [1, -1, 2])
    assert executor.failed_indices == [1]
    assert funcs.run(executor, "double_unless_negative", [1, 2]) == [2, 4]
    assert executor.failed_indices == []
    assert executor.exceptions_map == {}
    assert executor.error_count == 0


def test_return_failed_examples(executor: ParallelExecutor) -> None:
    executor.return_failed_examples = True
    results, failed, exceptions = funcs.run(executor, "double_unless_negative", [-5, 1, -7])
    assert results == [None, 2, None]
    assert failed == [("double_unless_negative", -5), ("double_unless_negative", -7)]
    assert [str(e) for e in exceptions] == ["negative item -5", "negative item -7"]


def test_empty_data() -> None:
    with ParallelExecutor(num_threads=2, disable_progress_bar=True) as executor:
        assert executor.execute(funcs.square, []) == []
        assert executor._box.pool is None  # no worker started for nothing


def test_none_result_counts_as_success() -> None:
    executor = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
    assert executor.execute(lambda x: None, [1, 2]) == [None, None]
    assert executor.failed_indices == []


def test_sequential_mode_runs_on_calling_thread() -> None:
    executor = ParallelExecutor(num_threads=1, backend="thread", disable_progress_bar=True)
    names = executor.execute(lambda _: threading.current_thread().name, [0, 1])
    assert names == [threading.current_thread().name] * 2


def test_provide_traceback_logs_worker_traceback(executor: ParallelExecutor, caplog: Any) -> None:
    caplog.set_level(logging.ERROR, logger="diffid_plugins.parallel")
    executor.provide_traceback = True
    funcs.run(executor, "double_unless_negative", [1, -1])
    assert "-1): negative item -1\n" in caplog.text
    assert "Traceback" in caplog.text and "double_unless_negative" in caplog.text


def test_errors_logged_without_traceback_by_default(caplog: Any) -> None:
    caplog.set_level(logging.ERROR, logger="diffid_plugins.parallel")
    executor = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
    executor.execute(funcs.double_unless_negative, [-1])
    expected = "Error for -1: negative item -1. Set `provide_traceback=True` for traceback."
    assert expected in caplog.text
    assert "Traceback" not in caplog.text


def test_progress_bar_on_stdout(process_executor: ParallelExecutor, capsys: Any) -> None:
    process_executor.disable_progress_bar = False
    funcs.run(process_executor, "square", [1, 2, 3, 4, 5])
    captured = capsys.readouterr()
    assert "Processed 5 / 5 examples" in captured.out  # DSPy writes the bar to sys.stdout
    assert "5/5" in captured.out


def test_progress_bar_off(process_executor: ParallelExecutor, capsys: Any) -> None:
    funcs.run(process_executor, "square", [1, 2, 3])
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_compare_results(capsys: Any) -> None:
    executor = ParallelExecutor(num_threads=2, backend="thread", compare_results=True)
    executor.execute(lambda x: ("prediction", x % 2), [0, 1, 2, 3])
    assert "Average Metric: 2.00 / 4 (50.0%)" in capsys.readouterr().out


def test_missing_tqdm_warns_and_runs(monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    executor = ParallelExecutor(num_threads=1, backend="thread")
    with pytest.warns(UserWarning, match=r"tqdm is not installed.*diffid_plugins\[progress\]"):
        assert executor.execute(funcs.square, [2]) == [4]
    assert capsys.readouterr().out == ""


def test_unpicklable_function_names_the_fix() -> None:
    with pytest.raises(TypeError, match="backend='thread'"):
        ParallelExecutor(disable_progress_bar=True).execute(lambda x: x, [1])


def test_function_that_fails_to_load_in_worker() -> None:
    before = set(multiprocessing.active_children())
    with ParallelExecutor(num_threads=2, disable_progress_bar=True) as executor:
        with pytest.raises(WorkerStartError, match="cannot load me"):
            executor.execute(funcs.BrokenOnLoad(), [1, 2])
        assert set(multiprocessing.active_children()) <= before


def test_unpicklable_results_and_exceptions_are_recorded(
    process_executor: ParallelExecutor,
) -> None:
    assert funcs.run(process_executor, "return_unpicklable", [1]) == [None]
    assert isinstance(process_executor.exceptions_map[0], TypeError)
    assert "cannot be pickled" in str(process_executor.exceptions_map[0])
    funcs.run(process_executor, "raise_two_arg_error", [1])
    error = process_executor.exceptions_map[0]
    assert isinstance(error, RemoteTaskError)
    assert "TwoArgError: left-right" in str(error)
    assert "raise_two_arg_error" in str(error.__cause__)  # the worker's traceback


def test_unpicklable_item_fails_only_that_item(process_executor: ParallelExecutor) -> None:
    results = process_executor.execute(
        funcs.dispatch, [("square", 2), ("square", lambda: 0), ("square", 3)]
    )
    assert results == [4, None, 9]
    assert isinstance(process_executor.exceptions_map[1], TypeError)


def test_executor_pickles_without_its_pool(process_executor: ParallelExecutor) -> None:
    funcs.run(process_executor, "square", [1])
    clone = pickle.loads(pickle.dumps(process_executor))
    assert process_executor._box.pool is not None and clone._box.pool is None
    assert (clone.num_threads, clone.backend, clone.timeout) == (2, "process", 120.0)
    threaded = ParallelExecutor(num_threads=2, backend="thread", seed=3)
    threaded.disable_progress_bar = True
    threaded_clone = pickle.loads(pickle.dumps(threaded))
    assert threaded_clone.seed == 3
    assert threaded_clone.execute(funcs.square, [3]) == [9]


def test_defaults_follow_dspy() -> None:
    executor = ParallelExecutor()
    assert executor.timeout == 120 and executor.straggler_limit == 3
    assert executor.provide_traceback is False and executor.compare_results is False
    assert executor.disable_progress_bar is False
    assert executor.backend == "process" and executor.num_threads >= 1
    assert ParallelExecutor(num_threads=0).num_threads == executor.num_threads
    assert ParallelExecutor(timeout=None).timeout == 0


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"num_threads": -1}, r"`num_threads` must be an integer >= 1; got -1"),
        ({"num_threads": 1.5}, r"`num_threads`.*got 1.5"),
        ({"num_threads": True}, r"`num_threads`.*got True"),
        ({"max_errors": -1}, r"`max_errors` must be an integer >= 0; got -1"),
        ({"timeout": -1.0}, r"`timeout` must be a finite number of seconds >= 0; got -1.0"),
        ({"timeout": float("nan")}, r"`timeout`.*got nan"),
        ({"timeout": "10"}, r"`timeout`.*got '10'"),
        ({"straggler_limit": -2}, r"`straggler_limit` must be an integer >= 0; got -2"),
        ({"backend": "fork"}, r"`backend` must be 'process' or 'thread'; got 'fork'"),
        ({"seed": -5}, r"`seed` must be an integer >= 0; got -5"),
        ({"worker_env": {"OMP_NUM_THREADS": 2}}, r"`worker_env` must map str to str"),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        ParallelExecutor(**kwargs)


def test_invalid_call_arguments() -> None:
    executor = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
    with pytest.raises(TypeError, match="`function` must be callable; got int"):
        executor.execute(3, [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`data` must support len\(\).*list\(...\)"):
        executor.execute(funcs.square, (x for x in [1]))  # type: ignore[arg-type]


def test_concurrent_calls_on_one_executor_are_refused() -> None:
    executor = ParallelExecutor(num_threads=2, backend="thread", disable_progress_bar=True)
    started = threading.Event()

    def block(x: int) -> int:
        started.set()
        threading.Event().wait(0.5)
        return x

    worker = threading.Thread(target=executor.execute, args=(block, [1]))
    worker.start()
    started.wait(5)
    with pytest.raises(RuntimeError, match="already running a call in another thread"):
        executor.execute(funcs.square, [1])
    worker.join()

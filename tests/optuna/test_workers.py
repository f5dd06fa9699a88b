"""Several worker processes run ``optimize`` on one study: journal file and PostgreSQL.

The layout under test (``diffid_plugins.optuna._driver``, "Workers and islands"): every worker
process runs its own CMA-ES island and records finished trials into the shared study. What
must hold, whatever the interleaving:

* every worker records exactly its ``n_trials``, tagged with its own island;
* no point is evaluated twice: ``(island, run, generation, row)`` is unique in the study;
* every recorded value is the problem's cost of the recorded parameters, bit for bit
  (recomputed here with one ``evaluate_batch`` of all recorded rows: the same kernel);
* a worker killed with SIGKILL mid-run leaves only finished trials (the driver creates
  trials already finished), the other workers finish their counts, and the study can be
  continued and read (``best_params``, ``trials_dataframe``) afterwards.

The PostgreSQL server is real (``tests/_fixtures/postgres.py``, from the ``pgserver`` wheel);
the tests skip, naming the reason, only when it cannot start here.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("cmaes")

from optuna.storages import JournalStorage  # noqa: E402
from optuna.storages.journal import JournalFileBackend  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from diffid_plugins import Problem, compile_model  # noqa: E402
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text  # noqa: E402
from tests._fixtures.postgres import (  # noqa: E402
    ServerUnavailable,
    start_server,
    stop_server,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
REPO = Path(__file__).resolve().parents[2]
ATTR = "diffid_cma"
WORKER_TIMEOUT = 300.0  # seconds a worker may take (generous: 2 shared cores, cold caches)

# One worker: open the study from its storage, run optimize with its own sampler (seed),
# print "ready" once the problem is compiled (the parent starts timing kills after that).
WORKER = textwrap.dedent(
    """
    import sys
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from diffid_plugins import Problem, compile_model
    from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text
    from diffid_plugins.optuna import CmaEsSampler, optimize

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind, where, seed, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    storage = JournalStorage(JournalFileBackend(where)) if kind == "journal" else where
    problem = Problem(compile_model(tutorial_text()), tutorial_data(), bounds=TUTORIAL_BOX)
    study = optuna.load_study(
        study_name="workers", storage=storage, sampler=CmaEsSampler(seed=seed)
    )
    print("ready", flush=True)
    optimize(study, problem, n_trials=n_trials, n_threads=1)
    print("done", flush=True)
    """
)


@pytest.fixture(scope="module")
def problem() -> Problem:
    return Problem(compile_model(tutorial_text()), tutorial_data(), bounds=TUTORIAL_BOX)


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        server = start_server()
    except ServerUnavailable as exc:
        # a user's machine may be unable to run PostgreSQL (the reason is printed); CI sets
        # DIFFID_REQUIRE_POSTGRES=1 (.ci/run), where the test extra installs pgserver, so
        # there a server that does not start is a failure, not a skip
        if os.environ.get("DIFFID_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"DIFFID_REQUIRE_POSTGRES=1 but no PostgreSQL server: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server.url
    finally:
        stop_server(server)


def _storage(kind: str, where: str) -> Any:
    return JournalStorage(JournalFileBackend(where)) if kind == "journal" else where


def _start(kind: str, where: str, seed: int, n_trials: int) -> subprocess.Popen[str]:
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    env["DIFFID_PLUGINS_BACKGROUND"] = "0"
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, kind, where, str(seed), str(n_trials)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(REPO),
    )


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        _, err = proc.communicate(timeout=WORKER_TIMEOUT)
        raise AssertionError(f"worker did not start: {line!r}\n{err}")


def _finish(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=WORKER_TIMEOUT)
    assert proc.returncode == 0, f"worker failed (exit {proc.returncode}):\n{err}"
    assert "done" in out


def _where(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh journal file, or the session's PostgreSQL server."""
    if kind == "journal":
        return str(tmp_path / "study.log")
    return str(request.getfixturevalue("postgres_url"))


def _new_study(kind: str, where: str) -> optuna.Study:
    """A new study named "workers" (a previous test's one on the same server is deleted)."""
    storage = _storage(kind, where)
    if kind == "postgres" and _exists(where):
        optuna.delete_study(study_name="workers", storage=storage)
    return optuna.create_study(study_name="workers", storage=storage)


def _check_consistent(study: optuna.Study, problem: Problem) -> dict[int, int]:
    """The invariants of the module docstring; returns trials per island."""
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state for t in trials)
    assert set(states) <= {TrialState.COMPLETE, TrialState.FAIL}, states
    tags = [t.system_attrs[ATTR] for t in trials]
    keys = [(a["island"], a["run"], a["generation"], a["row"]) for a in tags if "start" not in a]
    assert len(keys) == len(set(keys)), "a point of some generation was recorded twice"
    names = problem.parameter_names
    X = np.array([[t.params[n] for n in names] for t in trials])
    costs = problem.evaluate_batch(X, n_threads=1)
    for t, c in zip(trials, costs, strict=True):
        if t.state == TrialState.COMPLETE:
            assert t.value == c  # bit for bit: the same kernel on the same rows
        else:
            assert not math.isfinite(c)
    return dict(Counter(a["island"] for a in tags))


@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_two_workers_share_one_study(
    kind: str, problem: Problem, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = _where(kind, tmp_path, request)
    _new_study(kind, where)
    n = 120
    procs = [_start(kind, where, seed, n) for seed in (1, 2)]
    for proc in procs:
        _wait_ready(proc)
    for proc in procs:
        _finish(proc)
    study = optuna.load_study(study_name="workers", storage=_storage(kind, where))
    per_island = _check_consistent(study, problem)
    assert sorted(per_island.values()) == [n, n], per_island
    assert len(study.trials) == 2 * n
    assert set(study.best_params) == set(problem.parameter_names)


def _exists(url: str) -> bool:
    return any(s.study_name == "workers" for s in optuna.get_all_study_summaries(url))


def _count(kind: str, where: str) -> int:
    study = optuna.load_study(study_name="workers", storage=_storage(kind, where))
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)))


def _wait_for(kind: str, where: str, n: int, victim: subprocess.Popen[str]) -> None:
    """Wait until the study holds ``n`` finished trials (the victim must still run)."""
    deadline = time.monotonic() + WORKER_TIMEOUT
    while _count(kind, where) < n:
        assert victim.poll() is None, "the victim stopped by itself"
        assert time.monotonic() < deadline, f"fewer than {n} trials recorded"
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_a_killed_worker_leaves_the_study_consistent(
    kind: str, problem: Problem, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = _where(kind, tmp_path, request)
    _new_study(kind, where)
    victim = _start(kind, where, 7, 10**7)  # would run for hours
    _wait_ready(victim)
    # Mid-run: the victim has recorded its start point and its first generation (before
    # that, its claimed start trial is still RUNNING; see the driver's module notes).
    _wait_for(kind, where, 10, victim)
    n = 80
    others = [_start(kind, where, seed, n) for seed in (8, 9)]
    for proc in others:
        _wait_ready(proc)
    _wait_for(kind, where, 60, victim)  # the victim and the others are recording
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=WORKER_TIMEOUT)
    assert victim.returncode == -signal.SIGKILL
    for proc in others:
        _finish(proc)
    study = optuna.load_study(study_name="workers", storage=_storage(kind, where))
    per_island = _check_consistent(study, problem)
    assert len(per_island) == 3, per_island
    counts = sorted(per_island.values())
    assert counts.count(n) >= 2, per_island  # the survivors recorded exactly their budget
    # The study goes on: a new worker in this process adds exactly its trials.
    from diffid_plugins.optuna import CmaEsSampler, optimize

    before = len(study.trials)
    study = optuna.load_study(
        study_name="workers", storage=_storage(kind, where), sampler=CmaEsSampler(seed=11)
    )
    optimize(study, problem, n_trials=20, n_threads=1)
    assert len(study.trials) == before + 20
    _check_consistent(study, problem)
    frame = study.trials_dataframe()
    assert len(frame) == before + 20
    assert math.isfinite(study.best_value)

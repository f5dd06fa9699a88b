"""Scout generations through the sampler and the batch driver (``CmaEsSampler(scout=N)``).

Runs are made to stop after one generation with ``stop_rules={"tolx": 1.0}`` (sigma0 is 0.1
box widths, so after the first generation every coordinate of ``sigma * sqrt(diag C)`` and of
``sigma * p_c`` is below one box width and the tolx rule fires): a restart, and so a scout,
follows every generation. Expected values come from the problem itself (recorded values equal
``evaluate_batch`` of the recorded parameters bit for bit) and from the engine's contract
(the next run's mean is the best scout row).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("cmaes")

from optuna.storages import JournalStorage  # noqa: E402
from optuna.storages.journal import JournalFileBackend  # noqa: E402
from optuna.trial import Trial  # noqa: E402

from diffid_plugins import Problem, compile_model  # noqa: E402
from diffid_plugins.errors import ArgumentError, ArgumentTypeError  # noqa: E402
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text  # noqa: E402
from diffid_plugins.optuna import CmaEsSampler, optimize  # noqa: E402
from diffid_plugins.optuna._sampler import DEFAULT_SCOUT  # noqa: E402
from tests._fixtures.counting import Counting  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
NAMES = ["a", "b", "d", "g"]
POPSIZE = 8  # 4 + floor(3 ln 4)
ONE_GENERATION = {"tolx": 1.0}


@pytest.fixture(scope="module")
def problem() -> Problem:
    return Problem(compile_model(tutorial_text()), tutorial_data(), bounds=TUTORIAL_BOX)


def matrix(trials: list[Any]) -> np.ndarray:
    return np.array([[t.params[n] for n in NAMES] for t in trials])


def test_driver_records_a_scout_generation_as_one_batch_with_its_tags(problem: Problem) -> None:
    counting = Counting(problem)
    sampler = CmaEsSampler(seed=0, scout=12, stop_rules=ONE_GENERATION)
    study = optuna.create_study(sampler=sampler)
    optimize(study, counting, n_trials=1 + POPSIZE + 12, n_threads=1)
    assert counting.calls == [1 + POPSIZE, 12]  # the scout is one evaluate_batch call
    tags = [t.system_attrs["diffid_cma"] for t in study.trials]
    assert tags[0] == {"island": 0, "start": 1}
    assert tags[1:9] == [
        {"island": 0, "run": 0, "generation": 0, "popsize": POPSIZE, "row": r} for r in range(8)
    ]
    assert tags[9:] == [
        {"island": 0, "run": 1, "generation": 1, "popsize": 12, "row": r, "scout": 1}
        for r in range(12)
    ]
    scout = study.trials[9:]
    X = matrix(scout)
    lower, upper = np.array(TUTORIAL_BOX).T
    assert np.all((lower <= X) & (upper >= X))
    values = np.array([np.inf if t.value is None else t.value for t in scout])
    assert np.array_equal(values, problem.evaluate_batch(X, n_threads=1))
    engine = next(iter(sampler.slots.values())).engine
    assert not engine.scouting and engine.popsize == 2 * POPSIZE and engine.n_restarts == 1
    # run 1 starts at the best scout trial (the engine searches ln(x): the log-scaled box)
    assert np.array_equal(np.exp(engine.mean), X[np.argmin(values)])
    # the next generation is run 1's, around that mean, without the scout tag
    optimize(study, counting, n_trials=2 * POPSIZE, n_threads=1)
    assert counting.calls[-1] == 2 * POPSIZE
    tags = [t.system_attrs["diffid_cma"] for t in study.trials[21:]]
    assert all(a["run"] == 1 and a["generation"] == 2 and "scout" not in a for a in tags)
    assert engine.history[1]["start"] == "scout"
    assert engine.history[1]["scout_best_f"] == values.min()


def test_scout_zero_restarts_without_scout_trials(problem: Problem) -> None:
    sampler = CmaEsSampler(seed=0, scout=0, stop_rules=ONE_GENERATION)
    study = optuna.create_study(sampler=sampler)
    optimize(study, problem, n_trials=1 + POPSIZE + 2 * POPSIZE, n_threads=1)
    tags = [t.system_attrs["diffid_cma"] for t in study.trials[1:]]
    assert [(a["run"], a["popsize"]) for a in tags] == [(0, 8)] * 8 + [(1, 16)] * 16
    assert not any("scout" in a for a in tags)


def test_split_run_mid_scout_continues_from_storage(problem: Problem, tmp_path: Path) -> None:
    """A worker stops in the middle of a scout generation; a new worker (state from storage)
    adopts the recorded scout rows and evaluates only the rest: the same trials as one
    uninterrupted run."""

    def run(path: Path, parts: list[int]) -> np.ndarray:
        storage = JournalStorage(JournalFileBackend(str(path)))
        optuna.create_study(study_name="s", storage=storage)
        for n in parts:
            sampler = CmaEsSampler(
                seed=4, scout=12, stop_rules=ONE_GENERATION, store_state_in_storage=True
            )
            study = optuna.load_study(study_name="s", storage=storage, sampler=sampler)
            optimize(study, problem, n_trials=n, n_threads=1, island=0)
        return matrix(study.trials)

    split = run(tmp_path / "a.log", [1 + POPSIZE + 5, 7 + 2 * POPSIZE])
    whole = run(tmp_path / "b.log", [1 + POPSIZE + 12 + 2 * POPSIZE])
    assert np.array_equal(split, whole)


def sphere2(trial: Trial) -> float:
    """Minimum 0 at (0.3, -0.2)."""
    x = trial.suggest_float("x", -1.0, 1.0)
    y = trial.suggest_float("y", -1.0, 1.0)
    return (x - 0.3) ** 2 + (y + 0.2) ** 2


def test_study_optimize_trials_of_a_scout_are_tagged() -> None:
    sampler = CmaEsSampler(seed=5, scout=10, stop_rules=ONE_GENERATION)
    study = optuna.create_study(sampler=sampler)
    study.optimize(sphere2, n_trials=1 + 6 + 10 + 12)  # start, run 0, scout, run 1 (d = 2)
    tags = [t.system_attrs.get("diffid_cma", {}) for t in study.trials]
    scout = [t for t, a in zip(study.trials, tags, strict=True) if a.get("scout") == 1]
    assert len(scout) == 10
    assert {(a["run"], a["popsize"]) for a in tags if a.get("scout") == 1} == {(1, 10)}
    engine = next(iter(sampler.slots.values())).engine
    best = min(scout, key=lambda t: t.value)
    assert engine.history[1]["start"] == "scout"
    assert engine.history[1]["scout_best_f"] == best.value


def test_default_and_bad_scout_arguments() -> None:
    assert CmaEsSampler()._options["scout"] == DEFAULT_SCOUT
    with pytest.raises(ArgumentError, match="`scout` must be >= 0"):
        CmaEsSampler(scout=-1)
    with pytest.raises(ArgumentTypeError, match="`scout` must be an int"):
        CmaEsSampler(scout=1.5)  # type: ignore[arg-type]

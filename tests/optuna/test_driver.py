"""The batch driver ``optimize(study, problem, ...)`` on the seed tutorial problem.

Expected values come from the problem itself: every recorded value must equal
``problem.evaluate_batch`` of the recorded parameters bit for bit (same rows, same kernel).
"""

from __future__ import annotations

import importlib.util
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
from diffid_plugins._status_codes import describe_status  # noqa: E402
from diffid_plugins.errors import ArgumentError, ArgumentTypeError  # noqa: E402
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text  # noqa: E402
from diffid_plugins.optuna import CmaEsSampler, optimize  # noqa: E402
from tests._fixtures.counting import Counting  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
NAMES = ["a", "b", "d", "g"]
POPSIZE = 8  # 4 + floor(3 ln 4)


@pytest.fixture(scope="module")
def model() -> Any:
    return compile_model(tutorial_text())


@pytest.fixture(scope="module")
def problem(model: Any) -> Problem:
    return Problem(model, tutorial_data(), bounds=TUTORIAL_BOX)


def matrix(study: optuna.Study) -> np.ndarray:
    return np.array([[t.params[n] for n in NAMES] for t in study.trials])


def test_trials_equal_evaluate_batch_bit_for_bit(problem: Problem) -> None:
    counting = Counting(problem)
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, counting, n_trials=1 + 3 * POPSIZE, n_threads=1)
    assert len(study.trials) == 1 + 3 * POPSIZE
    assert counting.calls == [1 + POPSIZE, POPSIZE, POPSIZE]  # one call per generation
    X = matrix(study)
    # the start point: the centre of the search box, which is log-scaled (positive bounds):
    # the geometric centre exp((ln lo + ln hi) / 2)
    log_box = np.log(TUTORIAL_BOX)
    assert np.array_equal(X[0], np.exp(0.5 * (log_box[:, 0] + log_box[:, 1])))
    costs = problem.evaluate_batch(X, n_threads=1)
    values = np.array([np.inf if t.value is None else t.value for t in study.trials])
    assert np.array_equal(values, costs)
    assert study.best_value == costs.min()
    assert list(study.best_params) == NAMES
    for t in study.trials:
        for name, (lo, hi) in zip(NAMES, TUTORIAL_BOX, strict=True):
            assert t.distributions[name] == optuna.distributions.FloatDistribution(
                lo, hi, log=True
            )
    tags = [t.system_attrs["diffid_cma"] for t in study.trials]
    assert tags[0] == {"island": 0, "start": 1}
    assert [a["generation"] for a in tags[1:]] == [0] * 8 + [1] * 8 + [2] * 8
    if importlib.util.find_spec("pandas") is not None:  # trials_dataframe needs pandas
        assert len(study.trials_dataframe()) == len(study.trials)


def test_log_scale_false_searches_linearly_from_the_box_centre(problem: Problem) -> None:
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, problem, n_trials=1 + POPSIZE, n_threads=1, log_scale=False)
    X = matrix(study)
    assert np.array_equal(X[0], TUTORIAL_BOX.mean(axis=1))  # (lo + hi) / 2, exact in binary
    assert np.all((TUTORIAL_BOX[:, 0] <= X) & (TUTORIAL_BOX[:, 1] >= X))
    for t in study.trials:
        for name, (lo, hi) in zip(NAMES, TUTORIAL_BOX, strict=True):
            assert t.distributions[name] == optuna.distributions.FloatDistribution(lo, hi)


def test_log_scale_true_needs_positive_bounds(model: Any) -> None:
    box = np.array(TUTORIAL_BOX)
    box[2, 0] = 0.0
    zero = Problem(model, tutorial_data(), bounds=box)
    with pytest.raises(ArgumentError, match="'d' has lower bound 0.0"):
        optimize(optuna.create_study(), zero, n_trials=5, log_scale=True)
    with pytest.raises(ArgumentTypeError, match="log_scale"):
        optimize(optuna.create_study(), zero, n_trials=5, log_scale="yes")  # type: ignore[arg-type]
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, zero, n_trials=3, n_threads=1)  # default: log where lower > 0 only
    dists = study.trials[0].distributions
    assert [dists[n].log for n in NAMES] == [True, True, False, True]


def test_exact_counts_and_partial_generations_continue(problem: Problem) -> None:
    counting = Counting(problem)
    study = optuna.create_study(sampler=CmaEsSampler(seed=1))
    optimize(study, counting, n_trials=5, n_threads=1)
    optimize(study, counting, n_trials=7, n_threads=1)
    optimize(study, counting, n_trials=1, n_threads=1)
    assert len(study.trials) == 13
    # 1 start + 4 rows; the other 4 rows of generation 0, then 3 of generation 1; 1 more
    assert counting.calls == [5, 4, 3, 1]
    gens = [t.system_attrs["diffid_cma"].get("generation") for t in study.trials[1:]]
    assert gens == [0] * 8 + [1] * 4
    rows = [t.system_attrs["diffid_cma"]["row"] for t in study.trials[1:]]
    assert rows == list(range(8)) + list(range(4))
    same = optuna.create_study(sampler=CmaEsSampler(seed=1))
    optimize(same, problem, n_trials=13, n_threads=1)
    assert np.array_equal(matrix(same), matrix(study))  # splitting changes nothing


def test_failures_are_fail_trials_with_status(model: Any) -> None:
    short = Problem(model, tutorial_data(), bounds=TUTORIAL_BOX, max_steps=60)
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, short, n_trials=2 * POPSIZE + 1, n_threads=1)
    costs, statuses = short.evaluate_batch(matrix(study), n_threads=1, return_status=True)
    assert np.isinf(costs).any()  # max_steps=60 is too few for most of the box
    for t, cost, status in zip(study.trials, costs, statuses, strict=True):
        if np.isfinite(cost):
            assert t.state == TrialState.COMPLETE and t.value == cost
        else:
            assert t.state == TrialState.FAIL and t.value is None
            assert t.user_attrs["status"] == status != 0
            assert t.user_attrs["message"] == describe_status(int(status)).message


def test_callbacks_get_each_recorded_trial(problem: Problem) -> None:
    seen: list[int] = []

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        assert trial.state.is_finished()
        seen.append(trial.number)

    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, problem, n_trials=20, n_threads=1, callbacks=[callback])
    assert seen == list(range(20))

    def stopper(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        study.stop()

    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, problem, n_trials=100, n_threads=1, callbacks=[stopper])
    assert len(study.trials) == 1 + POPSIZE  # stops after the first generation


def test_timeout_stops_between_generations(problem: Problem) -> None:
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, problem, timeout=0.05, n_threads=1)
    assert len(study.trials) >= 1 + POPSIZE
    assert (len(study.trials) - 1) % POPSIZE == 0  # whole generations only


def test_any_other_sampler_is_asked_in_batches(problem: Problem) -> None:
    counting = Counting(problem)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    optimize(study, counting, n_trials=20, n_threads=1)
    assert counting.calls == [8, 8, 4]
    values = np.array([np.inf if t.value is None else t.value for t in study.trials])
    assert np.array_equal(values, problem.evaluate_batch(matrix(study), n_threads=1))


def test_islands_claimed_per_worker_evaluate_nothing_twice(
    problem: Problem, tmp_path: Path
) -> None:
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "j.log")))
    optuna.create_study(study_name="s", storage=storage)
    for _ in range(2):  # two workers, one after the other, each with its own sampler
        study = optuna.load_study(study_name="s", storage=storage, sampler=CmaEsSampler(seed=0))
        optimize(study, problem, n_trials=1 + 2 * POPSIZE, n_threads=1)
    islands = [t.system_attrs["diffid_cma"]["island"] for t in study.trials]
    assert islands == [0] * 17 + [17] * 17
    X = matrix(study)
    assert len(np.unique(X, axis=0)) == len(X)


def test_stored_state_lets_a_new_worker_continue_an_island(
    problem: Problem, tmp_path: Path
) -> None:
    """Split run (the second worker continues island 0 from storage, adopting the rows of the
    open generation already recorded) == one uninterrupted run."""

    def run(path: Path, parts: list[int]) -> np.ndarray:
        storage = JournalStorage(JournalFileBackend(str(path)))
        optuna.create_study(study_name="s", storage=storage)
        for n in parts:
            sampler = CmaEsSampler(seed=2, store_state_in_storage=True)
            study = optuna.load_study(study_name="s", storage=storage, sampler=sampler)
            optimize(study, problem, n_trials=n, n_threads=1, island=0)
        return matrix(study)

    split = run(tmp_path / "a.log", [1 + 2 * POPSIZE + 3, 2 * POPSIZE - 3])
    whole = run(tmp_path / "b.log", [1 + 4 * POPSIZE])
    assert np.array_equal(split, whole)


def test_study_optimize_and_the_driver_share_the_sampler(problem: Problem) -> None:
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    optimize(study, problem, n_trials=9, n_threads=1)

    def objective(trial: optuna.Trial) -> float:
        x = [
            trial.suggest_float(n, lo, hi, log=True)
            for n, (lo, hi) in zip(NAMES, TUTORIAL_BOX, strict=True)
        ]
        return float(problem.evaluate(np.array(x)))

    # the same engine (island 0, same space: the driver's default log scale)
    study.optimize(objective, n_trials=8)
    gens = [t.system_attrs["diffid_cma"].get("generation") for t in study.trials[9:]]
    assert gens == [1] * 8


@pytest.mark.parametrize(
    ("make", "kwargs", "error", "match"),
    [
        (lambda: optuna.create_study(direction="maximize"), {}, ArgumentError, "maximize"),
        (lambda: optuna.create_study(directions=["minimize"] * 2), {}, ArgumentError, "2 obj"),
        (lambda: "study", {}, ArgumentTypeError, "optuna.Study"),
        (optuna.create_study, {"n_trials": 0}, ArgumentError, "n_trials.*positive"),
        (optuna.create_study, {"n_trials": -3}, ArgumentError, "n_trials"),
        (optuna.create_study, {"n_trials": 2.5}, ArgumentTypeError, "n_trials"),
        (optuna.create_study, {"n_trials": True}, ArgumentTypeError, "n_trials"),
        (optuna.create_study, {"timeout": 0}, ArgumentError, "timeout"),
        (optuna.create_study, {"island": -1}, ArgumentError, "island"),
        (optuna.create_study, {"callbacks": [1]}, ArgumentTypeError, "callbacks"),
    ],
)
def test_bad_input(problem: Problem, make: Any, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        optimize(make(), problem, **{"n_trials": 1, **kwargs})


def test_bad_problems_and_x0(model: Any, problem: Problem) -> None:
    unbounded = Problem(model, tutorial_data())
    with pytest.raises(ArgumentError, match=r"'a' has bounds \(-inf, inf\).*bounds="):
        optimize(optuna.create_study(), unbounded, n_trials=1)
    with pytest.raises(ArgumentTypeError, match="problem"):
        optimize(optuna.create_study(), object(), n_trials=1)  # type: ignore[arg-type]
    study = optuna.create_study(sampler=CmaEsSampler(x0={"alpha": 1.0}))
    with pytest.raises(ArgumentError, match=r"\['alpha'\].*\['a', 'b', 'd', 'g'\]"):
        optimize(study, problem, n_trials=1)

"""``CmaEsSampler`` through ``study.optimize`` and ask/tell on closed-form objectives.

Expected optima are closed form (the minimiser of each objective is written next to it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("cmaes")

from optuna.storages import JournalStorage  # noqa: E402
from optuna.storages.journal import JournalFileBackend  # noqa: E402
from optuna.trial import Trial, TrialState  # noqa: E402

from diffid_plugins.errors import ArgumentError, ArgumentTypeError  # noqa: E402
from diffid_plugins.optuna import CmaEsSampler  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def mixed(trial: Trial) -> float:
    """Minimum 0 at x = 1, y = 2 (log-scaled), k = 3 (int)."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", 1e-3, 10.0, log=True)
    k = trial.suggest_int("k", -10, 10)
    return (x - 1.0) ** 2 + (math.log(y) - math.log(2.0)) ** 2 + (k - 3) ** 2


def sphere2(trial: Trial) -> float:
    """Minimum 0 at (0.3, -0.2)."""
    x = trial.suggest_float("x", -1.0, 1.0)
    y = trial.suggest_float("y", -1.0, 1.0)
    return (x - 0.3) ** 2 + (y + 0.2) ** 2


def cma_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if "row" in t.system_attrs.get("diffid_cma", {})]


def test_converges_on_sphere_with_log_and_int_parameters() -> None:
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    study.optimize(mixed, n_trials=400)
    assert study.best_params["k"] == 3
    assert abs(study.best_params["x"] - 1.0) < 1e-2
    assert abs(math.log(study.best_params["y"] / 2.0)) < 1e-2
    assert all(isinstance(t.params["k"], int) for t in study.trials)


def test_first_trial_is_the_centre_then_x0() -> None:
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    study.optimize(mixed, n_trials=1)
    # centre of [-5, 5]; geometric centre of [1e-3, 10] = 0.1; centre of the ints
    assert study.trials[0].params["x"] == 0.0
    assert study.trials[0].params["y"] == pytest.approx(0.1, rel=1e-12)
    assert study.trials[0].params["k"] == 0
    study = optuna.create_study(sampler=CmaEsSampler(seed=0, x0={"x": 2.5, "y": 3.0, "k": 7}))
    study.optimize(mixed, n_trials=1)
    assert study.trials[0].params["x"] == 2.5
    assert study.trials[0].params["y"] == pytest.approx(3.0, rel=1e-12)
    assert study.trials[0].params["k"] == 7


def test_first_generation_is_around_x0() -> None:
    """The first generation is drawn around x0 (sigma0 = 0.01 box widths), not at random."""
    sampler = CmaEsSampler(seed=3, x0={"x": 0.5, "y": 0.5}, sigma0=0.01)
    study = optuna.create_study(sampler=sampler)
    study.optimize(sphere2, n_trials=7)
    gen0 = [t for t in cma_trials(study) if t.system_attrs["diffid_cma"]["generation"] == 0]
    assert len(gen0) == 6  # popsize 4 + floor(3 ln 2)
    for t in gen0:  # 6 standard deviations of 0.02
        assert abs(t.params["x"] - 0.5) < 0.12 and abs(t.params["y"] - 0.5) < 0.12


def test_ipop_restarts_grow_the_population_in_system_attrs() -> None:
    sampler = CmaEsSampler(seed=1, stop_rules={"tolfun": 1e-3, "tolx": 1e-3}, scout=20)
    study = optuna.create_study(sampler=sampler)
    study.optimize(sphere2, n_trials=600)
    tags = [t.system_attrs["diffid_cma"] for t in cma_trials(study)]
    # scout trials (uniform draws before each restart) carry "scout": 1 and popsize = scout
    popsize_of_run = {a["run"]: a["popsize"] for a in tags if "scout" not in a}
    assert {a["popsize"] for a in tags if "scout" in a} == {20}
    assert len(popsize_of_run) >= 3, popsize_of_run
    for run in range(1, len(popsize_of_run)):
        assert popsize_of_run[run] == 2 * popsize_of_run[run - 1]
    engine = next(iter(sampler.slots.values())).engine
    assert engine.n_restarts == max(a["run"] for a in tags)
    assert [h["popsize"] for h in engine.history] == [
        popsize_of_run[r] for r in range(len(engine.history))
    ]


def test_maximize_is_supported_by_negating() -> None:
    study = optuna.create_study(direction="maximize", sampler=CmaEsSampler(seed=2))
    study.optimize(lambda t: -sphere2(t), n_trials=200)
    assert study.best_params["x"] == pytest.approx(0.3, abs=1e-3)
    assert study.best_params["y"] == pytest.approx(-0.2, abs=1e-3)


def test_nan_and_failed_trials_are_told_as_failures() -> None:
    def objective(trial: Trial) -> float:
        value = sphere2(trial)
        if trial.params["x"] > 0.6:
            return float("nan")  # Optuna records a FAIL trial
        return value

    study = optuna.create_study(sampler=CmaEsSampler(seed=4))
    study.optimize(objective, n_trials=200)
    assert any(t.state == TrialState.FAIL for t in study.trials)
    assert study.best_value < 1e-6


@pytest.mark.parametrize("n_jobs", [2])
def test_threads_share_one_engine(n_jobs: int) -> None:
    sampler = CmaEsSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(sphere2, n_trials=300, n_jobs=n_jobs)
    assert len(study.trials) == 300
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    engine = next(iter(sampler.slots.values())).engine
    # every trial with a row and a result is told except the open generation
    assert engine.n_evals >= len(cma_trials(study)) - engine.popsize
    assert study.best_value < 1e-4


def test_abandoned_rows_are_told_as_failures_after_a_population_of_extra_trials() -> None:
    study = optuna.create_study(sampler=CmaEsSampler(seed=0))
    study.optimize(sphere2, n_trials=1)  # the start trial: now the space is known
    asked = [study.ask() for _ in range(13)]
    for t in asked:
        t.suggest_float("x", -1.0, 1.0)
        t.suggest_float("y", -1.0, 1.0)
    tags = [t.storage.get_trial(t._trial_id).system_attrs.get("diffid_cma") for t in asked]
    assert [a["row"] for a in tags[:6]] == list(range(6))  # generation 0, popsize 6
    assert tags[6:12] == [None] * 6  # every row out: sampled independently
    assert tags[12]["generation"] == 1 and tags[12]["row"] == 0  # abandoned rows told


def test_state_round_trip_through_journal_storage(tmp_path: Path) -> None:
    """A second sampler on the stored study continues the generation sequence bit for bit:
    its trials equal those of one uninterrupted sampler."""
    popsize = 6
    first, second = 1 + 3 * popsize, 2 * popsize

    def run(path: Path, parts: list[int]) -> list[dict[str, float]]:
        storage = JournalStorage(JournalFileBackend(str(path)))
        for i, n in enumerate(parts):
            sampler = CmaEsSampler(seed=5, store_state_in_storage=True)
            if i == 0:
                study = optuna.create_study(study_name="s", storage=storage, sampler=sampler)
            else:
                study = optuna.load_study(study_name="s", storage=storage, sampler=sampler)
            study.optimize(sphere2, n_trials=n)
        return [t.params for t in study.trials]

    split = run(tmp_path / "split.log", [first, second])
    whole = run(tmp_path / "whole.log", [first + second])
    assert split == whole
    study = optuna.load_study(
        study_name="s", storage=JournalStorage(JournalFileBackend(str(tmp_path / "split.log")))
    )
    states = {
        k: v
        for k, v in study._storage.get_study_system_attrs(study._study_id).items()
        if k.startswith("diffid_cma:0:")
    }
    assert len(states) == 1
    assert next(iter(states.values()))["names"] == ["x", "y"]
    assert [t.system_attrs["diffid_cma"]["generation"] for t in study.trials[first:]] == [
        3
    ] * popsize + [4] * popsize


def test_multi_objective_study_is_refused_with_the_fix() -> None:
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=CmaEsSampler())
    with pytest.raises(ArgumentError, match="single-objective.*NSGAIISampler"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x0": [1.0, 2.0]}, ArgumentTypeError, "x0"),
        ({"x0": {"x": "a"}}, ArgumentTypeError, "x0"),
        ({"sigma0": 0.0}, ArgumentError, "sigma0"),
        ({"popsize": 1}, ArgumentError, "popsize"),
        ({"popsize": 4.5}, ArgumentTypeError, "popsize"),
        ({"restarts": "lpop"}, ArgumentError, "restarts"),
        ({"seed": -1}, ArgumentError, "seed"),
        ({"stop_rules": {"tolfn": 1.0}}, ArgumentError, "tolfn"),
        ({"independent_sampler": "random"}, ArgumentTypeError, "independent_sampler"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        CmaEsSampler(**kwargs)


def test_x0_outside_the_range_is_named() -> None:
    study = optuna.create_study(sampler=CmaEsSampler(x0={"x": 7.0}))
    with pytest.raises(ArgumentError, match=r"x0\['x'\]. = 7.0 is outside"):
        study.optimize(sphere2, n_trials=1)


def test_engine_rows_are_deterministic_for_a_seed() -> None:
    runs = []
    for _ in range(2):
        study = optuna.create_study(sampler=CmaEsSampler(seed=11))
        study.optimize(mixed, n_trials=40)
        runs.append(np.array([[t.params[k] for k in "xyk"] for t in study.trials]))
    assert np.array_equal(runs[0], runs[1])

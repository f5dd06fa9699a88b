"""``optimize(study, problem, ...)``: CMA-ES generations as batches, recorded as trials.

One generation = one ``problem.evaluate_batch(X, n_threads=..., return_status=True)`` call.
Trials are recorded already finished (``create_trial`` + the study's storage, the cheapest
correct way: measured by ``benchmarks/adapters_optuna.py``), so Optuna's per-trial
ask/tell machinery is skipped; the study stays an ordinary study (``best_params``,
``trials_dataframe()``, the visualisations).

Workers and islands: every call works on one *island*, an independent CMA-ES engine seeded
from ``(sampler seed, island)``. Without ``island=`` a call claims one by creating its first
trial (the start point, a RUNNING trial until the first batch is evaluated): the claimed
island is that trial's number, unique in the study even with several processes on one
storage, and 0 for the first worker on a fresh study. The claim is remembered by the
sampler, so later calls in the same process continue the same island. Points are recorded
only after they are evaluated and each island draws its own points, so nothing is evaluated
twice; a killed worker loses only its generation in flight. With
``CmaEsSampler(store_state_in_storage=True)`` an island's engine state is stored once per
generation and a worker started with the same ``island=`` continues it (rows of its open
generation already recorded are adopted, not evaluated again).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from diffid_plugins._status_codes import describe_status
from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.optuna._sampler import CmaEsSampler
from diffid_plugins.optuna._slot import ATTR, Slot
from diffid_plugins.optuna._space import NumericSpace

if TYPE_CHECKING:
    from diffid_plugins.problem._protocols import ProblemLike

__all__ = ["optimize"]

Callback = Callable[[optuna.Study, FrozenTrial], None]


def _check_study(study: Any) -> None:
    if not isinstance(study, optuna.Study):
        raise ArgumentTypeError(
            f"`study` must be an optuna.Study (optuna.create_study(...)), got "
            f"{type(study).__name__}."
        )
    if len(study.directions) != 1:
        raise ArgumentError(
            f"`study` has {len(study.directions)} objectives; optimize() minimises one cost. "
            "Create it with optuna.create_study(direction='minimize')."
        )
    if study.direction != StudyDirection.MINIMIZE:
        raise ArgumentError(
            f"`study` direction is {study.direction.name.lower()!r}; optimize() minimises the "
            "problem's cost. Create the study with optuna.create_study(direction='minimize')."
        )


def _problem_space(problem: Any, log_scale: bool | None = None) -> dict[str, BaseDistribution]:
    """``FloatDistribution(lower, upper, log=...)`` per parameter, in the problem's order.

    ``log_scale=None``: log scale for every parameter with ``lower > 0``; True: all (each
    lower bound must be positive); False: none.
    """
    for attr in ("parameter_names", "bounds", "evaluate_batch"):
        if not hasattr(problem, attr):
            raise ArgumentTypeError(
                f"`problem` must be a problem (a diffid_plugins Problem or any ProblemLike), "
                f"got {type(problem).__name__} without `{attr}`."
            )
    names = [str(n) for n in problem.parameter_names]
    bounds = list(problem.bounds)
    space: dict[str, BaseDistribution] = {}
    for name, (lo, hi) in zip(names, bounds, strict=True):
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ArgumentError(
                f"`problem` parameter {name!r} has bounds ({lo}, {hi}); optimize() needs "
                "finite bounds with lower < upper for every parameter. Pass them to the "
                f"problem, e.g. Problem(..., bounds={{{name!r}: (low, high), ...}})."
            )
        if log_scale and lo <= 0.0:
            raise ArgumentError(
                f"`log_scale=True` but parameter {name!r} has lower bound {lo} <= 0; a log "
                "scale needs positive bounds. Pass log_scale=None (log only where lower > 0) "
                "or False."
            )
        log = lo > 0.0 if log_scale is None else bool(log_scale)
        space[name] = FloatDistribution(lo, hi, log=log)
    return space


def _check_budget(n_trials: Any, timeout: Any) -> None:
    if n_trials is not None:
        if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer):
            raise ArgumentTypeError(f"`n_trials` must be an int or None, got {n_trials!r}.")
        if n_trials <= 0:
            raise ArgumentError(
                f"`n_trials` must be positive, got {n_trials}; pass None to run until "
                "`timeout` or the engine's last restart."
            )
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float | np.number):
            raise ArgumentTypeError(f"`timeout` must be a number of seconds, got {timeout!r}.")
        if not timeout > 0:
            raise ArgumentError(f"`timeout` must be positive seconds, got {timeout!r}.")


def _template(
    params: dict[str, float],
    space: dict[str, BaseDistribution],
    cost: float,
    status: int,
    attrs: dict[str, Any],
) -> FrozenTrial:
    if math.isfinite(cost):
        return optuna.trial.create_trial(
            params=params, distributions=space, value=cost, system_attrs={ATTR: attrs}
        )
    return optuna.trial.create_trial(
        state=TrialState.FAIL,
        params=params,
        distributions=space,
        user_attrs=_failure_attrs(status),
        system_attrs={ATTR: attrs},
    )


def _failure_attrs(status: int) -> dict[str, Any]:
    """``user_attrs`` of a failed row: its status code, the code's name and message."""
    info = describe_status(int(status))
    return {"status": int(status), "status_name": info.name, "message": info.message}


class _Recorder:
    """Records evaluated rows as finished trials; callbacks and progress bar."""

    def __init__(
        self,
        study: optuna.Study,
        space: dict[str, BaseDistribution],
        callbacks: list[Callback],
        show_progress_bar: bool,
        n_trials: int | None,
    ) -> None:
        self.study = study
        self.space = space
        self.names = list(space)
        self.callbacks = callbacks
        self.count = 0
        self.bar: Any = None
        if show_progress_bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n_trials, unit="trial")

    def record(
        self,
        X: np.ndarray,  # noqa: N803
        costs: np.ndarray,
        statuses: np.ndarray,
        attrs: list[dict[str, Any]],
    ) -> None:
        storage, study_id = self.study._storage, self.study._study_id
        ids = []
        for row, cost, status, a in zip(
            X.tolist(), costs.tolist(), statuses.tolist(), attrs, strict=True
        ):
            template = _template(
                dict(zip(self.names, row, strict=True)), self.space, cost, status, a
            )
            ids.append(storage.create_new_trial(study_id, template_trial=template))
        self.finished(ids, costs)

    def finished(self, ids: list[int], costs: np.ndarray) -> None:
        """Count recorded trials; run the callbacks on them; advance the bar."""
        storage = self.study._storage
        frozen = [storage.get_trial(i) for i in ids] if self.callbacks else []
        self.notify(len(ids), frozen, costs)

    def notify(self, n: int, frozen: list[FrozenTrial], costs: np.ndarray) -> None:
        """Count ``n`` recorded trials; run the callbacks on ``frozen``; advance the bar."""
        self.count += n
        for trial in frozen:
            for callback in self.callbacks:
                callback(self.study, trial)
        if self.bar is not None:
            self.bar.update(n)
            finite = costs[np.isfinite(costs)]
            if finite.size:
                self.bar.set_postfix(batch_best=float(finite.min()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def optimize(
    study: optuna.Study,
    problem: ProblemLike,
    n_trials: int | None = None,
    timeout: float | None = None,
    n_threads: int | None = None,
    callbacks: Iterable[Callback] | None = None,
    show_progress_bar: bool = False,
    *,
    island: int | None = None,
    log_scale: bool | None = None,
) -> optuna.Study:
    """Minimise a problem's cost in ``study``, one CMA-ES generation per batch evaluation.

    Parameters
    ----------
    study : optuna.Study
        Single-objective, ``direction="minimize"``. With a :class:`CmaEsSampler` its engine
        settings (seed, ``x0``, ``sigma0``, ``popsize``, restarts, stop rules, state storage)
        are used. With any other sampler each batch of ``4 + floor(3 ln d)`` trials is
        asked with ``study.ask`` (slower: Optuna's per-trial bookkeeping) and told after one
        ``evaluate_batch``.
    problem : ProblemLike
        ``parameter_names``, finite ``bounds`` and ``evaluate_batch(X, n_threads=...,
        return_status=True)``. Trials hold ``params`` by parameter name with
        ``FloatDistribution(lower, upper, log=...)`` (see ``log_scale``) and the cost as
        ``value``.
    n_trials : int, optional
        Exactly this many trials are recorded (the last generation is evaluated only for the
        rows recorded; the rest of it is evaluated first by the next call on the island).
        The first call on an island also records its start point (``x0``, or the centre of
        the search box: the geometric centre of a log-scaled parameter), counted in
        ``n_trials``.
    timeout : float, optional
        Seconds; checked between generations (the generation in flight finishes).
    n_threads : int, optional
        Passed to ``evaluate_batch``.
    callbacks : iterable of callable, optional
        ``callback(study, frozen_trial)`` after each recorded trial, as in
        ``study.optimize`` (called once a generation is recorded; ``study.stop()`` stops
        after that generation).
    show_progress_bar : bool, default False
        A tqdm bar of recorded trials.
    island : int, optional
        Engine island (see the module notes); default: the sampler's ``island`` if given,
        else the island this sampler already claimed, else a new one.
    log_scale : bool, optional
        Search scale of the parameters. Default ``None``: log scale for every parameter
        whose lower bound is positive (rate constants, concentrations: their costs have
        valleys along products such as ``alpha * gamma``, straight lines in log coordinates),
        linear for the others. ``True``: log for all (positive bounds needed); ``False``:
        linear for all. Measured on the seed tutorial (``docs/optuna.md``): log scale halves
        the evaluations a CMA-ES run needs to reach the optimum.

    Returns
    -------
    optuna.Study
        ``study``, with the new trials. Failed rows (cost ``inf``) are ``FAIL`` trials with
        ``user_attrs`` ``status`` (the problem's status code), ``status_name`` and
        ``message``. Each trial's ``system_attrs["diffid_cma"]`` holds ``island``, ``run``
        (restart index), ``generation``, ``popsize`` and ``row``.

    Raises
    ------
    ArgumentError
        Multi-objective or maximising study, a parameter without finite bounds, ``x0`` with
        a name the problem lacks, ``n_trials <= 0``, ``timeout <= 0``.
    ArgumentTypeError
        Arguments of the wrong type.

    Notes
    -----
    Stops early (with a log message) when the engine has used all its restarts.
    """
    _check_study(study)
    if log_scale is not None and not isinstance(log_scale, bool | np.bool_):
        raise ArgumentTypeError(f"`log_scale` must be True, False or None, got {log_scale!r}.")
    space = _problem_space(problem, log_scale)
    _check_budget(n_trials, timeout)
    if island is not None and (
        isinstance(island, bool) or not isinstance(island, int | np.integer) or island < 0
    ):
        raise ArgumentError(f"`island` must be a non-negative int or None, got {island!r}.")
    callback_list = [] if callbacks is None else list(callbacks)
    if not all(callable(c) for c in callback_list):
        raise ArgumentTypeError(
            f"`callbacks` must be callables `callback(study, frozen_trial)`, got {callbacks!r}."
        )
    recorder = _Recorder(study, space, callback_list, show_progress_bar, n_trials)
    deadline = None if timeout is None else time.perf_counter() + float(timeout)
    if study._thread_local.in_optimize_loop:
        raise ArgumentError(
            "optimize() was called inside study.optimize (nested optimisation); call it "
            "outside the objective."
        )
    study._stop_flag = False
    study._thread_local.in_optimize_loop = True  # callbacks may call study.stop()
    try:
        sampler = study.sampler
        if isinstance(sampler, CmaEsSampler):
            unknown = sorted(set(sampler._x0) - set(space))
            if unknown:
                raise ArgumentError(
                    f"`x0` of the study's CmaEsSampler has names {unknown} that the problem "
                    f"does not have; its parameters are {list(space)}."
                )
            _run_engine(
                study, sampler, problem, space, recorder, n_trials, deadline, n_threads, island
            )
        else:
            _run_foreign(study, problem, space, recorder, n_trials, deadline, n_threads)
    finally:
        study._thread_local.in_optimize_loop = False
        recorder.close()
    return study


def _more(
    recorder: _Recorder, study: optuna.Study, n_trials: int | None, deadline: float | None
) -> int:
    """How many trials the loop may still record (0 = stop)."""
    if study._stop_flag or (deadline is not None and time.perf_counter() >= deadline):
        return 0
    return 1 << 62 if n_trials is None else n_trials - recorder.count


def _claim(
    study: optuna.Study, sampler: CmaEsSampler, island: int | None
) -> tuple[int, int | None]:
    """The island to run and the trial id of a newly claimed start trial (or None)."""
    if island is not None:
        return int(island), None
    if sampler._island is not None:
        return sampler._island, None
    if sampler._driver_island is not None:
        return sampler._driver_island, None
    trial_id = study._storage.create_new_trial(study._study_id)
    number = study._storage.get_trial_number_from_id(trial_id)
    sampler._driver_island = number
    return number, trial_id


def _run_engine(
    study: optuna.Study,
    sampler: CmaEsSampler,
    problem: Any,
    space: dict[str, BaseDistribution],
    recorder: _Recorder,
    n_trials: int | None,
    deadline: float | None,
    n_threads: int | None,
    island_arg: int | None,
) -> None:
    box = NumericSpace(space)
    perm = [box.names.index(n) for n in space]  # box order -> problem order
    with sampler._lock:
        island, start_id = _claim(study, sampler, island_arg)
        fresh = (box.signature, island) not in sampler._slots
        slot: Slot = sampler._slot(study, box, island)
        start: np.ndarray | None = None
        if fresh and not slot.needs_scan and slot.engine.generation == 0:
            start = box.values(np.asarray(slot.start)[None, :])[0, perm]
            if start_id is None:
                start_id = study._storage.create_new_trial(study._study_id)
        elif start_id is not None:  # claimed, but the engine is not new: no start point
            study._storage.set_trial_state_values(start_id, TrialState.FAIL)
            start_id = None
    while (budget := _more(recorder, study, n_trials, deadline)) > 0:
        with sampler._lock:
            if not sampler._open(study, slot):
                optuna.logging.get_logger("diffid_plugins.optuna").info(
                    "optimize: island %d's engine has used all its restarts; stopping.", island
                )
                break
            rows = slot.take(budget - (start is not None))
            if not rows and start is None:  # rows out elsewhere (study.optimize in a thread)
                slot.tell()
                continue
            assert slot.X is not None
            X = box.values(slot.X[rows])[:, perm]
            attrs = [slot.attrs(r) for r in rows]
        if start is not None:
            X = np.vstack([start[None, :], X])
        costs, statuses = problem.evaluate_batch(X, n_threads=n_threads, return_status=True)
        costs = np.asarray(costs, dtype=np.float64)
        statuses = np.asarray(statuses, dtype=np.int64)
        if start is not None:
            _finish_start(study, start_id, space, X[0], costs[0], statuses[0], island)
            assert start_id is not None
            recorder.finished([start_id], costs[:1])
            X, costs, statuses = X[1:], costs[1:], statuses[1:]
            start = None
        recorder.record(X, costs, statuses, attrs)
        with sampler._lock:
            for r, c in zip(rows, costs.tolist(), strict=True):
                if slot.record(r, c):
                    sampler._persist(study, slot)


def _finish_start(
    study: optuna.Study,
    trial_id: int | None,
    space: dict[str, BaseDistribution],
    x: np.ndarray,
    cost: float,
    status: int,
    island: int,
) -> None:
    """Write the start point's params and result into its (claimed) RUNNING trial."""
    assert trial_id is not None
    storage = study._storage
    for (name, dist), value in zip(space.items(), x.tolist(), strict=True):
        storage.set_trial_param(trial_id, name, dist.to_internal_repr(value), dist)
    storage.set_trial_system_attr(trial_id, ATTR, {"island": island, "start": 1})
    if math.isfinite(cost):
        storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [float(cost)])
    else:
        for key, value in _failure_attrs(status).items():
            storage.set_trial_user_attr(trial_id, key, value)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)


def _run_foreign(
    study: optuna.Study,
    problem: Any,
    space: dict[str, BaseDistribution],
    recorder: _Recorder,
    n_trials: int | None,
    deadline: float | None,
    n_threads: int | None,
) -> None:
    """Any other sampler: ask a batch, one evaluate_batch, tell each trial."""
    names = list(space)
    batch = 4 + int(3 * math.log(len(names)))
    while (budget := _more(recorder, study, n_trials, deadline)) > 0:
        trials = [study.ask(space) for _ in range(min(batch, budget))]
        X = np.array([[t.params[n] for n in names] for t in trials], dtype=np.float64)
        costs, statuses = problem.evaluate_batch(X, n_threads=n_threads, return_status=True)
        frozen = []
        for t, cost, status in zip(
            trials, np.asarray(costs).tolist(), list(statuses), strict=True
        ):
            if math.isfinite(cost):
                frozen.append(study.tell(t, cost))
            else:
                for key, value in _failure_attrs(status).items():
                    t.set_user_attr(key, value)
                frozen.append(study.tell(t, state=TrialState.FAIL))
        recorder.notify(len(frozen), frozen, np.asarray(costs, dtype=np.float64))

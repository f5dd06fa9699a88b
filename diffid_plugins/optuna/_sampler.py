"""``CmaEsSampler``: an Optuna sampler on the restarting CMA-ES engine, state in memory.

How it differs from ``optuna.samplers.CmaEsSampler`` (Optuna 5.1):

* the engine lives in the sampler, not in pickles written to every trial's system attributes
  (Optuna's costs ~2 ms per trial); with ``store_state_in_storage=True`` its JSON state is
  written to the study's system attributes once per generation;
* IPOP/BIPOP restarts with documented stop rules (:class:`~diffid_plugins.optim.RestartingCMA`);
* the first trial is the CMA-ES mean (``x0``, default the centre of each distribution), and
  the first generation is drawn around it, not at random;
* under ``n_jobs > 1`` no evaluation is thrown away: a generation is told when all its rows
  have results, whatever the order they arrive in.

Parallel trials (``n_jobs``, or ask-and-tell with several open trials): each trial takes the
next row of the open generation. When every row is out but some results are pending, further
trials are sampled by the independent sampler (they still land in the study, the engine does
not learn from them). If more trials than a population are asked while rows stay pending (a
trial that was abandoned and will never be told), the pending rows are told as failures
(``inf``) and the next generation starts. Nothing blocks, so ask-and-tell loops cannot
deadlock.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.optuna._slot import ATTR, Slot, engine_seed, state_key
from diffid_plugins.optuna._space import NumericSpace, is_numeric

if TYPE_CHECKING:
    from collections.abc import Sequence

    from optuna.study import Study

__all__ = ["CmaEsSampler"]

_logger = logging.getLogger("diffid_plugins.optuna")

_RESTARTS = ("ipop", "bipop", None)
_STOP_RULES = ("tolfun", "tolfunrel", "tolx", "stagnation", "max_condition")
#: Step size of the sampler's runs, in box widths (the engine's own default is 0.25).
DEFAULT_SIGMA0 = 0.1
#: Stop rules the sampler passes to the engine unless ``stop_rules`` overrides them: Optuna
#: objectives (ODE fits at a finite solver tolerance, stochastic losses) are known only to
#: a relative precision, so the engine's absolute 1e-11 tolerances never fire and a run
#: stuck in a local minimum never restarts (``docs/optuna.md``).
DEFAULT_STOP_RULES: dict[str, Any] = {"tolfunrel": 1e-5, "tolx": 1e-3}
#: Uniform draws of the scout generation before each restart (``docs/optuna.md``: measured
#: on the seed tutorial; the engine's own default is 0, no scout).
DEFAULT_SCOUT = 256


def _check_int(name: str, value: Any, low: int, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentTypeError(f"`{name}` must be an int, got {value!r}.")
    if value < low:
        raise ArgumentError(f"`{name}` must be >= {low}, got {value!r}.")


class CmaEsSampler(BaseSampler):
    """CMA-ES with IPOP/BIPOP restarts for Optuna, with its state in memory.

    A relative sampler on the float and int parameters of a study (log-scaled ones in log
    space, ints and stepped floats rounded to their grid); categorical parameters, parameters
    outside the joint space and changed ranges go to ``independent_sampler``. Works with any
    objective through ``study.optimize``; :func:`diffid_plugins.optuna.optimize` drives it a
    generation at a time with one ``evaluate_batch`` call per generation.

    Parameters
    ----------
    x0 : mapping of str to float, optional
        First CMA-ES mean, by parameter name, in the parameters' own units. Missing names
        start at the centre of their range (the geometric centre for log-scaled ones). The
        first trial of the study evaluates this point.
    sigma0 : float, optional
        Initial step size of every run, in units of the box width of each coordinate
        (default 0.1, :data:`DEFAULT_SIGMA0`; the engine's own default is 0.25). Restarts
        draw their mean uniformly in the box, so the global search comes from the restarts;
        on narrow valleys a run with a smaller step size stays in the basin it starts in
        more often (measured in ``docs/optuna.md``).
    popsize : int, optional
        First run's population (engine default ``4 + floor(3 ln d)``).
    restarts : {"ipop", "bipop", None}, default "ipop"
        Restart strategy when a run stops (IPOP doubles the population at each restart).
    max_restarts : int, default 9
    inc_popsize : float, default 2.0
        IPOP population factor.
    stop_rules : mapping, optional
        Engine stop rules to override: ``tolfun``, ``tolfunrel``, ``tolx``, ``stagnation``,
        ``max_condition`` (see :class:`~diffid_plugins.optim.RestartingCMA` for their
        meaning). The sampler's defaults (:data:`DEFAULT_STOP_RULES`) suit costs known to a
        relative precision: ``tolfunrel=1e-5`` (a run stops when its best values of the last
        ``10 + ceil(30 d / popsize)`` generations span less than ``1e-11 + 1e-5 * |f|``) and
        ``tolx=1e-3`` box widths; the rest are the engine's (``tolfun=1e-11``, stagnation
        on, ``max_condition=1e14``). Pass e.g. ``{"tolfunrel": 0, "tolx": 1e-11}`` for the
        engine's (Hansen's) tolerances.
    scout : int, optional
        Uniform draws in the search box evaluated before each restart (one generation of
        ``scout`` trials, tagged ``"scout": 1`` in ``system_attrs["diffid_cma"]``); the next
        run starts at the best of them (at a uniform point if all failed). Default 256
        (:data:`DEFAULT_SCOUT`); 0 = no scout, restarts start at a uniform point. The first
        run always starts at ``x0``. Measured in ``docs/optuna.md``: on the seed tutorial a
        run started at the best of 256 draws reaches the global basin in 88-91 % of runs,
        one started at a uniform point in 64-71 %.
    seed : int, optional
        Seeds the engines (one per island, derived from ``(seed, island)``) and the default
        independent sampler.
    island : int, optional
        Island of ``study.optimize`` trials (default 0). Several processes running
        ``study.optimize`` on one study at the same time must use distinct islands; a process
        with the same island and ``store_state_in_storage=True`` continues that island's
        engine. :func:`~diffid_plugins.optuna.optimize` claims islands by itself.
    independent_sampler : BaseSampler, optional
        Default ``RandomSampler(seed)``.
    store_state_in_storage : bool, default False
        Write the engine state (JSON) to the study's system attributes once per generation,
        so another process (or a new sampler) continues the same engine.
    warn_independent_sampling : bool, default True
        Log once when a parameter is sampled independently after the first trials.

    Raises
    ------
    ArgumentError, ArgumentTypeError
        Invalid arguments; ``ValueError`` (from Optuna's check) on a multi-objective study.

    Notes
    -----
    One sampler serves one study. Maximisation is supported (values are negated for the
    engine). Failed and pruned trials count as failures (``inf``: ranked worst).
    """

    def __init__(
        self,
        *,
        x0: Mapping[str, float] | None = None,
        sigma0: float | None = None,
        popsize: int | None = None,
        restarts: str | None = "ipop",
        max_restarts: int = 9,
        inc_popsize: float = 2.0,
        stop_rules: Mapping[str, Any] | None = None,
        scout: int | None = None,
        seed: int | None = None,
        island: int | None = None,
        independent_sampler: BaseSampler | None = None,
        store_state_in_storage: bool = False,
        warn_independent_sampling: bool = True,
    ) -> None:
        if x0 is not None and not isinstance(x0, Mapping):
            raise ArgumentTypeError(
                f"`x0` must be a dict of parameter name -> value, got {type(x0).__name__}; "
                "for a problem use dict(zip(problem.parameter_names, values))."
            )
        if sigma0 is not None and not (
            isinstance(sigma0, int | float) and not isinstance(sigma0, bool) and sigma0 > 0
        ):
            raise ArgumentError(
                f"`sigma0` must be a positive number (a fraction of the box width), got "
                f"{sigma0!r}."
            )
        _check_int("popsize", popsize, 2)
        if restarts not in _RESTARTS:
            raise ArgumentError(f"`restarts` must be 'ipop', 'bipop' or None, got {restarts!r}.")
        _check_int("max_restarts", max_restarts, 0, allow_none=False)
        _check_int("scout", scout, 0)
        _check_int("seed", seed, 0)
        _check_int("island", island, 0)
        unknown = sorted(set(stop_rules or {}) - set(_STOP_RULES))
        if unknown:
            raise ArgumentError(
                f"`stop_rules` has unknown keys {unknown}; allowed: {list(_STOP_RULES)}."
            )
        if independent_sampler is not None and not isinstance(independent_sampler, BaseSampler):
            raise ArgumentTypeError(
                f"`independent_sampler` must be an Optuna sampler, got "
                f"{type(independent_sampler).__name__}."
            )
        self._x0 = {str(k): v for k, v in (x0 or {}).items()}
        for name, value in self._x0.items():
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ArgumentTypeError(f"`x0[{name!r}]` must be a number, got {value!r}.")
        self._options: dict[str, Any] = {
            "sigma0": DEFAULT_SIGMA0 if sigma0 is None else sigma0,
            "popsize": popsize,
            "restarts": restarts,
            "max_restarts": max_restarts,
            "inc_popsize": float(inc_popsize),
            "scout": DEFAULT_SCOUT if scout is None else int(scout),
            **DEFAULT_STOP_RULES,
            **dict(stop_rules or {}),
        }
        self._seed = int(seed) if seed is not None else secrets.randbits(63)
        self._island = island
        self._independent = independent_sampler or RandomSampler(seed=seed)
        self._store = bool(store_state_in_storage)
        self._warn = bool(warn_independent_sampling)
        self._search_space = IntersectionSearchSpace()
        self._lock = threading.RLock()
        self._slots: dict[tuple[str, int], Slot] = {}
        self._pending: dict[int, tuple[Slot, int, int]] = {}  # trial id -> slot, serial, row
        self._start_trial: int | None = None  # trial id of the x0 trial, -1 when passed
        self._stopped = False
        self._driver_island: int | None = None

    # ------------------------------------------------------------------ engines
    @property
    def slots(self) -> dict[tuple[str, int], Slot]:
        """Engines in use, by ``(space signature, island)`` (each has ``.engine``)."""
        return self._slots

    def _new_engine(self, space: NumericSpace, island: int, study: Study | None) -> Slot:
        from diffid_plugins.optim import RestartingCMA

        if study is not None and self._store:
            stored = study._storage.get_study_system_attrs(study._study_id).get(
                state_key(island, space.signature)
            )
            if stored is not None:
                engine = RestartingCMA.from_state(stored["engine"])
                slot = Slot(space, engine, island)
                slot.needs_scan = True
                return slot
        for name, value in self._x0.items():
            if name in space.names:
                dist: Any = space.distributions[space.names.index(name)]
                if not dist.low <= value <= dist.high:
                    raise ArgumentError(
                        f"`x0[{name!r}]` = {value!r} is outside the parameter's range "
                        f"[{dist.low}, {dist.high}]; give a value inside it."
                    )
        if island == 0:
            x0 = space.to_box(self._x0)
        else:  # later islands start at a uniform point of the box: diversity, no repeats
            rng = np.random.default_rng(engine_seed(self._seed, island, 1))
            x0 = rng.uniform(space.lower, space.upper)
        engine = RestartingCMA(
            space.lower,
            space.upper,
            x0=x0,
            seed=engine_seed(self._seed, island),
            **self._options,
        )
        slot = Slot(space, engine, island)
        slot.start = x0
        return slot

    def _slot(self, study: Study | None, space: NumericSpace, island: int) -> Slot:
        key = (space.signature, island)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = self._new_engine(space, island, study)
        return slot

    def _open(self, study: Study, slot: Slot) -> bool:
        """Open a generation; after a load from storage, adopt rows already recorded."""
        if not slot.open():
            return False
        if slot.needs_scan:
            slot.needs_scan = False
            self._adopt_recorded_rows(study, slot)
            if slot.X is None:  # every row was already recorded: told; open the next
                return self._open(study, slot)
        return True

    def _adopt_recorded_rows(self, study: Study, slot: Slot) -> None:
        sign = self._sign(study)
        tag = slot.tag
        rows: dict[int, float] = {}
        for t in study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
            a = t.system_attrs.get(ATTR)
            if isinstance(a, dict) and "row" in a and all(a.get(k) == v for k, v in tag.items()):
                value = t.value if t.state == TrialState.COMPLETE else None
                rows[int(a["row"])] = math.inf if value is None else sign * value
        slot.take_rows(sorted(rows))
        for row, value in rows.items():
            if slot.record(row, value):
                self._persist(study, slot)
                break

    def _persist(self, study: Study, slot: Slot) -> None:
        if self._store:
            study._storage.set_study_system_attr(
                study._study_id, state_key(slot.island, slot.space.signature), slot.to_storage()
            )

    @staticmethod
    def _check_single(study: Study) -> None:
        if len(study.directions) != 1:
            raise ArgumentError(
                f"`study` has {len(study.directions)} objectives; CmaEsSampler is "
                "single-objective. Use a multi-objective sampler (optuna.samplers.NSGAIISampler"
                ") or optimise one objective."
            )

    @staticmethod
    def _sign(study: Study) -> float:
        return -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0

    # ------------------------------------------------------------------ BaseSampler
    def reseed_rng(self) -> None:
        """Reseed the independent sampler (the engines' streams are fixed by the seed)."""
        self._independent.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """Float and int parameters (more than one value) of every completed trial."""
        space = self._search_space.calculate(study)
        return {k: d for k, d in space.items() if is_numeric(d)}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """The next row of the open generation for the numeric part of ``search_space``."""
        self._check_single(study)
        if not search_space:
            return {}
        numeric = {k: d for k, d in search_space.items() if is_numeric(d)}
        params: dict[str, Any] = {}
        if numeric:
            space = NumericSpace(numeric)
            with self._lock:
                slot = self._slot(study, space, self._island or 0)
                row = self._next_row(study, slot)
                if row is not None:
                    assert slot.X is not None
                    self._pending[trial._trial_id] = (slot, slot.serial, row)
                    params = space.from_box(slot.X[row])
                    attrs = slot.attrs(row)
            if row is not None:
                study._storage.set_trial_system_attr(trial._trial_id, ATTR, attrs)
        for name, dist in search_space.items():
            if name not in params:
                params[name] = self._independent.sample_independent(study, trial, name, dist)
        return params

    def _next_row(self, study: Study, slot: Slot) -> int | None:
        if not self._open(study, slot):
            if not self._stopped:
                self._stopped = True
                _logger.warning(
                    "CmaEsSampler: the CMA-ES engine has used all its restarts; stopping the "
                    "study (further trials are sampled independently)."
                )
                study.stop()
            return None
        rows = slot.take(1)
        if rows:
            return rows[0]
        assert slot.X is not None
        slot.surplus += 1
        if slot.surplus <= len(slot.X):
            return None
        slot.tell()  # rows still out after a whole population of extra trials: abandoned
        self._persist(study, slot)
        return self._next_row(study, slot)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """The start point for the first trial, the independent sampler afterwards."""
        self._check_single(study)
        if self._start_trial is None:
            with self._lock:
                if self._start_trial is None:
                    done = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    self._start_trial = -1 if done else trial._trial_id
        if trial._trial_id == self._start_trial and is_numeric(param_distribution):
            space = NumericSpace({param_name: param_distribution})
            value = self._x0.get(param_name)
            if value is not None and not (
                param_distribution.low <= value <= param_distribution.high  # type: ignore[attr-defined]
            ):
                raise ArgumentError(
                    f"`x0[{param_name!r}]` = {value!r} is outside the parameter's range "
                    f"[{param_distribution.low}, {param_distribution.high}]; give a value "  # type: ignore[attr-defined]
                    "inside it."
                )
            return space.from_box(space.to_box(self._x0))[param_name]
        if self._warn and self._start_trial != trial._trial_id and trial.number > 1:
            self._warn = False
            _logger.info(
                "CmaEsSampler: parameter %r of trial %d is sampled by %s (categorical, "
                "conditional or changed range).",
                param_name,
                trial.number,
                type(self._independent).__name__,
            )
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Record the trial's value for its row; tell the engine when the generation is
        complete (failures and pruned trials count as ``inf``)."""
        entry = self._pending.pop(trial._trial_id, None)
        if entry is not None:
            slot, serial, row = entry
            value = math.inf
            if state == TrialState.COMPLETE and values:
                value = self._sign(study) * float(values[0])
            with self._lock:
                if slot.serial == serial and slot.X is not None and slot.record(row, value):
                    self._persist(study, slot)
        self._independent.after_trial(study, trial, state, values)

"""A restarting CMA-ES engine with batch ask/tell on a box, built on ``cmaes.CMA``.

:class:`RestartingCMA` asks for one whole generation at a time (a ``(popsize, d)`` array inside
the box), takes its values back in one call, checks documented stop rules after every
generation (:data:`~diffid_plugins.optim._stops.STOP_REASONS`) and restarts with a larger
population (IPOP) or alternating large and small populations (BIPOP). Its complete state is a
small JSON-serialisable dict (:meth:`RestartingCMA.state_dict`) from which
:meth:`RestartingCMA.from_state` continues bit for bit.

The search runs in normalised coordinates ``z = (x - lower) / (upper - lower)`` in
``[0, 1]^d``, so ``sigma0`` and ``tolx`` are in units of the box width. ``cmaes`` is imported
when an engine is built, not when this module is imported.

References
----------
.. [H16] N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (2016).
.. [AH05] A. Auger and N. Hansen, "A Restart CMA Evolution Strategy With Increasing Population
   Size", IEEE Congress on Evolutionary Computation (CEC 2005), pp. 1769-1776.
.. [H09] N. Hansen, "Benchmarking a BI-Population CMA-ES on the BBOB-2009 Function Testbed",
   GECCO 2009 workshop (BBOB), pp. 2389-2396.

Examples
--------
Minimise the sphere ``sum((x - 1)^2)`` on ``[-5, 5]^3``:

>>> import numpy as np
>>> from diffid_plugins.optim import RestartingCMA
>>> es = RestartingCMA([-5.0] * 3, [5.0] * 3, seed=1, restarts=None)
>>> while not es.done:
...     X = es.ask()                          # (popsize, 3), every row inside the box
...     es.tell(X, ((X - 1.0) ** 2).sum(axis=1))
>>> es.history[0]["reason"], bool(np.allclose(es.best_x, 1.0, atol=1e-5))
('tolfun', True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ArgumentError, ArgumentTypeError
from . import _engine_state
from ._stops import STAGNATION_MAX, RunTrace, StopRules, stop_reason
from ._validation import as_box, as_count, as_positive, as_restarts, as_x0

__all__ = ["RestartingCMA"]


def _default_popsize(n_dim: int) -> int:
    return 4 + math.floor(3 * math.log(n_dim))  # [H16] eq. 48


class RestartingCMA:
    """CMA-ES with IPOP/BIPOP restarts, stop rules and batch ask/tell on a box in ``R^d``.

    Parameters
    ----------
    lower, upper : array_like, shape (d,)
        Finite bounds, ``upper > lower``. Every asked point lies in ``[lower, upper]``.
    x0 : array_like, shape (d,), optional
        Mean of the first run (inside the box); default the box centre. Restarts start from a
        point drawn uniformly in the box.
    sigma0 : float, optional
        Initial step size in units of the box width (default 0.25: the initial standard
        deviation of coordinate ``i`` is ``0.25 * (upper[i] - lower[i])``).
    popsize : int, optional
        Population of the first run (>= 2); default ``4 + floor(3 ln d)`` [H16]_.
    restarts : {"ipop", "bipop", None}
        Restart strategy (default ``"ipop"``). IPOP [AH05]_: each restart multiplies the
        population by ``inc_popsize`` (``popsize_k = popsize * inc_popsize^k``) and keeps
        ``sigma0``. BIPOP [H09]_: the first run is the large regime with ``k = 0``; before each
        restart, the regime that has spent fewer evaluations so far is chosen (the large one
        on a tie). Large: ``popsize * inc_popsize^k`` for its ``k``-th restart, ``sigma0``.
        Small: ``floor(popsize * (lambda_l / (inc_popsize * popsize))^(U1^2))`` with
        ``lambda_l = popsize * inc_popsize^n_large`` (``n_large`` large runs so far, the
        first included; for ``inc_popsize=2`` this is Hansen's ``(lambda_l / 2 /
        lambda_def)``) and step size ``sigma0 * 10^(-2 U2)``, ``U1, U2 ~ U[0, 1]``. Every
        restart draws its mean uniformly in the box from the engine's generator (or takes the
        best point of a scout, see ``scout``). ``None``: one run only.
    max_restarts : int
        Restarts allowed (default 9); after the last run stops, ``done`` is True.
    inc_popsize : float
        Population factor between large runs (> 1, default 2, as in [AH05]_).
    seed : int, optional
        Seed of the engine's generator (numpy PCG64). Same seed, same values told: the same
        points, bit for bit.
    tolfun, tolx, stagnation, max_condition, tolfunrel
        Stop rules (see :data:`~diffid_plugins.optim._stops.STOP_REASONS`): ``tolfun``
        absolute (default 1e-11), ``tolx`` in box widths (default 1e-11), Hansen's
        stagnation rule on or off (default on), bound on the condition number of ``C``
        (default 1e14), and ``tolfunrel``, a tolerance relative to the best value: the
        tolfun rule fires when the value range is below ``tolfun + tolfunrel * |f_best|``
        (default 0, Hansen's absolute rule). For a cost computed to a finite precision (an ODE
        solved at ``rtol``, a stochastic loss), set ``tolfunrel`` above that precision and
        ``tolx`` to the precision wanted in box widths (e.g. 1e-5 and 1e-3): with the 1e-11
        defaults a run that reached the noise floor never stops, so it never restarts. The
        numerical rules ``noeffectaxis``, ``noeffectcoord``, ``tolxup`` and ``nofinite``
        always apply.
    scout : int
        Uniform draws evaluated before each restart (default 0: none). With ``scout > 0``
        the generation after a run stops is a *scout*: ``scout`` points drawn uniformly in
        the box (from the engine's generator); the next run's mean is the scout point of
        lowest finite value (a uniform point when every one failed), its population and
        step size those of the restart strategy. No scout follows the last run.
    scout_first : bool
        Also scout before the first run (default False; needs ``scout > 0`` and no ``x0``).

    Attributes
    ----------
    n_dim : int
    popsize : int
        Population of the current run: the number of rows of the next :meth:`ask`.
    generation, run_generation : int
        Generations told in total (scouts included), and in the current run.
    n_restarts : int
        Restarts done so far.
    n_evals : int
        Values told in total (failures and scout points included).
    scouting : bool
        True when the next :meth:`ask` is a scout generation (``popsize == scout`` until it
        is told).
    regime : str or None
        ``"large"``/``"small"`` under BIPOP, else ``None``.
    history : list of dict
        One dict per finished run: ``run`` (0-based), ``popsize``, ``generations``,
        ``best_f`` (the run's best finite value, ``inf`` if none), ``reason`` (a stop reason),
        ``regime``, ``start`` (``"x0"``, ``"scout"`` or ``"uniform"``: where its mean came
        from) and ``scout_best_f`` (the best value of the scout before it, ``inf`` if all
        failed, ``None`` without one).
    best_x : ndarray, shape (d,), or None
        Best point told so far (all runs); ``best_f`` its value (``inf`` until a finite value
        is told).
    done : bool
        True when the last allowed run has stopped; :meth:`ask` then raises.

    Notes
    -----
    Failed evaluations (``inf``, ``-inf`` or NaN) rank after every finite value of their
    generation, tied failures in row order. ``-inf`` is a failure too, not a perfect value: a
    cost of ``-inf`` comes from an overflow or a broken evaluation, and ranking it first would
    pull the search towards it and stop every rule from firing. ``cmaes.CMA.tell`` receives
    the ranks ``0 .. popsize - 1`` instead of the values: CMA-ES uses only the order of the
    values, so the update is the one the values would give, and NaN or ``inf``
    never reach ``cmaes``.

    Boundary handling: CMA-ES runs unconstrained on a genotype ``z`` in ``R^d`` (``cmaes``
    sees only ``z``); a row is its reflection into the box, ``x = lower + r(z) * (upper -
    lower)`` with ``r`` the triangle wave of period 2 (``r(z) = z`` on ``[0, 1]``, mirrored at
    every integer). Unlike resampling out-of-box draws (truncation) or clipping them (points
    piled on the faces), reflection leaves the update unbiased; the ``mean`` attribute is the
    reflected genotype mean. Measured: with ``cmaes``' resample-then-clip, a linear slope with
    its minimum in a corner of ``[-1, 1] x [2, 2.5] x [10, 1000]`` stagnated at ``f = 6e-4``
    (the step size grew to 60 box widths); with reflection it reaches the corner to 1e-11.
    """

    def __init__(
        self,
        lower: ArrayLike,
        upper: ArrayLike,
        *,
        x0: ArrayLike | None = None,
        sigma0: float | None = None,
        popsize: int | None = None,
        restarts: str | None = "ipop",
        max_restarts: int = 9,
        inc_popsize: float = 2.0,
        seed: int | None = None,
        tolfun: float = 1e-11,
        tolx: float = 1e-11,
        stagnation: bool = True,
        max_condition: float = 1e14,
        tolfunrel: float = 0.0,
        scout: int = 0,
        scout_first: bool = False,
    ) -> None:
        self._lower, self._upper = as_box(lower, upper)
        self._width = self._upper - self._lower
        self.n_dim = int(self._lower.shape[0])
        self._x0 = as_x0(x0, self._lower, self._upper)
        self._sigma0 = 0.25 if sigma0 is None else as_positive("sigma0", sigma0)
        self._popsize0 = (
            _default_popsize(self.n_dim)
            if popsize is None
            else as_count("popsize", popsize, minimum=2)
        )
        self._restarts = as_restarts(restarts)
        self._max_restarts = as_count("max_restarts", max_restarts, minimum=0)
        self._inc = as_positive("inc_popsize", inc_popsize, minimum=1.0)
        if seed is not None:
            seed = as_count("seed", seed, minimum=0)
        self._seed = seed
        if not isinstance(stagnation, bool | np.bool_):
            raise ArgumentTypeError(f"stagnation={stagnation!r} is not a bool; pass True or False")
        self._rules = StopRules(
            tolfun=as_positive("tolfun", tolfun, inclusive=True),
            tolx=as_positive("tolx", tolx, inclusive=True),
            stagnation=bool(stagnation),
            max_condition=as_positive("max_condition", max_condition, minimum=1.0),
            tolfunrel=as_positive("tolfunrel", tolfunrel, inclusive=True),
        )
        self._scout = as_count("scout", scout, minimum=0)
        if not isinstance(scout_first, bool | np.bool_):
            raise ArgumentTypeError(
                f"scout_first={scout_first!r} is not a bool; pass True or False"
            )
        if scout_first and self._scout == 0:
            raise ArgumentError(
                "scout_first=True with scout=0; give the number of uniform draws of the "
                "scout generation (e.g. scout=64), or leave scout_first False"
            )
        if scout_first and self._x0 is not None:
            raise ArgumentError(
                f"scout_first=True and x0={list(self._x0)!r} both choose the first mean; "
                "pass x0 to start there, or scout_first=True without x0 to start at the best "
                "scout point"
            )
        self._scout_first = bool(scout_first)
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self.generation = 0
        self.run_generation = 0
        self.n_restarts = 0
        self.n_evals = 0
        self.history: list[dict[str, Any]] = []
        self.best_x: np.ndarray | None = None
        self.best_f = math.inf
        self.done = False
        self.regime: str | None = "large" if self._restarts == "bipop" else None
        self._n_large = 1  # large-regime runs so far (the first run is one)
        self._budget = {"large": 0, "small": 0}
        self._run_best = math.inf
        self._trace = RunTrace([], [])
        self._pending: np.ndarray | None = None  # asked generation, normalised (popsize, d)
        self._pending_x: np.ndarray | None = None  # the same rows in box units
        self.scouting = False
        self._next_run: tuple[float, int] | None = None  # (sigma, popsize) after the scout
        x0n = np.full(self.n_dim, 0.5) if self._x0 is None else self._normalise(self._x0)
        self._start_run(x0n, self._sigma0, self._popsize0, start="x0")
        if self._scout_first:
            self._begin_scout(self._sigma0, self._popsize0)

    # -- coordinates -------------------------------------------------------------------------

    def _normalise(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self._lower) / self._width, 0.0, 1.0)

    def _to_box(self, z: np.ndarray) -> np.ndarray:
        """Reflect the genotype ``z`` into ``[0, 1]`` (period 2) and scale it to the box."""
        t = np.mod(z, 2.0)
        u = np.where(t > 1.0, 2.0 - t, t)
        return np.clip(self._lower + u * self._width, self._lower, self._upper)

    @property
    def mean(self) -> np.ndarray:
        """Mean of the current run's distribution reflected into the box, shape (d,)."""
        return self._to_box(np.asarray(self._cma._mean, dtype=np.float64))

    @property
    def sigma(self) -> float:
        """Step size of the current run, in units of the box width."""
        return float(self._cma._sigma)

    # -- runs ---------------------------------------------------------------------------------

    def _start_run(
        self,
        mean: np.ndarray,
        sigma: float,
        popsize: int,
        *,
        start: str,
        scout_best_f: float | None = None,
    ) -> None:
        import cmaes

        # popsize 2 and 3 have one parent (mu_eff = 1), so cmaes' rank-mu rate is 0 and two of
        # its bounds on the negative weights divide by it (inf, then min() ignores them)
        with np.errstate(divide="ignore"):
            self._cma = cmaes.CMA(mean=mean, sigma=sigma, population_size=popsize, seed=0)
        self._cma._funhist_values[:] = 0.0  # np.empty in cmaes; only cmaes' should_stop reads it
        self.popsize = popsize
        self._run_sigma0 = float(sigma)
        self.run_generation = 0
        self._run_best = math.inf
        self._trace = RunTrace([], [])
        self._run_start = start
        self._run_scout_f = scout_best_f

    def _begin_scout(self, sigma: float, popsize: int) -> None:
        """Make the next generation the scout of the run with ``sigma`` and ``popsize``."""
        self.scouting = True
        self._next_run = (float(sigma), int(popsize))
        self.popsize = self._scout

    def _end_run(self, reason: str) -> None:
        self.history.append(
            {
                "run": self.n_restarts,
                "popsize": self.popsize,
                "generations": self.run_generation,
                "best_f": self._run_best,
                "reason": reason,
                "regime": self.regime,
                "start": self._run_start,
                "scout_best_f": self._run_scout_f,
            }
        )
        if self._restarts is None or self.n_restarts >= self._max_restarts:
            self.done = True
            return
        # without a scout the mean is drawn first (the stream of the engine before scouts)
        mean = None if self._scout else self._rng.random(self.n_dim)
        sigma = self._sigma0
        k = self.n_restarts + 1
        if self._restarts == "ipop":
            popsize = int(self._popsize0 * self._inc**k)
        else:
            self._budget[self.regime or "large"] += self.popsize * self.run_generation
            if self._budget["small"] < self._budget["large"]:
                self.regime = "small"
                u1, u2 = self._rng.random(2)
                popsize = math.floor(self._popsize0 * self._inc ** ((self._n_large - 1) * u1**2))
                sigma = self._sigma0 * 10.0 ** (-2.0 * u2)
            else:
                self.regime = "large"
                popsize = int(self._popsize0 * self._inc**self._n_large)
                self._n_large += 1
        self.n_restarts = k
        if mean is None:
            self._begin_scout(sigma, max(popsize, 2))
        else:
            self._start_run(mean, sigma, max(popsize, 2), start="uniform")

    # -- ask / tell ---------------------------------------------------------------------------

    def ask(self) -> np.ndarray:
        """One whole generation to evaluate.

        Returns
        -------
        ndarray, shape (popsize, d), float64
            A new array; every row lies in ``[lower, upper]`` (see the class notes on
            boundary handling). Calling :meth:`ask` again
            before :meth:`tell` returns the same generation again (a copy): no points are
            drawn twice.

        Raises
        ------
        ArgumentError
            When ``done`` is True (the last allowed run has stopped).
        """
        if self.done:
            raise ArgumentError(
                f"ask() after the engine is done ({len(self.history)} runs, last stopped by "
                f"{self.history[-1]['reason']!r}); build a new RestartingCMA, or allow more "
                "runs with max_restarts"
            )
        if self._pending_x is None and self.scouting:
            z = self._rng.random((self.popsize, self.n_dim))  # uniform in [0, 1)^d
            self._pending = z
            self._pending_x = self._to_box(z)
        elif self._pending_x is None:
            cma = self._cma
            B, D = cma._eigen_decomposition()
            noise = self._rng.standard_normal((self.popsize, self.n_dim))
            z = cma._mean + float(cma._sigma) * (noise @ (B * D).T)
            self._pending = z
            self._pending_x = self._to_box(z)
        return self._pending_x.copy()

    def tell(self, X: ArrayLike, values: ArrayLike) -> None:
        """Report the values of the generation returned by :meth:`ask`.

        Parameters
        ----------
        X : array_like, shape (popsize, d)
            Exactly the rows :meth:`ask` returned, in the same order.
        values : array_like, shape (popsize,)
            The objective at each row (minimised). ``inf``, ``-inf`` and NaN mark failed
            evaluations: they rank after every finite value (``-inf`` is ranked worst, not
            best; see the class notes) and never become ``best_f``.

        After the update the stop rules are checked; when one holds, the run is recorded in
        ``history`` and the next run starts (``popsize`` may change) or ``done`` is set.

        Raises
        ------
        ArgumentError
            Before :meth:`ask`, or when ``X`` or ``values`` has the wrong shape or ``X`` is
            not the asked generation.
        """
        if self._pending is None or self._pending_x is None:
            raise ArgumentError(
                "tell() without a pending generation; call ask() first and tell its rows"
                + (" (the engine is done)" if self.done else "")
            )
        Xa = _float_array("X", X)
        v = _float_array("values", values)
        if Xa.shape != self._pending_x.shape:
            raise ArgumentError(
                f"X has shape {Xa.shape}; expected {self._pending_x.shape}, the generation "
                "returned by ask()"
            )
        if v.shape != (self.popsize,):
            raise ArgumentError(
                f"values has shape {v.shape}; expected ({self.popsize},), one value per row "
                "of the asked generation"
            )
        if not np.array_equal(Xa, self._pending_x):
            raise ArgumentError(
                "X differs from the generation returned by ask(); tell exactly the asked "
                "rows, in the order ask() returned them"
            )
        z = self._pending
        key = np.where(np.isfinite(v), v, np.inf)
        order = np.argsort(key, kind="stable")
        if self.scouting:
            self._tell_scout(z, Xa, key, int(order[0]))
            return
        ranks = np.empty(self.popsize, dtype=np.int64)
        ranks[order] = np.arange(self.popsize)
        self._cma.tell([(z[i], float(ranks[i])) for i in range(self.popsize)])
        self._pending = self._pending_x = None

        best_i = int(order[0])
        gen_best = float(key[best_i])
        if gen_best < self.best_f:
            self.best_f = gen_best
            self.best_x = Xa[best_i].copy()
        self._run_best = min(self._run_best, gen_best)
        self._trace.best.append(gen_best)
        ranked = key[order]
        n = self.popsize
        self._trace.median.append(float((ranked[(n - 1) // 2] + ranked[n // 2]) / 2.0))
        if len(self._trace.best) > STAGNATION_MAX:
            del self._trace.best[0], self._trace.median[0]
        self.generation += 1
        self.run_generation += 1
        self.n_evals += self.popsize

        cma = self._cma
        B, D = cma._eigen_decomposition()
        reason = stop_reason(
            self._rules,
            self._trace,
            v,
            mean=cma._mean,
            sigma=float(cma._sigma),
            sigma0=self._run_sigma0,
            C=cma._C,
            B=B,
            D=D,
            pc=cma._pc,
            generation=self.run_generation,
        )
        if reason is not None:
            self._end_run(reason)

    def _tell_scout(self, z: np.ndarray, X: np.ndarray, key: np.ndarray, best_i: int) -> None:
        """Start the next run at the best scout point (a uniform point if all failed)."""
        self._pending = self._pending_x = None
        self.generation += 1
        self.n_evals += self.popsize
        scout_f = float(key[best_i])
        if scout_f < self.best_f:
            self.best_f = scout_f
            self.best_x = X[best_i].copy()
        assert self._next_run is not None
        sigma, popsize = self._next_run
        self.scouting = False
        self._next_run = None
        if math.isfinite(scout_f):
            mean, start = z[best_i].copy(), "scout"
        else:  # every scout point failed: no information, start anywhere
            mean, start = self._rng.random(self.n_dim), "uniform"
        self._start_run(mean, sigma, popsize, start=start, scout_best_f=scout_f)

    # -- state ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The complete state as a JSON-serialisable dict.

        Only lists, dicts, strings, ints, floats, booleans and ``None``; non-finite floats are
        strings (``"inf"``), so ``json.dumps(state, allow_nan=False)`` works.
        :meth:`from_state` continues bit for bit, also between :meth:`ask` and :meth:`tell`.
        """
        return _engine_state.snapshot(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RestartingCMA:
        """An engine that continues from ``state`` (a :meth:`state_dict`, possibly after a
        JSON round trip).

        Raises
        ------
        ArgumentError
            When ``state`` is not a state of this class (wrong ``format`` or ``version``, or
            written by an incompatible ``cmaes`` version).
        """
        return _engine_state.load(cls, state)


def _float_array(name: str, value: ArrayLike) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"{name} cannot be read as a float array ({exc}); pass a numpy array of floats"
        ) from exc

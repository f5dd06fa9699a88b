"""``DynamicNestedSampler``: evidence and posterior from any batch log-likelihood.

The algorithm (``docs/nested.md`` has the full account):

1. **Baseline**: a static run of ``nlive_init`` live points from the prior down to a remaining
   evidence below ``dlogz_init`` (``_engine.py``: batch removal, bounded rejection sampling
   up to 10 dimensions, random walks above).
2. **Dynamic batches** of ``nlive_batch`` live points, each over the likelihood band the weight
   function picks (``_dynamic.py``), merged with everything before by their births
   (``_run.py``), until the evidence error and the posterior's effective sample size meet
   their targets.
3. **Error bar**: the thread bootstrap (``_run.py``), reported with the single-run estimate.

Every likelihood call is a batch ``(n, d) -> (n,)``; the sampler's own work per step is numpy
on whole arrays. Results are bit-identical for a seed whatever the likelihood's thread count
(the proposals never depend on it), and a checkpointed run resumes to the same results.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.errors import ArgumentError, ArgumentTypeError, ResultError

from ._bounds import fit_multi
from ._dynamic import band, kish, pfrac_for
from ._engine import RunSettings, RunState, Store, step_run
from ._proposals import propose_uniform
from ._run import LOGL_FLOOR, Integrals, bootstrap_logz, integrate

__all__ = ["DynamicNestedSampler"]

FloatArray = NDArray[np.float64]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ArgumentError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_float(name: str, value: Any, minimum: float, *, allow_inf: bool = False) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or math.isnan(value) or value <= minimum or (math.isinf(value) and not allow_inf):
        raise ArgumentError(f"`{name}` must be a number > {minimum}, got {value!r}.")
    return float(value)


class DynamicNestedSampler:
    """Dynamic nested sampler over a batch log-likelihood on the unit cube's image.

    Parameters
    ----------
    loglikelihood : callable
        ``logl(V)`` with ``V`` of shape (n, ndim) returning (n,) float (``vectorized=True``),
        or ``logl(v)`` of one point (ndim,) returning a float. NaN and ``-inf`` mean zero
        likelihood (the point is never kept); ``+inf`` raises :class:`ResultError`.
    prior_transform : callable
        Maps unit-cube points to parameters: ``(n, ndim) -> (n, ndim)`` when vectorized,
        ``(ndim,) -> (ndim,)`` otherwise.
    ndim : int
    vectorized : bool, default True
        Whether both functions take batches.
    seed : int or numpy.random.Generator, optional
    bound : {"multi", "single", "none"}, default "multi"
        Bounding ellipsoids for the rejection sampler (``"none"``: the whole cube).
    sample : {"auto", "unif", "rwalk"}, default "auto"
        ``"auto"`` is ``"unif"`` up to 10 dimensions and ``"rwalk"`` above.
    walks : int, default 25
        Steps of each random walk (``"rwalk"``).
    n_boot : int, default 5
        Bootstrap resamples that set the bound's enlargement.
    remove_fraction : float, default 0.1
        Share of the live points replaced per step (each step is one or a few batch calls).
    n_bootstrap : int, default 64
        Thread-bootstrap replicas for the evidence error.
    parameter_names : sequence of str, optional
    """

    def __init__(
        self,
        loglikelihood: Callable[..., Any],
        prior_transform: Callable[..., Any],
        ndim: int,
        *,
        vectorized: bool = True,
        seed: int | np.random.Generator | None = None,
        bound: str = "multi",
        sample: str = "auto",
        walks: int = 25,
        n_boot: int = 5,
        remove_fraction: float = 0.1,
        n_bootstrap: int = 64,
        parameter_names: Sequence[str] | None = None,
    ) -> None:
        for name, fn in (("loglikelihood", loglikelihood), ("prior_transform", prior_transform)):
            if not callable(fn):
                raise ArgumentTypeError(f"`{name}` must be callable, got {type(fn).__name__}.")
        self.ndim = _check_int("ndim", ndim, 1)
        if bound not in ("multi", "single", "none"):
            raise ArgumentError(f"`bound` must be 'multi', 'single' or 'none', got {bound!r}.")
        if sample not in ("auto", "unif", "rwalk"):
            raise ArgumentError(f"`sample` must be 'auto', 'unif' or 'rwalk', got {sample!r}.")
        if sample == "auto":
            sample = "unif" if self.ndim <= 10 else "rwalk"
        if not 0.0 < remove_fraction <= 0.5:
            raise ArgumentError(f"`remove_fraction` must be in (0, 0.5], got {remove_fraction!r}.")
        self._settings = RunSettings(
            sample=sample,
            bound=bound,
            remove_fraction=float(remove_fraction),
            n_boot=_check_int("n_boot", n_boot, 0),
            walks=_check_int("walks", walks, 1),
        )
        self._n_bootstrap = _check_int("n_bootstrap", n_bootstrap, 2)
        if parameter_names is not None:
            parameter_names = [str(p) for p in parameter_names]
            if len(parameter_names) != self.ndim:
                raise ArgumentError(
                    f"`parameter_names` has {len(parameter_names)} names for ndim={self.ndim}."
                )
        self.parameter_names = parameter_names
        self._loglike = loglikelihood
        self._transform = prior_transform
        self._vectorized = bool(vectorized)
        root = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._rng, self._boot_rng = root.spawn(2)
        self._store = Store()
        self._state: RunState | None = None
        self._nbatch = 0
        self._batch_nlive: list[int] = []
        self._batch_bounds: list[tuple[float, float]] = []
        self._ncall = 0
        self._next_thread = 0
        self._baseline_done = False
        self._stop_reason = ""
        self._wall = 0.0
        self._results: Any = None
        self.solver_check: dict[str, Any] | None = None
        self._problem: Any = None
        self._final: tuple[int, tuple[dict[str, Any], Integrals, float, float]] | None = None
        self._check: tuple[int, float, int | None] = (0, 100.0, None)

    @classmethod
    def from_problem(
        cls,
        problem: Any,
        *,
        seed: int | np.random.Generator | None = None,
        n_threads: int | None = None,
        n_check: int = 32,
        check_factor: float = 100.0,
        **kwargs: Any,
    ) -> DynamicNestedSampler:
        """A sampler of a problem's posterior: uniform prior on its bounds, logL = -cost.

        The cost must be a normalised negative log-likelihood (``GaussianNLL``); SSE and RMSE
        are refused with the fix. After ``run_nested``, ``results.solver_check`` reports how
        much the solver's tolerance moves ln Z: ``n_check`` posterior draws are re-evaluated
        with rtol and atol divided by ``check_factor`` (``n_check=0`` skips it), and a
        :class:`SolverToleranceWarning` says which rtol to use when the shift is not small
        against ``logzerr`` (``_from_problem.py``).

        Parameters
        ----------
        problem : ProblemLike
            With finite ``bounds`` and a ``GaussianNLL`` cost.
        seed : int or numpy.random.Generator, optional
        n_threads : int, optional
            Threads of ``problem.evaluate_batch`` (results do not depend on it).
        n_check : int, default 32
        check_factor : float, default 100
        **kwargs
            Passed to :class:`DynamicNestedSampler` (``bound``, ``sample``, ...).
        """
        from ._from_problem import problem_functions

        loglike, transform, ndim, names = problem_functions(problem, n_threads)
        kwargs.setdefault("parameter_names", names)
        sampler = cls(loglike, transform, ndim, vectorized=True, seed=seed, **kwargs)
        sampler._problem = problem
        sampler._check = (
            _check_int("n_check", n_check, 0),
            _check_float("check_factor", check_factor, 1.0),
            n_threads,
        )
        return sampler

    # ------------------------------------------------------------------ likelihood
    def _evaluate(self, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Physical points and log-likelihoods of unit-cube rows ``u`` (n, d)."""
        n, d = u.shape
        if self._vectorized:
            v = np.asarray(self._transform(u), dtype=np.float64)
        else:
            v = np.array([np.asarray(self._transform(row), dtype=np.float64) for row in u])
        if v.shape != (n, d):
            raise ResultError(
                f"`prior_transform` returned shape {v.shape} for input shape {(n, d)}; it "
                "must return one parameter vector of length ndim per unit-cube point."
            )
        raw = self._loglike(v) if self._vectorized else [self._loglike(row) for row in v]
        logl = np.asarray(raw, dtype=np.float64)
        if logl.shape != (n,):
            raise ResultError(
                f"`loglikelihood` returned shape {logl.shape} for {n} points; a vectorized "
                "log-likelihood maps (n, ndim) to (n,) (pass vectorized=False for one that "
                "takes one point)."
            )
        if np.any(logl == np.inf):
            row = int(np.flatnonzero(logl == np.inf)[0])
            raise ResultError(
                f"`loglikelihood` returned +inf at parameters {v[row].tolist()}; the evidence "
                "is undefined. Return a finite value (or -inf for a zero likelihood)."
            )
        self._ncall += n
        logl = np.where(np.isnan(logl) | (logl < LOGL_FLOOR), LOGL_FLOOR, logl)
        return v, logl

    # ------------------------------------------------------------------ runs
    def _new_run(
        self,
        batch: int,
        nlive: int,
        logl_min: float,
        logl_max: float,
        logvol: float,
        dlogz: float,
    ) -> RunState:
        d = self.ndim
        calls = 0
        if math.isinf(logl_min):
            u = self._rng.random((nlive, d))
            v, logl = self._evaluate(u)
            if batch == 0 and np.all(logl <= LOGL_FLOOR):
                raise ResultError(
                    f"`loglikelihood` is NaN or -inf at all {nlive} points drawn from the "
                    "prior: the likelihood is zero everywhere sampled, or broken. Check it at "
                    "a few points of the prior (prior_transform of random unit-cube points)."
                )
            calls, use_bound, bnd = nlive, False, None
        else:
            data = self._store.arrays()
            above = data["u"][data["logl"] > logl_min]
            bnd = fit_multi(above, logvol, self._settings.n_boot, self._rng)
            u, v, logl, calls, _ = propose_uniform(
                self._evaluate,
                logl_min,
                nlive,
                bnd,
                0.1,
                self._settings.min_batch,
                d,
                self._rng,
            )
            u, v, logl = u[:nlive], v[:nlive], logl[:nlive]
            use_bound = True
        threads = np.arange(self._next_thread, self._next_thread + nlive, dtype=np.int64)
        self._next_thread += nlive
        state = RunState(
            batch=batch,
            u=u,
            v=v,
            logl=logl,
            birth=np.full(nlive, logl_min),
            thread=threads,
            logl_max=logl_max,
            dlogz=dlogz,
            use_bound=use_bound,
            bound=bnd,
            bound_logvol=logvol,
            logvol=logvol,
            last_logl=logl_min if not math.isinf(logl_min) else LOGL_FLOOR,
        )
        state.pending_calls = calls
        return state

    # ------------------------------------------------------------------ analysis
    def _analyse(self, n_replicas: int) -> tuple[dict[str, Any], Integrals, float, float]:
        """``(arrays, integrals, logzerr, ess)`` of everything sampled so far."""
        data = self._store.arrays()
        ints = integrate(data["logl"], data["birth"])
        single = math.sqrt(float(ints.logzvar[-1]))
        boot = bootstrap_logz(
            data["logl"],
            data["birth"],
            data["thread"],
            data["batch"],
            n_replicas,
            self._boot_rng,
        )
        data["logz_bootstrap"] = boot
        data["logzerr_single"] = single
        data["logzerr_bootstrap"] = float(np.std(boot, ddof=1))
        logzerr = max(single, data["logzerr_bootstrap"])
        return data, ints, logzerr, kish(ints.logwt)

    # ------------------------------------------------------------------ the run
    def run_nested(
        self,
        nlive_init: int = 500,
        dlogz_init: float = 0.01,
        nlive_batch: int = 500,
        *,
        logzerr_target: float = 0.1,
        n_effective: int = 5000,
        maxbatch: int | None = None,
        maxcall: int | None = None,
        print_progress: bool = False,
        checkpoint_file: str | None = None,
        checkpoint_every: float = 60.0,
        resume: bool = False,
    ) -> None:
        """Run (or continue) the sampler until both targets hold.

        Parameters
        ----------
        nlive_init : int, default 500
            Live points of the baseline run.
        dlogz_init : float, default 0.01
            The baseline stops when its live points could add less than this to ln Z.
        nlive_batch : int, default 500
            Live points of each dynamic batch.
        logzerr_target : float, default 0.1
            Stop once the evidence error is at most this (nats)...
        n_effective : int, default 5000
            ... and the posterior's effective sample size is at least this.
        maxbatch, maxcall : int, optional
            Budgets: dynamic batches, likelihood calls (checked between steps).
        print_progress : bool, default False
            A rate-limited progress line (tqdm when installed).
        checkpoint_file : str, optional
            Save the sampler's state there every ``checkpoint_every`` seconds and at the end.
        resume : bool, default False
            Continue from ``checkpoint_file`` if it exists (same functions and settings).
        """
        nlive_init = _check_int("nlive_init", nlive_init, 2 * self.ndim + 2)
        nlive_batch = _check_int("nlive_batch", nlive_batch, 2 * self.ndim + 2)
        dlogz_init = _check_float("dlogz_init", dlogz_init, 0.0)
        logzerr_target = _check_float("logzerr_target", logzerr_target, 0.0)
        n_effective = _check_int("n_effective", n_effective, 1)
        maxbatch_ = math.inf if maxbatch is None else _check_int("maxbatch", maxbatch, 0)
        maxcall_ = math.inf if maxcall is None else _check_int("maxcall", maxcall, 1)
        checkpoint_every = _check_float("checkpoint_every", checkpoint_every, -1.0, allow_inf=True)
        if resume and checkpoint_file is None:
            raise ArgumentError("`resume=True` needs `checkpoint_file`, the file to resume from.")
        if resume:
            self._restore(checkpoint_file)
        t0 = time.perf_counter() - self._wall
        last_save = time.perf_counter()

        from ._progress import Progress

        with Progress(print_progress) as bar:

            def save(force: bool = False) -> None:
                nonlocal last_save
                if checkpoint_file is not None and (
                    force or time.perf_counter() - last_save >= checkpoint_every
                ):
                    self._wall = time.perf_counter() - t0
                    self._save(checkpoint_file)
                    last_save = time.perf_counter()

            if not self._baseline_done:
                if self._state is None:
                    self._state = self._new_run(
                        0, nlive_init, -math.inf, math.inf, 0.0, dlogz_init
                    )
                    self._batch_nlive.append(nlive_init)
                    self._batch_bounds.append((-math.inf, math.inf))
                while not self._state.done and self._ncall < maxcall_:
                    step_run(self._state, self._store, self._evaluate, self._settings, self._rng)
                    bar.update(
                        niter=self._store.size,
                        ncall=self._ncall,
                        logz=self._state.logz,
                        logzerr=math.nan,
                        phase="baseline",
                    )
                    save()
                if not self._state.done:
                    self._finish("maxcall", t0)
                    save(force=True)
                    return
                self._baseline_done = True
                self._state = None
            while True:
                if self._state is None:
                    analysis = self._analyse(self._n_bootstrap)
                    data, ints, logzerr, ess = analysis
                    self._final = (data["logl"].size, analysis)  # the results reuse it
                    stop = max(n_effective / max(ess, 1.0), (logzerr / logzerr_target) ** 2)
                    bar.update(
                        niter=data["logl"].size,
                        ncall=self._ncall,
                        logz=float(ints.logz[-1]),
                        logzerr=logzerr,
                        stop=stop,
                        phase="dynamic",
                    )
                    if stop <= 1.0:
                        reason = "targets met"
                    elif self._nbatch >= maxbatch_:
                        reason = "maxbatch"
                    elif self._ncall >= maxcall_:
                        reason = "maxcall"
                    else:
                        reason = ""
                    if reason:
                        self._finish(reason, t0)
                        save(force=True)
                        return
                    pfrac = pfrac_for(ess, n_effective, logzerr, logzerr_target)
                    lo, hi, logvol = band(ints, data["logl"][ints.order], pfrac)
                    self._nbatch += 1
                    self._state = self._new_run(self._nbatch, nlive_batch, lo, hi, logvol, 0.0)
                    self._batch_nlive.append(nlive_batch)
                    self._batch_bounds.append((lo, hi))
                while not self._state.done:
                    step_run(self._state, self._store, self._evaluate, self._settings, self._rng)
                    save()
                self._state = None

    def _finish(self, reason: str, t0: float) -> None:
        self._stop_reason = reason
        self._results = None
        n_check, factor, n_threads = self._check
        if self._problem is not None and n_check > 0:
            from ._from_problem import solver_check

            self.solver_check = None
            self.solver_check = solver_check(
                self._problem,
                self.results,
                n_check=n_check,
                check_factor=factor,
                n_threads=n_threads,
                rng=self._boot_rng,
            )
            self._results = None
        self._wall = time.perf_counter() - t0

    # ------------------------------------------------------------------ results
    @property
    def results(self) -> Any:
        """dynesty-compatible :class:`~diffid_plugins.nested.Results` of the run so far."""
        if self._results is None:
            if not self._store.logl:
                raise ArgumentError("No samples yet: call run_nested() first.")
            self._results = self._make_results()
        return self._results

    def _make_results(self) -> Any:
        from ._results import Results

        n = self._store.size
        if self._final is None or self._final[0] != n:
            self._final = (n, self._analyse(self._n_bootstrap))
        data, ints, logzerr, ess = self._final[1]
        o = ints.order
        single = data["logzerr_single"]
        scale = logzerr / single if single > 0 else 1.0
        ncall = data["ncall"][o]
        fields: dict[str, Any] = {
            "niter": int(o.size),
            "ncall": ncall,
            "eff": 100.0 * o.size / max(int(ncall.sum()), 1),
            "samples": data["v"][o],
            "samples_u": data["u"][o],
            "samples_id": data["thread"][o],
            "samples_it": o.astype(np.int64),
            "samples_batch": data["batch"][o],
            "samples_n": ints.samples_n,
            "logl": np.where(data["logl"][o] <= LOGL_FLOOR, -np.inf, data["logl"][o]),
            "logvol": ints.logvol,
            "logwt": ints.logwt,
            "logz": ints.logz,
            "logzerr": np.sqrt(ints.logzvar) * scale,
            "information": ints.information,
            "batch_nlive": np.array(self._batch_nlive, dtype=np.int64),
            "batch_logl_bounds": np.array(self._batch_bounds, dtype=np.float64).reshape(-1, 2),
            "logzerr_single": single,
            "logzerr_bootstrap": data["logzerr_bootstrap"],
            "logz_bootstrap": data["logz_bootstrap"],
            "n_effective": ess,
            "stop_reason": self._stop_reason,
            "solver_check": self.solver_check,
            "parameter_names": self.parameter_names,
            "wall_time": self._wall,
        }
        return Results(fields)

    # ------------------------------------------------------------------ checkpoints
    _STATE_KEYS = (
        "_store",
        "_state",
        "_nbatch",
        "_batch_nlive",
        "_batch_bounds",
        "_ncall",
        "_next_thread",
        "_baseline_done",
        "_stop_reason",
        "_wall",
        "_rng",
        "_boot_rng",
    )

    def _save(self, path: str) -> None:
        from ._checkpoint import save_checkpoint

        state = {k: getattr(self, k) for k in self._STATE_KEYS}
        state["ndim"] = self.ndim
        state["settings"] = self._settings
        save_checkpoint(path, state)

    def _restore(self, path: str | None) -> None:
        import os

        from ._checkpoint import load_checkpoint

        if path is None or not os.path.exists(path):
            return
        state = load_checkpoint(path)
        if state.get("ndim") != self.ndim or state.get("settings") != self._settings:
            raise ArgumentError(
                f"checkpoint {path!r} was written by a sampler with other settings "
                f"(ndim={state.get('ndim')!r}, {state.get('settings')!r}); build the sampler "
                "as it was built, or start afresh with resume=False."
            )
        for k in self._STATE_KEYS:
            setattr(self, k, state[k])
        self._results = None

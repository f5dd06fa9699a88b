"""Optuna adapter benchmark: our batch driver against Optuna's CmaEsSampler, trial by trial.

On the seed tutorial box problem (Lotka-Volterra, 4 parameters, ``TUTORIAL_BOX``), for each
seed and a budget of ``n_trials``:

* ``ours``: ``optimize(study, problem, n_trials)`` with ``CmaEsSampler(seed=seed)``, all
  defaults (IPOP restarts, log-scaled search from the geometric centre of the box, sigma0
  0.1, stop rules for costs known to a relative precision), ``n_threads=1``;
* ``optuna``: ``optuna.samplers.CmaEsSampler(seed=seed)`` with ``study.optimize(objective)``,
  the objective calling ``problem.evaluate``.

A hit is an SSE <= 330 when the best point is evaluated again with an accurate solver
(``rtol = atol = 1e-10``; the least-squares optimum is 313.51 with the package's data).
``--random-start``: ours starts from ``x0`` drawn log-uniformly in the box per seed (the
generator ``numpy.random.default_rng([seed, 1])``) instead of the geometric centre, which on
this box lies near the optimum; it measures the restarts, not the start. ``--scout N`` sets
``CmaEsSampler(scout=N)`` (uniform draws before each restart; default the sampler's, 0 = off).
``--ours-only`` skips Optuna's sampler and the overhead measurements. ``--per-run N``
prints only the per-run table behind ``DEFAULT_SCOUT``: N single CMA-ES runs per population
(8, 16) and scout size, started at the best of the scout's uniform draws.

Also measured: the per-trial overhead of ``study.optimize`` with a trivial objective
(RandomSampler, ours, Optuna's CmaEsSampler), and the cost of recording a trial
(ask/tell vs ``create_trial`` + storage).

Run: ``PYTHONPATH=$PWD python benchmarks/adapters_optuna.py [--quick] [--seeds N]
[--random-start] [--scout N] [--ours-only] [--per-run N]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import optuna

from diffid_plugins import Problem, compile_model
from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text
from diffid_plugins.optuna import CmaEsSampler, optimize

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore")

HIT = 330.0


def _problems() -> tuple[Problem, Problem]:
    model = compile_model(tutorial_text())
    data = tutorial_data()
    fast = Problem(model, data, bounds=TUTORIAL_BOX)
    accurate = Problem(model, data, bounds=TUTORIAL_BOX, rtol=1e-10, atol=1e-10)
    return fast, accurate


def _best_sse(study: optuna.Study, accurate: Problem) -> float:
    x = np.array([study.best_params[n] for n in accurate.parameter_names])
    return float(accurate.evaluate(x))


def random_start(seed: int, names: list[str]) -> dict[str, float]:
    """A start point drawn log-uniformly in ``TUTORIAL_BOX`` (by parameter name)."""
    rng = np.random.default_rng([seed, 1])
    lo, hi = np.log(np.array(TUTORIAL_BOX, dtype=np.float64)).T
    x = np.exp(rng.uniform(lo, hi))
    return dict(zip(names, x.tolist(), strict=True))


def run_ours(
    seed: int,
    n_trials: int,
    fast: Problem,
    accurate: Problem,
    x0: dict[str, float] | None = None,
    scout: int | None = None,
) -> dict[str, Any]:
    study = optuna.create_study(sampler=CmaEsSampler(seed=seed, x0=x0, scout=scout))
    t0 = time.perf_counter()
    optimize(study, fast, n_trials=n_trials, n_threads=1)
    wall = time.perf_counter() - t0
    sse = _best_sse(study, accurate)
    engine = next(iter(study.sampler.slots.values())).engine  # type: ignore[attr-defined]
    return {
        "peer": "ours",
        "seed": seed,
        "sse": sse,
        "hit": sse <= HIT,
        "time": wall,
        "per_trial_ms": 1e3 * wall / len(study.trials),
        "restarts": engine.n_restarts,
        "trials": len(study.trials),
        "first_run_best": engine.history[0]["best_f"] if engine.history else engine.best_f,
    }


def run_optuna(seed: int, n_trials: int, fast: Problem, accurate: Problem) -> dict[str, Any]:
    names, box = fast.parameter_names, TUTORIAL_BOX

    def objective(trial: optuna.Trial) -> float:
        x = [trial.suggest_float(n, lo, hi) for n, (lo, hi) in zip(names, box, strict=True)]
        return float(fast.evaluate(np.array(x)))

    study = optuna.create_study(sampler=optuna.samplers.CmaEsSampler(seed=seed))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    wall = time.perf_counter() - t0
    sse = _best_sse(study, accurate)
    return {
        "peer": "optuna",
        "seed": seed,
        "sse": sse,
        "hit": sse <= HIT,
        "time": wall,
        "per_trial_ms": 1e3 * wall / len(study.trials),
        "restarts": 0,
        "trials": len(study.trials),
    }


def overhead(n_trials: int = 2000) -> dict[str, float]:
    """ms per trial of ``study.optimize`` with a trivial 4-parameter objective (best of 2)."""

    def objective(trial: optuna.Trial) -> float:
        return sum(trial.suggest_float(n, 0.0, 1.0) ** 2 for n in "abdg")

    makers = {
        "RandomSampler": lambda: optuna.samplers.RandomSampler(seed=0),
        "ours": lambda: CmaEsSampler(seed=0),
        "optuna CmaEsSampler": lambda: optuna.samplers.CmaEsSampler(seed=0),
    }
    out = {}
    for name, make in makers.items():
        best = np.inf
        for _ in range(2):
            study = optuna.create_study(sampler=make())
            t0 = time.perf_counter()
            study.optimize(objective, n_trials=n_trials)
            best = min(best, (time.perf_counter() - t0) / n_trials)
        out[name] = 1e3 * best
    return out


def record_costs(n: int = 2000) -> dict[str, float]:
    """ms per trial to record an evaluated point: ask/tell vs create_trial + storage."""
    dists = {k: optuna.distributions.FloatDistribution(0.0, 1.0) for k in "abdg"}
    X = np.random.default_rng(0).random((n, 4)).tolist()
    out = {}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    t0 = time.perf_counter()
    for x in X:
        trial = study.ask(dists)
        study.tell(trial, sum(x))
    out["ask/tell (RandomSampler)"] = 1e3 * (time.perf_counter() - t0) / n
    study = optuna.create_study()
    t0 = time.perf_counter()
    study.add_trials(
        optuna.trial.create_trial(
            params=dict(zip("abdg", x, strict=True)), distributions=dists, value=sum(x)
        )
        for x in X
    )
    out["create_trial + add_trials"] = 1e3 * (time.perf_counter() - t0) / n
    study = optuna.create_study()
    t0 = time.perf_counter()
    for x in X:  # what optimize() does: keeps the trial id for callbacks
        study._storage.create_new_trial(
            study._study_id,
            template_trial=optuna.trial.create_trial(
                params=dict(zip("abdg", x, strict=True)),
                distributions=dists,
                value=sum(x),
                system_attrs={
                    "diffid_cma": {"island": 0, "run": 0, "generation": 0, "popsize": 8, "row": 0}
                },
            ),
        )
    out["create_trial + storage.create_new_trial (optimize)"] = (
        1e3 * (time.perf_counter() - t0) / n
    )
    return out


def run(
    seeds: Iterable[int] = range(10),
    n_trials: int = 3000,
    quick: bool = False,
    *,
    random_x0: bool = False,
    scout: int | None = None,
    peer: bool = True,
) -> list[dict[str, Any]]:
    """One row per (peer, seed): sse, hit, time (s), per_trial_ms, restarts."""
    seeds = list(seeds)[:3] if quick else list(seeds)
    n_trials = min(n_trials, 1000) if quick else n_trials
    fast, accurate = _problems()
    fast.evaluate_batch(np.asarray(fast.x0)[None, :])  # warm the kernels
    rows = []
    for seed in seeds:
        x0 = random_start(seed, list(fast.parameter_names)) if random_x0 else None
        rows.append(run_ours(seed, n_trials, fast, accurate, x0=x0, scout=scout))
        if peer:
            rows.append(run_optuna(seed, n_trials, fast, accurate))
    return rows


def per_run(
    n_runs: int = 100,
    popsizes: Iterable[int] = (8, 16),
    scouts: Iterable[int] = (0, 32, 64, 128, 256, 512, 1024),
) -> list[dict[str, Any]]:
    """One CMA-ES run per start (the sampler's settings, log box, no restarts): how often it
    reaches the global basin (best SSE <= 330 at the fast tolerance) from the best of
    ``scout`` uniform draws (``scout = 0``: from one uniform point)."""
    from diffid_plugins.optim import RestartingCMA
    from diffid_plugins.optuna._sampler import DEFAULT_SIGMA0, DEFAULT_STOP_RULES

    fast, _ = _problems()
    lo, hi = np.log(np.array(TUTORIAL_BOX, dtype=np.float64)).T

    def f(Z: np.ndarray) -> np.ndarray:
        return np.asarray(fast.evaluate_batch(np.exp(Z), n_threads=1), dtype=np.float64)

    out = []
    for popsize in popsizes:
        for scout in scouts:
            hits, evals = 0, []
            for r in range(n_runs):
                rng = np.random.default_rng([r, 99, scout])
                if scout:
                    Z = lo + rng.random((scout, 4)) * (hi - lo)
                    x0 = Z[np.argmin(f(Z))]
                else:
                    x0 = lo + rng.random(4) * (hi - lo)
                es = RestartingCMA(
                    lo,
                    hi,
                    x0=x0,
                    sigma0=DEFAULT_SIGMA0,
                    popsize=popsize,
                    restarts=None,
                    seed=r,
                    **DEFAULT_STOP_RULES,
                )
                while not es.done:
                    X = es.ask()
                    es.tell(X, f(X))
                hits += es.best_f <= HIT
                evals.append(es.n_evals + scout)
            med = statistics.median(evals)
            out.append(
                {
                    "popsize": popsize,
                    "scout": scout,
                    "hits": hits,
                    "runs": n_runs,
                    "median_evals": med,
                    "evals_per_success": med * n_runs / hits if hits else math.inf,
                }
            )
    return out


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| peer | hits | median study time (s) | median per trial (ms) | restarts |",
        "|---|---|---|---|---|",
    ]
    per = {}
    peers = [p for p in ("ours", "optuna") if any(r["peer"] == p for r in rows)]
    for peer in peers:
        sel = [r for r in rows if r["peer"] == peer]
        per[peer] = statistics.median(r["per_trial_ms"] for r in sel)
        lines.append(
            f"| {peer} | {sum(r['hit'] for r in sel)}/{len(sel)} | "
            f"{statistics.median(r['time'] for r in sel):.2f} | {per[peer]:.3f} | "
            f"{[r['restarts'] for r in sel]} |"
        )
    if "optuna" in per:
        lines.append(f"\nper-trial ratio optuna / ours: {per['optuna'] / per['ours']:.1f}x")
    lines.append("\nours per seed: | seed | SSE (accurate) | trials | restarts |")
    for r in rows:
        if r["peer"] == "ours":
            lines.append(f"| {r['seed']} | {r['sse']:.2f} | {r['trials']} | {r['restarts']} |")
    lines.append("SSE (accurate re-evaluation) per seed:")
    for peer in peers:
        lines.append(
            f"  {peer}: " + ", ".join(f"{r['sse']:.1f}" for r in rows if r["peer"] == peer)
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, 1000 trials")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. N-1 (default 10)")
    parser.add_argument(
        "--random-start",
        action="store_true",
        help="ours starts at a log-uniform random x0 per seed (not the box centre)",
    )
    parser.add_argument(
        "--scout", type=int, default=None, help="CmaEsSampler(scout=N); 0 = off (default: 256)"
    )
    parser.add_argument(
        "--ours-only", action="store_true", help="skip Optuna's sampler and the overheads"
    )
    parser.add_argument(
        "--per-run",
        type=int,
        default=0,
        metavar="N",
        help="only the per-run table: N single CMA-ES runs per (popsize, scout)",
    )
    args = parser.parse_args()
    if args.per_run:
        print("| popsize | scout | runs reaching the basin | median evals | evals per success |")
        print("|---|---|---|---|---|")
        for r in per_run(args.per_run):
            print(
                f"| {r['popsize']} | {r['scout']} | {r['hits']}/{r['runs']} | "
                f"{r['median_evals']:.0f} | {r['evals_per_success']:.0f} |"
            )
        return
    print(f"{os.cpu_count()} cores; load average (1 min) {os.getloadavg()[0]:.2f}")
    print(
        f"start: {'log-uniform random x0' if args.random_start else 'geometric centre'}; "
        f"scout: {'default' if args.scout is None else args.scout}"
    )
    if not args.ours_only:
        print("\nstudy.optimize overhead, trivial objective (ms per trial):")
        for name, ms in overhead().items():
            print(f"  {name}: {ms:.3f}")
        print("\nrecording an evaluated point (ms per trial, in-memory storage):")
        for name, ms in record_costs().items():
            print(f"  {name}: {ms:.3f}")
    print()
    rows = run(
        seeds=range(args.seeds),
        quick=args.quick,
        random_x0=args.random_start,
        scout=args.scout,
        peer=not args.ours_only,
    )
    print(_table(rows))
    print(f"\nload average (1 min) at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Command line: ``python -m diffid_plugins`` runs the main job, a fit of the bundled example;
``python -m diffid_plugins warm MODEL.ds`` compiles a model's solver tiers ahead of time.

The job compiles the bundled Lotka-Volterra model (diffid's parallel-optimisation tutorial
problem), makes synthetic data from it (an accurate scipy solve at the true parameters plus
Gaussian noise of standard deviation 0.3, seeded), and fits the four parameters by least
squares: one parallel batch of random parameter sets from the search box, then Nelder-Mead
from the best of them. It prints the fit next to the true values and saves a plot of data and
fit when matplotlib is installed (``pip install "diffid_plugins[plot]"``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["main"]

from diffid_plugins.examples import TUTORIAL_BOX as BOX
from diffid_plugins.examples import TUTORIAL_TRUE as TRUE


def _synthetic_data(seed: int, noise: float = 0.3) -> NDArray[np.float64]:
    """Data (500, 3): columns t, x, y from scipy (DOP853, rtol 1e-10) plus seeded noise."""
    from scipy.integrate import solve_ivp

    a, b, d, g = TRUE

    def rhs(t: float, u: NDArray[np.float64]) -> list[float]:
        return [a * u[0] - b * u[0] * u[1], d * u[0] * u[1] - g * u[1]]

    t = np.linspace(0.0, 100.0, 500)
    sol = solve_ivp(rhs, (0.0, 100.0), [10.0, 5.0], "DOP853", t_eval=t, rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(seed)
    return np.column_stack([t, sol.y.T + rng.normal(0.0, noise, (t.size, 2))])


def _fit(problem: Any, n_population: int, seed: int) -> tuple[NDArray[np.float64], float, int]:
    """Random batch over the box, then Nelder-Mead from the best rows; (x, cost, n_evals)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    X = rng.uniform(BOX[:, 0], BOX[:, 1], (n_population, BOX.shape[0]))  # noqa: N806
    costs = problem.evaluate_batch(X)
    n_evals = len(X)
    best_x, best_cost = X[int(np.argmin(costs))], float(np.min(costs))
    for i in np.argsort(costs)[:3]:
        res = minimize(
            problem.evaluate,
            X[i],
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-8, "maxfev": 4000},
        )
        n_evals += int(res.nfev)
        if res.fun < best_cost:
            best_x, best_cost = np.asarray(res.x), float(res.fun)
    return best_x, best_cost, n_evals


def _plot(path: str, data: NDArray[np.float64], model: Any, x: NDArray[np.float64]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is not installed: pip install "diffid_plugins[plot]" to save a plot')
        return
    from diffid_plugins import solve

    t = np.linspace(0.0, 100.0, 2000)
    sol = solve(model, x, t, rtol=1e-8, atol=1e-10)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for j, (name, colour) in enumerate((("prey x", "C0"), ("predator y", "C1"))):
        ax.plot(data[:, 0], data[:, j + 1], ".", ms=3, color=colour, alpha=0.5, label=name)
        ax.plot(sol.t, sol.y[:, j], "-", color=colour, lw=1.2, label=f"{name}, fit")
    ax.set_xlabel("t")
    ax.set_title("Lotka-Volterra: synthetic data (noise 0.3) and least-squares fit")
    ax.legend(ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot saved to {path}")


def _warm(argv: Sequence[str]) -> int:
    """``python -m diffid_plugins warm MODEL.ds``: compile a model's tiers ahead of time."""
    from diffid_plugins._kernels import warm

    parser = argparse.ArgumentParser(
        prog="diffid-plugins warm",
        description=(
            "Compile a DiffSL model now and cache it on disk: the generic solver tier (once per "
            "install) and the solver specialised to this model, so that later processes that "
            "compile the same text are served by the specialised tier at once."
        ),
    )
    parser.add_argument("model", help="DiffSL model file (.ds)")
    parser.add_argument("--read-dir", default=None, help="directory for read('file.tns')")
    parser.add_argument(
        "--tier",
        choices=["generic", "specialised", "both"],
        default="both",
        help="which tier to compile (default: both)",
    )
    args = parser.parse_args(argv)
    try:
        with open(args.model, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        parser.error(f"cannot read the model file {args.model!r}: {exc.strerror or exc}")
    tiers = ("generic", "specialised") if args.tier == "both" else (args.tier,)
    for tier, seconds in warm(text, read_dir=args.read_dir, tiers=tiers).items():
        print(f"{tier} tier of {args.model} ready in {seconds:.2f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the main job (or ``warm MODEL.ds``); returns the process exit code."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["warm"]:
        return _warm(argv[1:])
    from diffid_plugins import SSE, Problem, compile_model
    from diffid_plugins.examples import load_example

    parser = argparse.ArgumentParser(prog="diffid-plugins", description=__doc__)
    parser.add_argument("--plot", default="lotka_volterra.png", help="where to save the plot")
    parser.add_argument("--no-plot", action="store_true", help="do not save a plot")
    parser.add_argument("--population", type=int, default=2000, help="size of the random batch")
    parser.add_argument("--seed", type=int, default=42, help="seed of the noise and the batch")
    args = parser.parse_args(argv)
    if args.population < 1:
        parser.error(f"--population must be a positive integer, got {args.population}")

    start = time.perf_counter()
    model = compile_model(load_example("lotka_volterra"))
    print(f"compiled the bundled example in {time.perf_counter() - start:.2f} s: {model!r}")
    data = _synthetic_data(args.seed)
    problem = Problem(model, data, cost=SSE(), bounds=[tuple(b) for b in BOX])
    start = time.perf_counter()
    problem.evaluate_batch(problem.x0[None, :])
    print(
        f"solver and batch kernel ready in {time.perf_counter() - start:.2f} s "
        f"({problem.last_tier} tier; compiled on first use, then loaded from the disk cache)"
    )
    print(f"fitting {problem.parameter_names} to {len(data)} noisy points of (x, y) on [0, 100]")
    start = time.perf_counter()
    x, cost, n_evals = _fit(problem, args.population, args.seed)
    elapsed = time.perf_counter() - start
    print(f"\n{'parameter':>10} {'true':>8} {'fitted':>10}")
    for name, true, fitted in zip(problem.parameter_names, TRUE, x, strict=True):
        print(f"{name:>10} {true:8.4f} {fitted:10.5f}")
    print(
        f"\nSSE at the fit {cost:.3f} (at the true parameters {problem.evaluate(TRUE):.3f}; "
        f"expected about n * sigma^2 = {2 * len(data) * 0.09:.0f})"
    )
    print(f"{n_evals} evaluations in {elapsed:.2f} s; failed rows: {problem.stats.n_failed}")
    if not args.no_plot:
        _plot(args.plot, data, model, x)
    return 0

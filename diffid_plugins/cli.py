"""Command line: ``python -m diffid_plugins`` runs the main job on a bundled example.

The job compiles the bundled Lotka-Volterra model, prints its sizes, inputs and right-hand
side at t = 0, solves it on [0, 100] when the solver layer is available, and saves a plot
when matplotlib is installed (``pip install "diffid_plugins[plot]"``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

__all__ = ["main"]


def _solve_and_plot(model: object, p: np.ndarray, plot: str | None) -> None:
    try:
        from diffid_plugins.solvers import solve
    except ImportError:
        print("solver layer not available in this build: skipping the solve")
        return
    t_eval = np.linspace(0.0, 100.0, 500)
    start = time.perf_counter()
    sol = solve(model, p, t_eval, rtol=1e-6, atol=1e-8)
    first = time.perf_counter() - start
    start = time.perf_counter()
    sol = solve(model, p, t_eval, rtol=1e-6, atol=1e-8)
    again = time.perf_counter() - start
    print(
        f"solve: success={sol.success} ({sol.message}); first call {first:.2f} s "
        f"(includes compilation), then {again * 1e3:.2f} ms"
    )
    print(f"x(100) = {sol.y[-1, 0]:.6f}, y(100) = {sol.y[-1, 1]:.6f}; stats {sol.stats}")
    if plot is None:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is not installed: pip install "diffid_plugins[plot]" to save a plot')
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(sol.t, sol.y[:, 0], label="prey x")
    ax.plot(sol.t, sol.y[:, 1], label="predator y")
    ax.set_xlabel("t")
    ax.legend()
    ax.set_title("Lotka-Volterra (bundled example)")
    fig.tight_layout()
    fig.savefig(plot, dpi=120)
    print(f"plot saved to {plot}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the main job; returns the process exit code."""
    from diffid_plugins import compile_model
    from diffid_plugins.examples import load_example

    parser = argparse.ArgumentParser(prog="diffid-plugins", description=__doc__)
    parser.add_argument("--example", default="lotka_volterra", help="bundled example name")
    parser.add_argument("--plot", default="lotka_volterra.png", help="where to save the plot")
    parser.add_argument("--no-plot", action="store_true", help="do not save a plot")
    args = parser.parse_args(argv)

    text = load_example(args.example)
    start = time.perf_counter()
    model = compile_model(text)
    p = model.default_inputs
    y0 = model.initial_state(p)
    rhs = model.rhs(p, 0.0, y0)
    print(f"compiled {args.example!r} in {time.perf_counter() - start:.2f} s: {model!r}")
    print(
        "inputs: " + ", ".join(f"{n} = {v:g}" for n, v in zip(model.input_names, p, strict=True))
    )
    print(f"initial state: {y0}")
    print(f"F(t=0, u0) = {rhs}")
    _solve_and_plot(model, p, None if args.no_plot else args.plot)
    return 0

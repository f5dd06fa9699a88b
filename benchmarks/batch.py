"""Cost per evaluation of the batch kernel on diffid's tutorial problem, against diffid and scipy.

Run from the repository root::

    python benchmarks/batch.py              # ~1 minute when the model is in the disk cache
    python benchmarks/batch.py --quick      # fewer repeats
    python benchmarks/batch.py --no-diffid  # skip diffid 0.3.0 (its interpreter)

The problem is the seed tutorial's (diffid's parallel-optimisation notebook): Lotka-Volterra,
500 points on [0, 100], noise 0.3 after ``np.random.seed(42)``, data from scipy RK45 at default
settings, rtol 1e-6, atol 1e-8, SSE over both outputs
(``diffid_plugins.problem._tutorial``). The population is 2000 points within +-20 % of the true
parameters (a CMA-ES-like cloud around a start point).

Rows:

* ours: ``Problem.evaluate`` in a Python loop, and ``evaluate_batch`` on 1 and 2 threads
  (the lane-interleaved kernel), and on 1 thread with the scalar kernel (one solve per row);
* diffid 0.3.0 (its own interpreter, ``../shared/tools/diffid-python``): ``Problem.evaluate``
  in a loop (sequential) and CMA-ES (100 generations, step 0.3, as the tutorial) with
  ``with_parallel(False)`` / ``with_parallel(True)``, time per evaluation =
  ``result.time / result.evaluations``;
* scipy: ``solve_ivp`` RK45 at rtol 1e-6 / atol 1e-8 with a Python right-hand side, + SSE;
* the 10 000 uniform draws from the box [0.5, 2] x [0.1, 1] x [0.01, 0.5] x [0.1, 1] on 2
  threads (whole batch).

Times are medians over repeats; the spread is (max - min) / median over the repeats. Ratios
are measured in the same run (absolute times drift on a shared machine). The 1- and 2-thread
batches are timed alternately so that both see the same machine load.

Other engineers add rows (process backend, Dask) with :func:`register_rows`.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIFFID_PYTHON = ROOT.parent / "shared" / "tools" / "diffid-python"


@dataclass
class Row:
    """One line of the table: time per evaluation (seconds) unless ``unit`` says otherwise."""

    name: str
    median: float
    spread: float
    unit: str = "per eval"
    note: str = ""


@dataclass
class Context:
    """What a row function gets: the tutorial problem, population, box draws, settings."""

    problem: Any
    population: np.ndarray
    box: np.ndarray
    text: str
    data: np.ndarray
    repeats: int


RowFunction = Callable[[Context], list[Row]]
_EXTRA_ROWS: list[RowFunction] = []


def register_rows(fn: RowFunction) -> RowFunction:
    """Add a function ``fn(ctx) -> list[Row]`` whose rows are appended to the table."""
    _EXTRA_ROWS.append(fn)
    return fn


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _stat(times: list[float], per: int) -> tuple[float, float]:
    med = float(np.median(times))
    return med / per, (max(times) - min(times)) / med


# --- ours ----------------------------------------------------------------------------------
def run_ours(ctx: Context) -> tuple[list[Row], dict[str, float]]:
    problem, X = ctx.problem, ctx.population
    problem.evaluate_batch(X[:4], n_threads=1)  # load / compile outside the timing
    problem.evaluate_batch(X[:4], n_threads=2)
    n_loop = 200
    loop = _timed(lambda: [problem.evaluate(x) for x in X[:n_loop]], ctx.repeats)
    # The same problem on the scalar batch kernel (one solve per row, no lanes), for the
    # speed-up of the lane-interleaved kernel (diffid_plugins/problem/_lanes.py).
    scalar = copy.copy(problem)
    scalar._lanes, scalar._kernel = False, None
    scalar.evaluate_batch(X[:4], n_threads=1)
    t1: list[float] = []
    t2: list[float] = []
    t1s: list[float] = []
    for _ in range(ctx.repeats):  # alternate, so all see the same load
        t1 += _timed(lambda: problem.evaluate_batch(X, n_threads=1), 1)
        t2 += _timed(lambda: problem.evaluate_batch(X, n_threads=2), 1)
        t1s += _timed(lambda: scalar.evaluate_batch(X, n_threads=1), 1)
    box = _timed(lambda: problem.evaluate_batch(ctx.box, n_threads=2), max(3, ctx.repeats // 2))
    _, statuses = problem.evaluate_batch(ctx.box, n_threads=2, return_status=True)
    n_fail = int(np.sum(statuses < 0))
    rows = [
        Row("ours evaluate() loop, 1 thread", *_stat(loop, n_loop)),
        Row("ours evaluate_batch, 1 thread", *_stat(t1, len(X))),
        Row("ours evaluate_batch, 2 threads", *_stat(t2, len(X))),
        Row("ours scalar kernel (no lanes), 1 thread", *_stat(t1s, len(X))),
        Row(
            "ours 10k box draws, 2 threads",
            *_stat(box, 1),
            unit="per batch",
            note=f"{n_fail} failed rows",
        ),
    ]
    e1 = float(np.median(t1)) / len(X)
    e2 = float(np.median(t2)) / len(X)
    best = {"batch1_min": min(t1) / len(X), "batch2_min": min(t2) / len(X)}
    lanes = [s / t for s, t in zip(t1s, t1, strict=True)]  # per repeat, back to back
    best["lanes_speedup"] = float(np.median(lanes))
    best["lanes_speedup_range"] = (min(lanes), max(lanes))
    return rows, {"batch1": e1, "batch2": e2, "loop": rows[0].median, **best}


# --- diffid 0.3.0 ---------------------------------------------------------------------------
_DIFFID_SCRIPT = r"""
import json, sys, time
import numpy as np
import diffid

text = open(sys.argv[1]).read()
data = np.load(sys.argv[2])
X = np.load(sys.argv[3])
repeats = int(sys.argv[4])
start = [1.1, 0.4, 0.1, 0.4]

def build(parallel):
    b = (diffid.DiffsolBuilder().with_diffsl(text).with_data(data)
         .with_tolerances(1e-6, 1e-8).with_parallel(parallel))
    for name, value in zip("abdg", start):
        b = b.with_parameter(name, value)
    return b.build()

problem = build(False)
sse = [problem.evaluate(list(x)) for x in X]  # also warms up the JIT
loop = []
for _ in range(repeats):
    t = time.perf_counter()
    for x in X[:500]:
        problem.evaluate(list(x))
    loop.append((time.perf_counter() - t) / 500)
cmaes = {}
for parallel in (False, True):
    per_eval = []
    p = build(parallel)
    for r in range(max(2, repeats // 2)):
        opt = diffid.CMAES().with_max_iter(100).with_step_size(0.3).with_seed(42 + r)
        res = opt.run(p, start)
        per_eval.append(res.time.total_seconds() / res.evaluations)
    cmaes["parallel" if parallel else "sequential"] = per_eval
print(json.dumps({"sse": sse, "loop": loop, "cmaes": cmaes}))
"""


def run_diffid(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    if not DIFFID_PYTHON.exists():
        return [Row("diffid 0.3.0", math.nan, math.nan, note="tool missing")], {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "model.ds").write_text(ctx.text)
        np.save(d / "data.npy", ctx.data)
        np.save(d / "X.npy", ctx.population)
        (d / "bench.py").write_text(_DIFFID_SCRIPT)
        args = [str(DIFFID_PYTHON), str(d / "bench.py"), str(d / "model.ds")]
        args += [str(d / "data.npy"), str(d / "X.npy"), str(ctx.repeats)]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["failed"])[-1][:70]
        return [Row("diffid 0.3.0", math.nan, math.nan, note=msg)], {}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    loop = res["loop"]
    rows = [Row("diffid 0.3.0 evaluate() loop", float(np.median(loop)), _spread(loop))]
    for key in ("sequential", "parallel"):
        vals = res["cmaes"][key]
        note = "rayon, all cores" if key == "parallel" else ""
        rows.append(
            Row(f"diffid 0.3.0 CMA-ES {key}", float(np.median(vals)), _spread(vals), note=note)
        )
    return rows, res


def _spread(values: list[float]) -> float:
    med = float(np.median(values))
    return (max(values) - min(values)) / med if med > 0 else math.nan


# --- scipy ----------------------------------------------------------------------------------
def run_scipy(ctx: Context) -> list[Row]:
    from scipy.integrate import solve_ivp

    t_data, obs = ctx.data[:, 0], ctx.data[:, 1:]

    def objective(x: np.ndarray) -> float:
        a, b, d, g = x

        def rhs(t: float, u: np.ndarray) -> list[float]:
            return [a * u[0] - b * u[0] * u[1], d * u[0] * u[1] - g * u[1]]

        sol = solve_ivp(rhs, (0.0, t_data[-1]), [10.0, 5.0], t_eval=t_data, rtol=1e-6, atol=1e-8)
        return float(np.sum((sol.y.T - obs) ** 2)) if sol.success else math.inf

    n = 5
    times = _timed(lambda: [objective(x) for x in ctx.population[:n]], max(3, ctx.repeats // 2))
    return [Row("scipy solve_ivp RK45 + SSE", *_stat(times, n), note="Python RHS")]


# --- table ----------------------------------------------------------------------------------
def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def print_table(rows: list[Row], reference: float, extra: list[str]) -> None:
    print()
    print(f"{'case':<40} {'time':>11} {'unit':>10} {'spread':>7} {'x ours 1t':>10}  note")
    print("-" * 100)
    for r in rows:
        ratio = f"{r.median / reference:.2f}" if r.unit == "per eval" and reference else ""
        spread = f"{100 * r.spread:.0f}%" if math.isfinite(r.spread) else ""
        cells = f"{_fmt_time(r.median):>11} {r.unit:>10} {spread:>7} {ratio:>10}"
        print(f"{r.name:<40} {cells}  {r.note}")
    print("-" * 100)
    for line in extra:
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-diffid", action="store_true", help="skip diffid 0.3.0")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)

    from diffid_plugins import Problem, compile_model
    from diffid_plugins.problem._tutorial import (
        TUTORIAL_BOX,
        TUTORIAL_TRUE,
        tutorial_data,
        tutorial_text,
    )

    load_start = os.getloadavg()[0]
    text, data = tutorial_text(), tutorial_data()
    t = time.perf_counter()
    problem = Problem(compile_model(text), data)
    problem.evaluate(problem.x0)
    load = time.perf_counter() - t
    rng = np.random.default_rng(0)
    population = TUTORIAL_TRUE * rng.uniform(0.8, 1.2, (2000, 4))
    box = rng.uniform(TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1], (10_000, 4))
    ctx = Context(problem, population, box, text, data, repeats)

    print(f"[ours] model load + first evaluation: {load:.2f} s", file=sys.stderr, flush=True)
    rows, ours = run_ours(ctx)
    extra = [
        f"2-thread efficiency (1-thread time / (2 x 2-thread time)): "
        f"{ours['batch1'] / (2 * ours['batch2']):.2f} (medians), "
        f"{ours['batch1_min'] / (2 * ours['batch2_min']):.2f} (best of repeats)",
        f"lanes kernel vs scalar kernel, 1 thread: {ours['lanes_speedup']:.2f}x (median of "
        f"back-to-back repeats; range {ours['lanes_speedup_range'][0]:.2f}-"
        f"{ours['lanes_speedup_range'][1]:.2f})",
    ]
    if not args.no_diffid:
        print("[diffid] running in its own interpreter ...", file=sys.stderr, flush=True)
        drows, dres = run_diffid(ctx)
        rows += drows
        if dres:
            theirs = np.asarray(dres["sse"])
            mine = problem.evaluate_batch(population)
            ok = np.isfinite(mine) & (theirs < 1e5)  # diffid 0.3.0: 1e5 = failed-solve penalty
            rel = np.abs(mine[ok] - theirs[ok]) / np.abs(theirs[ok])
            d_loop = float(np.median(dres["loop"]))
            # ours again right after diffid: the load of a shared machine drifts in minutes
            again = _timed(lambda: problem.evaluate_batch(population, n_threads=1), repeats)
            after = float(np.median(again)) / len(population)
            rows.append(Row("ours evaluate_batch, 1 thread (after)", after, _spread(again)))
            extra.append(
                f"speed-up vs diffid evaluate(), 1 thread: {d_loop / ours['batch1']:.1f}x / "
                f"{d_loop / after:.1f}x (our batch before / after diffid), "
                f"{d_loop / ours['loop']:.1f}x (our evaluate() loop); best of repeats: "
                f"{min(dres['loop']) / min(ours['batch1_min'], min(again) / len(population)):.1f}x"
            )
            extra.append(
                f"SSE ours vs diffid on the {int(ok.sum())} population points: median relative "
                f"difference {np.median(rel):.2e}, max {np.max(rel):.2e}"
            )
    print("[scipy] ...", file=sys.stderr, flush=True)
    rows += run_scipy(ctx)
    for fn in _EXTRA_ROWS:
        rows += fn(ctx)
    load_end = os.getloadavg()[0]
    extra.append(
        f"load average (1 min) at start / end: {load_start:.2f} / {load_end:.2f} on "
        f"{os.cpu_count()} cores (other processes make 2-thread numbers meaningless)"
    )
    print_table(rows, ours["batch1"], extra)


if __name__ == "__main__":
    main()

"""Cost per evaluation of the batch kernel on diffid's tutorial problem, against diffid and scipy.

Run from the repository root::

    python benchmarks/batch.py              # ~1 minute when the model is in the disk cache
    python benchmarks/batch.py --quick      # fewer repeats
    python benchmarks/batch.py --no-diffid  # skip diffid 0.3.0 (its interpreter)

The problem is the seed tutorial's (diffid's parallel-optimisation notebook): Lotka-Volterra,
500 points on [0, 100], noise 0.3 after ``np.random.seed(42)``, data from scipy RK45 at default
settings, rtol 1e-6, atol 1e-8, SSE over both outputs
(``diffid_plugins.examples``). The population is 2000 points within +-20 % of the true
parameters (a CMA-ES-like cloud around a start point).

Rows:

* ours, specialised tier (``compile_model(text, tier="specialised")``: the solver compiled
  specialised to the model, the fast path): ``Problem.evaluate`` in a Python loop, and
  ``evaluate_batch`` on 1 and 2 threads (the lane-interleaved kernel), and on 1 thread with the
  scalar kernel (one solve per row);
* ours, generic tier (``compile_model(text, tier="generic")``: solver and batch kernels
  compiled once per install, calling the model through kernel addresses):
  ``evaluate_batch`` on 1 and 2 threads, timed alternately with the specialised batches; the
  "gen/spec" column is the generic / specialised time ratio (median of back-to-back repeats;
  goal: within 1.3x), and the script prints whether both tiers' costs are bit-identical;
* diffid 0.3.0 (its own interpreter, ``../shared/tools/diffid-python``): ``Problem.evaluate``
  in a loop (sequential) and CMA-ES (100 generations, step 0.3, as the tutorial) with
  ``with_parallel(False)`` / ``with_parallel(True)``, time per evaluation =
  ``result.time / result.evaluations``;
* scipy: ``solve_ivp`` RK45 at rtol 1e-6 / atol 1e-8 with a Python right-hand side, + SSE;
* the 10 000 uniform draws from the box [0.5, 2] x [0.1, 1] x [0.01, 0.5] x [0.1, 1] on 2
  threads (whole batch).

Times are medians over repeats; the spread is (max - min) / median over the repeats. Ratios
are measured in the same run (absolute times drift on a shared machine): "x ours 1t" is time /
ours specialised ``evaluate_batch`` on 1 thread, "vs diffid" the speed-up over diffid's
``evaluate()`` loop (diffid time / row time). The 1- and 2-thread batches of both tiers are
timed alternately so that all see the same machine load. Background compiles of the
specialised tier are switched off (``DIFFID_PLUGINS_BACKGROUND=0``), and each tier is compiled
explicitly with ``tier=``.

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

# No background compile of the specialised tier while timing (each tier is compiled explicitly).
os.environ.setdefault("DIFFID_PLUGINS_BACKGROUND", "0")

ROOT = Path(__file__).resolve().parents[1]
GOAL_GENERIC = 1.3  # generic tier within 1.3x of the specialised tier's time
DIFFID_PYTHON = ROOT.parent / "shared" / "tools" / "diffid-python"


@dataclass
class Row:
    """One line of the table: time per evaluation (seconds) unless ``unit`` says otherwise."""

    name: str
    median: float
    spread: float
    unit: str = "per eval"
    note: str = ""
    vs_specialised: float = math.nan  # generic rows: generic / specialised time


@dataclass
class Context:
    """What a row function gets: the tutorial problem, population, box draws, settings.

    ``problem`` is served by the specialised tier, ``generic`` (the same problem) by the
    generic tier.
    """

    problem: Any
    population: np.ndarray
    box: np.ndarray
    text: str
    data: np.ndarray
    repeats: int
    generic: Any = None


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
def run_ours(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    problem, generic, X = ctx.problem, ctx.generic, ctx.population
    for p in (problem, generic):  # load / compile outside the timing
        p.evaluate_batch(X[:4], n_threads=1)
        p.evaluate_batch(X[:4], n_threads=2)
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
    g1: list[float] = []
    g2: list[float] = []
    for _ in range(ctx.repeats):  # alternate, so all see the same load
        t1 += _timed(lambda: problem.evaluate_batch(X, n_threads=1), 1)
        g1 += _timed(lambda: generic.evaluate_batch(X, n_threads=1), 1)
        t2 += _timed(lambda: problem.evaluate_batch(X, n_threads=2), 1)
        g2 += _timed(lambda: generic.evaluate_batch(X, n_threads=2), 1)
        t1s += _timed(lambda: scalar.evaluate_batch(X, n_threads=1), 1)
    box = _timed(lambda: problem.evaluate_batch(ctx.box, n_threads=2), max(3, ctx.repeats // 2))
    _, statuses = problem.evaluate_batch(ctx.box, n_threads=2, return_status=True)
    n_fail = int(np.sum(statuses < 0))
    # generic / specialised per repeat (back to back), then the median
    gs1 = [g / t for g, t in zip(g1, t1, strict=True)]
    gs2 = [g / t for g, t in zip(g2, t2, strict=True)]
    rows = [
        Row("ours specialised evaluate() loop, 1 thread", *_stat(loop, n_loop)),
        Row("ours specialised evaluate_batch, 1 thread", *_stat(t1, len(X))),
        Row("ours specialised evaluate_batch, 2 threads", *_stat(t2, len(X))),
        Row("ours specialised scalar kernel, 1 thread", *_stat(t1s, len(X)), note="no lanes"),
        Row(
            "ours generic evaluate_batch, 1 thread",
            *_stat(g1, len(X)),
            vs_specialised=float(np.median(gs1)),
        ),
        Row(
            "ours generic evaluate_batch, 2 threads",
            *_stat(g2, len(X)),
            vs_specialised=float(np.median(gs2)),
        ),
        Row(
            "ours specialised 10k box draws, 2 threads",
            *_stat(box, 1),
            unit="per batch",
            note=f"{n_fail} failed rows",
        ),
    ]
    out: dict[str, Any] = {
        "loop": rows[0].median,
        "batch1": float(np.median(t1)) / len(X),
        "batch2": float(np.median(t2)) / len(X),
        "batch1_min": min(t1) / len(X),
        "batch2_min": min(t2) / len(X),
        "generic1": float(np.median(g1)) / len(X),
        "generic2": float(np.median(g2)) / len(X),
        "generic1_min": min(g1) / len(X),
        "generic2_min": min(g2) / len(X),
        "gs1": float(np.median(gs1)),
        "gs2": float(np.median(gs2)),
        "gs1_range": (min(gs1), max(gs1)),
        "gs2_range": (min(gs2), max(gs2)),
    }
    lanes = [s / t for s, t in zip(t1s, t1, strict=True)]  # per repeat, back to back
    out["lanes_speedup"] = float(np.median(lanes))
    out["lanes_speedup_range"] = (min(lanes), max(lanes))
    return rows, out


def check_tiers(ctx: Context) -> str:
    """Whether both tiers give bit-identical costs and statuses on the benchmark batches."""
    checks = []
    for label, X, threads in (
        ("population, 1 thread", ctx.population, 1),
        ("population, 2 threads", ctx.population, 2),
        ("10k box draws, 2 threads", ctx.box, 2),
    ):
        c_s, s_s = ctx.problem.evaluate_batch(X, n_threads=threads, return_status=True)
        c_g, s_g = ctx.generic.evaluate_batch(X, n_threads=threads, return_status=True)
        same = np.array_equal(c_s, c_g, equal_nan=True) and np.array_equal(s_s, s_g)
        n_diff = int(np.sum((c_s != c_g) & ~(np.isnan(c_s) & np.isnan(c_g))))
        checks.append((label, same, n_diff))
    ok = all(same for _, same, _ in checks)
    detail = "; ".join(
        f"{label}: {'same' if same else f'{n_diff} costs differ'}"
        for label, same, n_diff in checks
    )
    tiers = f"served by {ctx.problem.last_tier!r} / {ctx.generic.last_tier!r}"
    return (
        f"generic vs specialised costs bit-identical: {'yes' if ok else 'no'} ({detail}; {tiers})"
    )


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


def print_table(
    rows: list[Row], reference: float, extra: list[str], diffid: float = math.nan
) -> None:
    """Print the rows; ratios against ``reference`` (ours specialised, 1 thread) and ``diffid``
    (its ``evaluate()`` loop, per eval)."""
    width = 112
    print()
    print(
        f"{'case':<46} {'time':>11} {'unit':>10} {'spread':>7} {'x ours 1t':>10} "
        f"{'vs diffid':>10} {'gen/spec':>9}  note"
    )
    print("-" * width)
    for r in rows:
        per_eval = r.unit == "per eval" and math.isfinite(r.median)
        ratio = f"{r.median / reference:.2f}" if per_eval and reference else ""
        vs_diffid = ""
        if per_eval and math.isfinite(diffid):
            speed_up = diffid / r.median
            vs_diffid = f"{speed_up:.1f}x" if speed_up >= 0.95 else f"{speed_up:.2g}x"
        gen_spec = f"{r.vs_specialised:.2f}" if math.isfinite(r.vs_specialised) else ""
        spread = f"{100 * r.spread:.0f}%" if math.isfinite(r.spread) else ""
        cells = f"{_fmt_time(r.median):>11} {r.unit:>10} {spread:>7} {ratio:>10}"
        print(f"{r.name:<46} {cells} {vs_diffid:>10} {gen_spec:>9}  {r.note}")
    print("-" * width)
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
    from diffid_plugins.examples import (
        TUTORIAL_BOX,
        TUTORIAL_TRUE,
        tutorial_data,
        tutorial_text,
    )

    load_start = os.getloadavg()[0]
    text, data = tutorial_text(), tutorial_data()
    problems = {}
    for tier in ("specialised", "generic"):
        t = time.perf_counter()
        problems[tier] = Problem(compile_model(text, tier=tier), data)
        problems[tier].evaluate(problems[tier].x0)
        load = time.perf_counter() - t
        print(
            f"[ours] {tier} tier: model load + first evaluation {load:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    problem, generic = problems["specialised"], problems["generic"]
    rng = np.random.default_rng(0)
    population = TUTORIAL_TRUE * rng.uniform(0.8, 1.2, (2000, 4))
    box = rng.uniform(TUTORIAL_BOX[:, 0], TUTORIAL_BOX[:, 1], (10_000, 4))
    ctx = Context(problem, population, box, text, data, repeats, generic=generic)

    rows, ours = run_ours(ctx)
    met = "met" if max(ours["gs1"], ours["gs2"]) <= GOAL_GENERIC else "NOT met"
    extra = [
        f"2-thread efficiency (1-thread time / (2 x 2-thread time)): specialised "
        f"{ours['batch1'] / (2 * ours['batch2']):.2f} (medians), "
        f"{ours['batch1_min'] / (2 * ours['batch2_min']):.2f} (best of repeats); generic "
        f"{ours['generic1'] / (2 * ours['generic2']):.2f} (medians), "
        f"{ours['generic1_min'] / (2 * ours['generic2_min']):.2f} (best of repeats)",
        f"generic / specialised time (goal: within {GOAL_GENERIC}x): 1 thread "
        f"{ours['gs1']:.2f}x (range {ours['gs1_range'][0]:.2f}-{ours['gs1_range'][1]:.2f}), "
        f"2 threads {ours['gs2']:.2f}x (range {ours['gs2_range'][0]:.2f}-"
        f"{ours['gs2_range'][1]:.2f}); medians of back-to-back repeats; goal {met}",
        f"lanes kernel vs scalar kernel, 1 thread: {ours['lanes_speedup']:.2f}x (median of "
        f"back-to-back repeats; range {ours['lanes_speedup_range'][0]:.2f}-"
        f"{ours['lanes_speedup_range'][1]:.2f})",
        check_tiers(ctx),
    ]
    d_loop = math.nan
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
            again: list[float] = []
            again_g: list[float] = []
            for _ in range(repeats):  # alternate the tiers again
                again += _timed(lambda: problem.evaluate_batch(population, n_threads=1), 1)
                again_g += _timed(lambda: generic.evaluate_batch(population, n_threads=1), 1)
            after = float(np.median(again)) / len(population)
            after_g = float(np.median(again_g)) / len(population)
            gs_after = [g / t for g, t in zip(again_g, again, strict=True)]
            rows.append(Row("ours specialised evaluate_batch, 1t (after)", after, _spread(again)))
            rows.append(
                Row(
                    "ours generic evaluate_batch, 1t (after)",
                    after_g,
                    _spread(again_g),
                    vs_specialised=float(np.median(gs_after)),
                )
            )
            best_d = min(dres["loop"])
            extra.append(
                f"speed-up vs diffid evaluate(), 1 thread: specialised "
                f"{d_loop / ours['batch1']:.1f}x / {d_loop / after:.1f}x (our batch before / "
                f"after diffid), {d_loop / ours['loop']:.1f}x (our evaluate() loop); generic "
                f"{d_loop / ours['generic1']:.1f}x / {d_loop / after_g:.1f}x; best of repeats: "
                f"specialised "
                f"{best_d / min(ours['batch1_min'], min(again) / len(population)):.1f}x, generic "
                f"{best_d / min(ours['generic1_min'], min(again_g) / len(population)):.1f}x"
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
    print_table(rows, ours["batch1"], extra, d_loop)


if __name__ == "__main__":
    main()

"""Time per solve of our solvers against scipy, pydiffsol and diffid, at equal accuracy.

Run from the repository root::

    python benchmarks/solvers.py                 # all cases, ~3-5 minutes (compiles on first run)
    python benchmarks/solvers.py --quick         # fewer repeats
    python benchmarks/solvers.py --cases lv heat --json out.json

Every solver solves the same problem at the same tolerances; next to each time the table shows
the maximum absolute error against a tight reference (scipy ``DOP853``/``Radau`` at rtol 1e-12,
with events handled exactly), so that times are compared at equal accuracy. diffid 0.3.0 only
returns a cost, so its column shows sqrt(SSE) against the reference (an upper bound of its
maximum error). Times are medians over repeats of a timed loop; the spread is the
interquartile range. Ratios (time / time of ``ours auto (solve)``) are measured in one run:
absolute times drift by tens of percent on a shared machine, ratios much less.

Contestants: ours through :func:`diffid_plugins.solvers.solve` and through the bare kernel
(``model.kernels.entry("solve_kernel")``, what a batch evaluation pays per parameter set),
scipy ``solve_ivp`` (Python right-hand side), pydiffsol 0.6.2
(``Ode(..., nalgebra_dense).solve_dense``) and diffid 0.3.0 (``DiffsolBuilder`` +
``Problem.evaluate``, run in its own interpreter through ``../shared/tools/diffid-python``).
Our models are the same DiffSL texts compiled with ``compile_model``; before the compiler
existed, hand-written ``@njit`` models were used. "ours <method>" is the specialised tier
(``compile_model(text, tier="specialised")``: the solver compiled specialised to the model, the
fast path); "ours generic <method>" is the same text compiled with ``tier="generic"`` (solver
kernels compiled once per install, calling the model through kernel addresses). Each generic
contestant is timed alternately with its specialised one, and its note gives the generic /
specialised time ratio (median of back-to-back repeats) and whether the outputs are
bit-identical. Background compiles are switched off (``DIFFID_PLUGINS_BACKGROUND=0``).
All timings are single-threaded.
"""

from __future__ import annotations

import os

# One thread everywhere; idle OpenBLAS threads spin and steal the second core otherwise.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# No background compile of the specialised tier while timing (each tier is compiled explicitly).
os.environ.setdefault("DIFFID_PLUGINS_BACKGROUND", "0")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DIFFID_PYTHON = SHARED / "tools" / "diffid-python"
CORPUS = SHARED / "diffsl_corpus" / "models"

# --- problems ------------------------------------------------------------------------------------
LV_CODE = """in_i { a = 1.1, b = 0.4, c = 0.1, d = 0.4 }
u_i { x = 10, y = 5 }
F_i { a * x - b * x * y, c * x * y - d * y }
"""


def _corpus(name: str) -> str:
    return (CORPUS / f"{name}.ds").read_text()


@dataclass
class Case:
    """One benchmark problem: DiffSL text, parameters, output times, tolerances, reference."""

    key: str
    title: str
    code: str
    p: np.ndarray
    t_eval: np.ndarray
    rtol: float
    atol: float
    reference: Callable[[], np.ndarray]
    scipy_rhs: Callable[[float, np.ndarray], Any] | None = None
    y0: np.ndarray | None = None
    scipy_methods: tuple[str, ...] = ()
    ours: tuple[str, ...] = ("auto",)
    pydiffsol: tuple[str, ...] = ("bdf",)
    diffid_t: np.ndarray | None = None  # diffid cannot return rows after a stop
    scipy_events: bool = False
    scipy_custom: Callable[[str], np.ndarray] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _lv_rhs(p: np.ndarray) -> Callable[[float, np.ndarray], list[float]]:
    a, b, c, d = p

    def f(t: float, y: np.ndarray) -> list[float]:
        return [a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]]

    return f


def _rob_rhs(t: float, y: np.ndarray) -> list[float]:
    return [
        -0.04 * y[0] + 1e4 * y[1] * y[2],
        0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
        3e7 * y[1] ** 2,
    ]


def _rob_jac(t: float, y: np.ndarray) -> np.ndarray:
    return np.array(
        [
            [-0.04, 1e4 * y[2], 1e4 * y[1]],
            [0.04, -1e4 * y[2] - 6e7 * y[1], -1e4 * y[1]],
            [0.0, 6e7 * y[1], 0.0],
        ]
    )


_HEAT_C = 0.1 * 21.0**2
_HEAT_A = _HEAT_C * (
    np.diag(-2.0 * np.ones(21)) + np.diag(np.ones(20), 1) + np.diag(np.ones(20), -1)
)
HEAT_U0 = np.array([0.0] * 5 + [1.0] * 10 + [0.0] * 6)


def _heat_rhs(t: float, y: np.ndarray) -> np.ndarray:
    return _HEAT_A @ y


def _ball_exact(t: np.ndarray) -> np.ndarray:
    t_hit = math.sqrt(2 * 10.0 / 9.81)
    rows = [t_k for t_k in t if t_k < t_hit] + [t_hit]
    tt = np.array(rows)
    return np.column_stack([10.0 - 4.905 * tt**2, -9.81 * tt])


def _ball_scipy(method: str) -> np.ndarray:
    t = BALL_T

    def hit(t: float, y: np.ndarray) -> float:
        return y[0]

    hit.terminal = True  # type: ignore[attr-defined]
    hit.direction = -1  # type: ignore[attr-defined]
    r = solve_ivp(
        lambda t, y: [y[1], -9.81],
        (0, t[-1]),
        [10.0, 0.0],
        method=method,
        rtol=1e-6,
        atol=1e-8,
        t_eval=t,
        events=hit,
    )
    return np.vstack([r.y.T, np.array(r.y_events[0])])


BALL_T = np.linspace(0.0, 2.0, 101)


def _pk_rhs(t: float, y: np.ndarray) -> list[float]:
    vc, vp1, cl, qp1 = 1000.0, 1000.0, 100.0, 50.0
    flux = qp1 * (y[0] / vc - y[1] / vp1)
    return [-y[0] / vc * cl - flux, flux]


PK_T = np.linspace(0.0, 24.0, 97)


def _pk_scipy(method: str, rtol: float = 1e-6, atol: float = 1e-8) -> np.ndarray:
    """Dosing by hand: integrate between the dose times 6, 12, 18 and add the doses.

    An output time exactly at a dose gets the amount before the dose (pydiffsol's and our
    convention)."""
    y = np.array([1000.0, 0.0])
    out = []
    edges = [0.0, 6.0, 12.0, 18.0, 24.0]
    doses = [1000.0, 2000.0, 1000.0]
    for j in range(4):
        lo, hi = edges[j], edges[j + 1]
        times = PK_T
        inside = times[((times > lo) | (j == 0)) & (times <= hi)]
        r = solve_ivp(_pk_rhs, (lo, hi), y, method=method, rtol=rtol, atol=atol, t_eval=inside)
        out.append(r.y.T)
        y = r.y[:, -1].copy()  # hi is an output time of every segment
        if j < 3:
            y[0] += doses[j]
    return np.vstack(out)


def cases() -> dict[str, Case]:
    lv_p = np.array([1.1, 0.4, 0.1, 0.4])
    lv_t = np.linspace(0.0, 100.0, 500)
    rob_t = np.array([0.0, 0.4, 4.0, 40.0, 400.0, 4000.0, 4e4, 1e5])
    heat_t = np.linspace(0.0, 10.0, 101)
    return {
        "lv": Case(
            "lv",
            "Lotka-Volterra tutorial (500 outputs on [0, 100])",
            LV_CODE,
            lv_p,
            lv_t,
            1e-6,
            1e-8,
            lambda: (
                solve_ivp(
                    _lv_rhs(lv_p),
                    (0, 100),
                    [10, 5],
                    method="DOP853",
                    rtol=1e-13,
                    atol=1e-14,
                    t_eval=lv_t,
                ).y.T
            ),
            scipy_rhs=_lv_rhs(lv_p),
            y0=np.array([10.0, 5.0]),
            scipy_methods=("RK45", "LSODA"),
            ours=("dopri5", "tsit5", "auto"),
            pydiffsol=("tsit45", "bdf"),
        ),
        "rob": Case(
            "rob",
            "Robertson ODE on [0, 1e5]",
            _corpus("robertson_ode"),
            np.array([0.04, 1e4, 3e7]),
            rob_t,
            1e-6,
            1e-10,
            lambda: (
                solve_ivp(
                    _rob_rhs,
                    (0, 1e5),
                    [1, 0, 0],
                    method="Radau",
                    rtol=1e-12,
                    atol=1e-20,
                    t_eval=rob_t,
                    jac=_rob_jac,
                ).y.T
            ),
            scipy_rhs=_rob_rhs,
            y0=np.array([1.0, 0.0, 0.0]),
            scipy_methods=("BDF", "Radau", "LSODA"),
            ours=("auto", "rodas5p"),
            pydiffsol=("bdf",),
            extra={"jac": _rob_jac},
        ),
        "rob_dae": Case(
            "rob_dae",
            "Robertson DAE (mass matrix) on [0, 1e5]",
            _corpus("robertson_dae"),
            np.array([0.04, 1e4, 3e7]),
            rob_t,
            1e-6,
            1e-10,
            lambda: (
                solve_ivp(
                    _rob_rhs,
                    (0, 1e5),
                    [1, 0, 0],
                    method="Radau",
                    rtol=1e-12,
                    atol=1e-20,
                    t_eval=rob_t,
                    jac=_rob_jac,
                ).y.T
            ),
            ours=("auto",),
            pydiffsol=("bdf",),
        ),
        "heat": Case(
            "heat",
            "Heat equation, 21 states, 101 outputs on [0, 10]",
            _corpus("heat_1d_pde"),
            np.zeros(0),
            heat_t,
            1e-6,
            1e-8,
            lambda: (
                solve_ivp(
                    _heat_rhs,
                    (0, 10),
                    HEAT_U0,
                    method="Radau",
                    rtol=1e-12,
                    atol=1e-14,
                    t_eval=heat_t,
                    jac=_HEAT_A,
                ).y.T
            ),
            scipy_rhs=_heat_rhs,
            y0=HEAT_U0,
            scipy_methods=("RK45", "LSODA", "BDF", "Radau"),
            ours=("dopri5", "auto", "rodas5p"),
            pydiffsol=("tsit45", "bdf"),
            extra={"jac": lambda t, y: _HEAT_A},
        ),
        "ball": Case(
            "ball",
            "Bouncing ball with stop (101 outputs on [0, 2], root at 1.428)",
            _corpus("bouncing_ball_stop"),
            np.zeros(0),
            BALL_T,
            1e-6,
            1e-8,
            lambda: _ball_exact(BALL_T),
            ours=("dopri5", "tsit5", "auto"),
            pydiffsol=("tsit45", "bdf"),
            diffid_t=BALL_T[BALL_T < 1.42],
            scipy_custom=_ball_scipy,
            scipy_methods=("RK45", "LSODA"),
        ),
        "pk": Case(
            "pk",
            "Largest corpus model: PK dosing with stop/reset and N (97 outputs, [0, 24])",
            _corpus("pk_tdose_pydiffsol"),
            np.array([1000.0, 1000.0, 100.0, 50.0]),
            PK_T,
            1e-6,
            1e-8,
            lambda: _pk_scipy("DOP853", 1e-13, 1e-12),
            ours=("dopri5", "auto"),
            pydiffsol=("tsit45", "bdf"),
            scipy_custom=lambda m: _pk_scipy(m),
            scipy_methods=("RK45", "LSODA"),
        ),
    }


# --- timing --------------------------------------------------------------------------------------
def time_call(fn: Callable[[], Any], repeats: int, budget: float = 0.15) -> tuple[float, float]:
    """Median and interquartile range (seconds per call) over ``repeats`` timed loops."""
    (samples,) = time_samples([fn], repeats, budget)
    return _median_iqr(samples)


def time_samples(
    fns: list[Callable[[], Any]], repeats: int, budget: float = 0.15
) -> list[list[float]]:
    """Seconds per call of each of ``fns`` over ``repeats`` timed loops, the functions taking
    turns in every repeat (so that all see the same machine load)."""
    inner = []
    for fn in fns:
        fn()
        start = time.perf_counter()
        fn()
        one = max(time.perf_counter() - start, 1e-7)
        inner.append(max(1, min(5000, int(budget / one))))
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, n, out in zip(fns, inner, samples, strict=True):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            out.append((time.perf_counter() - start) / n)
    return samples


def _median_iqr(samples: list[float]) -> tuple[float, float]:
    q = np.percentile(samples, [25, 50, 75])
    return float(q[1]), float(q[2] - q[0])


@dataclass
class Row:
    case: str
    solver: str
    seconds: float
    spread: float
    error: float
    note: str = ""


def run_ours(case: Case, repeats: int) -> list[Row]:
    from diffid_plugins.solvers import solve

    try:
        from diffid_plugins import compile_model

        model = compile_model(case.code, tier="specialised")
        generic = compile_model(case.code, tier="generic")
    except ImportError:  # pragma: no cover - before the compiler existed
        raise SystemExit("diffid_plugins.compile_model is needed for the benchmark") from None
    ref = case.reference()
    rows = []
    p = case.p if case.p.size else None
    kern = model.kernels
    n_t = case.t_eval.shape[0]
    for method in case.ours:
        sol = solve(model, p, case.t_eval, method=method, rtol=case.rtol, atol=case.atol)
        sol_g = solve(generic, p, case.t_eval, method=method, rtol=case.rtol, atol=case.atol)
        err = float(np.abs(sol.y - ref[: sol.y.shape[0]]).max()) if sol.success else math.nan
        err_g = float(np.abs(sol_g.y - ref[: sol_g.y.shape[0]]).max()) if sol_g.success else err
        samples = time_samples(
            [
                lambda m=method, mod=mod: solve(
                    mod, p, case.t_eval, method=m, rtol=case.rtol, atol=case.atol
                )
                for mod in (model, generic)
            ],
            repeats,
        )
        med, iqr = _median_iqr(samples[0])
        steps = f"{sol.stats['n_accepted']}+{sol.stats['n_rejected']} steps"
        if sol.stats["n_switches"]:
            steps += f", switch at step {sol.stats['switch_step']}"
        note = f"compiled DiffSL, {sol.tier} tier; {steps}"
        rows.append(Row(case.key, f"ours {method} (solve)", med, iqr, err, note))
        same = (
            sol.status == sol_g.status
            and np.array_equal(sol.t, sol_g.t)
            and np.array_equal(sol.raw_stats, sol_g.raw_stats)
            and np.array_equal(sol.y, sol_g.y, equal_nan=True)
        )
        ratio = float(np.median([g / s for g, s in zip(samples[1], samples[0], strict=True)]))
        med, iqr = _median_iqr(samples[1])
        note = (
            f"{sol_g.tier} tier; {ratio:.2f}x ours {method} (solve); "
            f"{'bit-identical' if same else 'OUTPUT DIFFERS'}"
        )
        rows.append(Row(case.key, f"ours generic {method} (solve)", med, iqr, err_g, note))
        code = {"auto": 0, "dopri5": 1, "tsit5": 2, "rodas5p": 3}[method]
        args = (
            np.asarray(case.p, float),
            0.0,
            case.t_eval,
            code,
            case.rtol,
            np.full(kern.N_STATES, case.atol),
            100_000,
            np.empty((n_t, kern.N_OUTPUTS)),
            np.empty((n_t, kern.N_STATES)),
            np.empty(n_t),
            np.zeros(10, dtype=np.int64),
        )
        # the tiers' callables with the same signature (the generic one has its md bound)
        entries = [kern.entry("solve_kernel"), generic.kernels.entry("solve_kernel")]
        samples = time_samples([lambda a=args, f=f: f(*a) for f in entries], repeats)
        med, iqr = _median_iqr(samples[0])
        rows.append(Row(case.key, f"ours {method} (kernel)", med, iqr, err, "no Python layer"))
        ratio = float(np.median([g / s for g, s in zip(samples[1], samples[0], strict=True)]))
        med, iqr = _median_iqr(samples[1])
        note = f"no Python layer; {ratio:.2f}x ours {method} (kernel)"
        rows.append(Row(case.key, f"ours generic {method} (kernel)", med, iqr, err_g, note))
    return rows


def _scipy_call(case: Case, method: str, kwargs: dict[str, Any]) -> Callable[[], np.ndarray]:
    """A zero-argument solve with scipy returning the output rows."""
    if case.scipy_custom is not None:
        custom = case.scipy_custom
        return lambda: custom(method)

    def call() -> np.ndarray:
        sol = solve_ivp(
            case.scipy_rhs,
            (0.0, case.t_eval[-1]),
            case.y0,
            method=method,
            rtol=case.rtol,
            atol=case.atol,
            t_eval=case.t_eval,
            **kwargs,
        )
        return sol.y.T

    return call


def run_scipy(case: Case, repeats: int) -> list[Row]:
    ref = case.reference()
    rows = []
    for method in case.scipy_methods:
        kwargs: dict[str, Any] = {}
        if method in ("BDF", "Radau", "LSODA") and "jac" in case.extra:
            kwargs["jac"] = case.extra["jac"]

        call = _scipy_call(case, method, kwargs)
        try:
            y = call()
        except Exception as exc:  # report, do not crash the benchmark
            rows.append(Row(case.key, f"scipy {method}", math.nan, math.nan, math.nan, str(exc)))
            continue
        err = float(np.abs(y - ref[: y.shape[0]]).max()) if y.shape == ref.shape else math.nan
        med, iqr = time_call(call, max(3, repeats // 2), budget=0.3)
        rows.append(Row(case.key, f"scipy {method}", med, iqr, err, "Python RHS"))
    return rows


def run_pydiffsol(case: Case, repeats: int) -> list[Row]:
    try:
        import pydiffsol as ds
    except ImportError:
        return [Row(case.key, "pydiffsol", math.nan, math.nan, math.nan, "not installed")]
    ref = case.reference()
    rows = []
    for name in case.pydiffsol:
        ode = ds.Ode(case.code, matrix_type=ds.nalgebra_dense, ode_solver=getattr(ds, name))
        ode.rtol = case.rtol
        ode.atol = case.atol
        p = np.asarray(case.p, float)
        try:
            y = np.asarray(ode.solve_dense(p, case.t_eval).ys).T
        except Exception as exc:  # report, do not crash the benchmark
            rows.append(Row(case.key, f"pydiffsol {name}", math.nan, math.nan, math.nan, str(exc)))
            continue
        err = (
            float(np.abs(y - ref[: y.shape[0]]).max()) if y.shape[0] <= ref.shape[0] else math.nan
        )
        med, iqr = time_call(lambda o=ode, q=p: o.solve_dense(q, case.t_eval), repeats)
        rows.append(Row(case.key, f"pydiffsol {name}", med, iqr, err, "solve_dense"))
    return rows


DIFFID_SCRIPT = r"""
import json, sys, time
import numpy as np
import diffid

spec = json.load(open(sys.argv[1]))
out = {}
for key, c in spec.items():
    t = np.array(c["t"])
    ref = np.array(c["ref"])
    data = np.column_stack([t, ref])
    b = (diffid.DiffsolBuilder().with_diffsl(c["code"]).with_data(data)
         .with_tolerances(c["rtol"], c["atol"]).with_parallel(False))
    for i, v in enumerate(c["p"]):
        b = b.with_parameter(f"p{i}", v)
    try:
        prob = b.build()
        sse = prob.evaluate(c["p"])
    except Exception as exc:
        out[key] = {"error": f"{type(exc).__name__}: {exc}"[:120]}
        continue
    prob.evaluate(c["p"])
    t0 = time.perf_counter(); prob.evaluate(c["p"]); one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, min(5000, int(0.15 / one)))
    samples = []
    for _ in range(c["repeats"]):
        t0 = time.perf_counter()
        for _ in range(inner):
            prob.evaluate(c["p"])
        samples.append((time.perf_counter() - t0) / inner)
    q = np.percentile(samples, [25, 50, 75])
    out[key] = {"median": float(q[1]), "iqr": float(q[2] - q[0]), "sse": float(sse)}
print("DIFFID_JSON " + json.dumps(out))
"""


def run_diffid(selected: dict[str, Case], repeats: int) -> list[Row]:
    if not DIFFID_PYTHON.exists():
        return [
            Row(k, "diffid 0.3.0", math.nan, math.nan, math.nan, "tool missing") for k in selected
        ]
    spec = {}
    for key, case in selected.items():
        t = case.diffid_t if case.diffid_t is not None else case.t_eval
        ref = case.reference()[: t.shape[0]]
        spec[key] = {
            "code": case.code,
            "t": t.tolist(),
            "ref": ref.tolist(),
            "p": case.p.tolist(),
            "rtol": case.rtol,
            "atol": case.atol,
            "repeats": repeats,
        }
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        script = Path(tmp) / "bench_diffid.py"
        spec_path.write_text(json.dumps(spec))
        script.write_text(DIFFID_SCRIPT)
        proc = subprocess.run(
            [str(DIFFID_PYTHON), str(script), str(spec_path)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("DIFFID_JSON ")), None)
    if line is None:
        msg = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return [Row(k, "diffid 0.3.0", math.nan, math.nan, math.nan, msg[0][:80]) for k in spec]
    res = json.loads(line[len("DIFFID_JSON ") :])
    rows = []
    for key, r in res.items():
        if "error" in r:
            rows.append(Row(key, "diffid 0.3.0 (bdf)", math.nan, math.nan, math.nan, r["error"]))
            continue
        note = "evaluate (BDF); error = sqrt(SSE)"
        if selected[key].diffid_t is not None:
            note += f"; {len(spec[key]['t'])} points before the stop (no rows after a root)"
        rows.append(
            Row(key, "diffid 0.3.0 (bdf)", r["median"], r["iqr"], math.sqrt(r["sse"]), note)
        )
    return rows


# --- report -------------------------------------------------------------------------------------
def report(rows: list[Row], selected: dict[str, Case]) -> str:
    lines = []
    header = f"{'solver':30s} {'time/solve':>12s} {'IQR':>9s} {'max err':>9s} {'ratio':>7s}  note"
    for key, case in selected.items():
        mine = [r for r in rows if r.case == key]
        base = next((r.seconds for r in mine if r.solver == "ours auto (solve)"), math.nan)
        lines += ["", f"## {case.title}  (rtol {case.rtol:g}, atol {case.atol:g})", header]
        for r in sorted(mine, key=lambda r: (math.isnan(r.seconds), r.seconds)):
            ratio = r.seconds / base if base == base and r.seconds == r.seconds else math.nan
            lines.append(
                f"{r.solver:30s} {_fmt_time(r.seconds):>12s} {_fmt_time(r.spread):>9s} "
                f"{r.error:9.1e} {ratio:7.2f}  {r.note}"
            )
    return "\n".join(lines)


def _fmt_time(s: float) -> str:
    if s != s:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    return f"{s * 1e3:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cases", nargs="*", default=None, help="subset of: lv rob rob_dae heat ball pk"
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-diffid", action="store_true", help="skip diffid 0.3.0")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    all_cases = cases()
    selected = {k: all_cases[k] for k in (args.cases or all_cases)}
    repeats = 5 if args.quick else 11
    rows: list[Row] = []
    for case in selected.values():
        print(f"[{case.key}] ours, pydiffsol, scipy ...", file=sys.stderr, flush=True)
        mine = run_ours(case, repeats) + run_pydiffsol(case, repeats) + run_scipy(case, repeats)
        print(report(mine, {case.key: case}), file=sys.stderr, flush=True)  # progress
        rows += mine
    if not args.no_diffid:
        print("[diffid] running in its own interpreter ...", file=sys.stderr, flush=True)
        rows += run_diffid(selected, repeats)
    print(report(rows, selected))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

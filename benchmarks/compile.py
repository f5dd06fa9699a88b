"""Time from a fresh interpreter to the first solve of a new model, against pydiffsol.

Run from the repository root::

    python benchmarks/compile.py                   # all cases, ~5-15 minutes
    python benchmarks/compile.py --quick           # fewer repeats
    python benchmarks/compile.py --cases edit corpus --json out.json
    python benchmarks/compile.py --no-background   # DIFFID_PLUGINS_BACKGROUND=0 in the children
    python benchmarks/compile.py --cache-dir /tmp/c  # DIFFID_PLUGINS_CACHE_DIR for edit/corpus

Every measurement runs in a fresh interpreter (``sys.executable``, the same environment, the
current directory), so whatever ``diffid_plugins`` is importable from here is measured: run it
from the checkout whose code you want to time. The child prints its own timings as JSON; the
parent also measures the wall time of the whole child process.

Cases:

* ``edit``: a model nobody has compiled before, as after editing a model. The tutorial
  Lotka-Volterra text (``diffid_plugins.examples.tutorial_text``) with random digits
  appended to its first decimal constant outside the ``in`` block (``x = 10.0`` becomes
  ``x = 10.0000<12 digits>``), a new constant for every child, so that the generated code (and
  its hash) is new. Ours: ``compile_model(text)`` then ``solve(model, p, t_eval)`` (default
  method, 500 outputs on [0, 100], rtol 1e-6, atol 1e-8); pydiffsol 0.6.2: ``Ode(text,
  matrix_type=nalgebra_dense, ode_solver=tsit45)`` then ``solve_dense``. The child stops the
  clock at the end of the first solve, prints, and leaves with ``os._exit(0)`` so that no
  background work of either package is waited for. Columns: the process wall time (interpreter
  start to exit) and, inside the child, the time from its first line to the end of the first
  solve, with the stages startup (parent's launch to the child's first line), imports, compile,
  first solve. The acceptance target is ours <= 3x pydiffsol (process wall time, best of the
  repeats); it is reported, the script does not fail on it.
  Our package caches compiled code on disk, and code that does not depend on the model is
  compiled once per install: before the timed children, one warm-up child compiles and solves
  another model (a one-state decay) with ``DIFFID_PLUGINS_BACKGROUND=0`` and exits normally, so
  that the per-install caches exist. The cache is the user's normal one unless ``--cache-dir``.
* ``corpus``: the same for the corpus model (``../shared/diffsl_corpus``) with the most
  states (``heat_1d_pde``, 21 states); skipped when ``../shared`` is missing.
* ``cold``: ``python -m diffid_plugins`` (the main job: fits the bundled example and saves a
  plot; cwd a temporary directory, ``MPLBACKEND=Agg``) with empty caches: new temporary
  ``DIFFID_PLUGINS_CACHE_DIR`` and ``NUMBA_CACHE_DIR``. Wall time; 1 repeat by default.
* ``warm``: the same command again with the same cache directories (best of the repeats).

The stage times of the main job are read from what it prints. Times are best, median and
min-max over the repeats; ratios are measured in the same run (ours and pydiffsol children
alternate, so both see the same load on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "diffsl_corpus"
TARGET = 3.0  # acceptance: ours <= TARGET x pydiffsol, edit case, process wall time, best
TIMEOUT = 1800

#: The bundled example without its comment lines (``tutorial_text()``); used when the
#: package cannot be imported to read it.
LV_TEXT = """in_i { a = 1.1, b = 0.4, d = 0.1, g = 0.4 }
u_i {
    x = 10.0,
    y = 5.0,
}
F_i {
    a * x - b * x * y,
    d * x * y - g * y,
}
out_i { x, y }
"""
LV_P = [1.1, 0.4, 0.1, 0.4]
WARMUP_TEXT = "in_i { k = 0.5 }\nu_i { z = 2.0 }\nF_i { -k * z }\nout_i { z }\n"

# --- child processes -------------------------------------------------------------------------
_CHILD = r"""
import time
T0 = time.perf_counter()
W0 = time.time()
import json, os, sys
spec = json.loads(sys.argv[1])
out = {"w0": W0}
try:
    import numpy as np
    if spec["who"] == "ours":
        from diffid_plugins import compile_model, solve
    else:
        import pydiffsol as ds
    t1 = time.perf_counter()
    t_eval = np.asarray(spec["t_eval"], dtype=float)
    p = np.asarray(spec["p"], dtype=float)
    if spec["who"] == "ours":
        model = compile_model(spec["text"])
        t2 = time.perf_counter()
        sol = solve(model, p if p.size else None, t_eval, rtol=spec["rtol"], atol=spec["atol"])
        t3 = time.perf_counter()
        last, ok = np.asarray(sol.y)[-1], bool(sol.success)
    else:
        ode = ds.Ode(spec["text"], matrix_type=ds.nalgebra_dense, ode_solver=ds.tsit45)
        ode.rtol, ode.atol = spec["rtol"], spec["atol"]
        t2 = time.perf_counter()
        sol = ode.solve_dense(p, t_eval)
        t3 = time.perf_counter()
        last, ok = np.asarray(sol.ys)[:, -1], True
    out.update(
        imports=t1 - T0, compile=t2 - t1, solve=t3 - t2, first=t3 - T0,
        last=[float(v) for v in last], ok=ok,
    )
except BaseException as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"[:300]
print("COMPILE_JSON " + json.dumps(out), flush=True)
sys.stderr.flush()
if spec["fast_exit"]:
    os._exit(0)
"""

_PROBE = r"""
import hashlib, json, sys
from importlib import metadata
texts = json.loads(sys.stdin.read())
out = {"versions": {}}
for name in ("numpy", "numba", "pydiffsol"):
    try:
        out["versions"][name] = metadata.version(name)
    except Exception:
        out["versions"][name] = "not installed"
try:
    import diffid_plugins
    out["file"] = diffid_plugins.__file__
    out["versions"]["diffid_plugins"] = diffid_plugins.__version__
    from diffid_plugins import check_model
    out["hashes"] = [hashlib.sha256(check_model(t).encode()).hexdigest() for t in texts]
    from diffid_plugins.examples import tutorial_text
    out["tutorial"] = tutorial_text()
    from diffid_plugins._codecache import cache_dir
    out["cache_dir"] = str(cache_dir())
except BaseException as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"[:300]
print("PROBE_JSON " + json.dumps(out))
"""


def _json_line(stdout: str, tag: str) -> dict[str, Any] | None:
    line = next((ln for ln in stdout.splitlines() if ln.startswith(tag + " ")), None)
    return None if line is None else json.loads(line[len(tag) + 1 :])


def _last_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return (lines[-1] if lines else f"exit code {proc.returncode}")[:120]


def probe(texts: list[str]) -> dict[str, Any]:
    """Package location, versions, tutorial text and generated-code hashes of ``texts``."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return _json_line(proc.stdout, "PROBE_JSON") or {"error": _last_error(proc), "versions": {}}


def run_child(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """One fresh interpreter: its JSON plus ``wall`` (whole process) and ``startup``."""
    launch = time.time()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    wall = time.perf_counter() - start
    res = _json_line(proc.stdout, "COMPILE_JSON")
    if res is None:
        return {"error": _last_error(proc), "wall": wall}
    res["wall"] = wall
    res["startup"] = res.pop("w0") - launch
    return res


# --- model texts ---------------------------------------------------------------------------
_IN_BLOCK = re.compile(r"^\s*in(_\w+)?\s*\{[^}]*\}", re.MULTILINE)
_COMMENT = re.compile(r"//[^\n]*")
_DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\d.])")


def fresh_text(text: str, rng: random.Random) -> str:
    """``text`` with ``0000`` and 12 random digits appended to its first decimal constant.

    Constants in the ``in`` block (default inputs) and comments are skipped: the constant must
    end up in the generated code. The value changes by less than 1e-4 relative.
    """
    m = _first_constant(text)
    digits = "".join(rng.choice("0123456789") for _ in range(12))
    return text[: m.end()] + "0000" + digits + text[m.end() :]


def _first_constant(text: str) -> re.Match[str]:
    skip = [m.span() for m in _IN_BLOCK.finditer(text)]
    skip += [m.span() for m in _COMMENT.finditer(text)]
    for m in _DECIMAL.finditer(text):
        if not any(lo <= m.start() < hi for lo, hi in skip):
            return m
    raise ValueError("the model has no decimal constant outside its `in` block to change")


def _perturbed_constant(text: str) -> str:
    m = _first_constant(text)
    line = text[text.rfind("\n", 0, m.start()) + 1 : text.find("\n", m.end())].strip()
    return f"`{line}` ({m.group()} -> {m.group()}0000<12 random digits>)"


def largest_corpus_model() -> dict[str, Any] | None:
    """The corpus model with the most states (ties: the longest text), or None."""
    path = CORPUS / "models.json"
    if not path.exists():
        return None
    models = json.loads(path.read_text())
    ok = [m for m in models if (m.get("oracle") or {}).get("nstates")]
    best = max(ok, key=lambda m: (m["oracle"]["nstates"], len(m["text"])))
    longest = max(models, key=lambda m: len(m["text"]))
    t = [float(v) for v in (best.get("t_eval") or [10.0])]
    t_end = max(t) if max(t) > 0 else 10.0
    return {
        "id": best["id"],
        "text": best["text"],
        "p": [float(v) for v in best.get("params") or []],
        "t_eval": [t_end * k / 100 for k in range(101)],
        "nstates": best["oracle"]["nstates"],
        "longest": f"{longest['id']} ({len(longest['text'])} characters, "
        f"{(longest.get('oracle') or {}).get('nstates', '?')} states)",
    }


# --- results -------------------------------------------------------------------------------
@dataclass
class Row:
    """One contestant of one case: samples over the repeats (seconds)."""

    name: str
    wall: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    last: list[list[float]] = field(default_factory=list)

    def add(self, res: dict[str, Any], stage_names: tuple[str, ...]) -> None:
        if "error" in res:
            self.errors.append(res["error"])
            return
        self.wall.append(res["wall"])
        if "first" in res:
            self.first.append(res["first"])
        for name in stage_names:
            if name in res:
                self.stages.setdefault(name, []).append(res[name])
        if "last" in res:
            self.last.append(res["last"])

    def best(self) -> float:
        return min(self.wall) if self.wall else float("nan")

    def median(self) -> float:
        return statistics.median(self.wall) if self.wall else float("nan")


@dataclass
class CaseResult:
    key: str
    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)


def _fmt(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2f} s"


def _ratio(a: float, b: float) -> float:
    return a / b if b == b and a == a and b > 0 else float("nan")


def print_case(case: CaseResult) -> None:
    print(f"\n## {case.title}")
    n = max((len(r.wall) + len(r.errors) for r in case.rows), default=0)
    legend = f"(process wall time over {n} run(s): best, median, min-max"
    if any(r.first for r in case.rows):
        legend += "; 'to 1st solve': best, child's first line to the end of its first solve"
    if len(case.rows) > 1:
        legend += "; ratio: best / best of the last row"
    print(legend + ")")
    head = (
        f"{'':10} {'best':>9} {'median':>9} {'spread (min-max)':>20} {'to 1st solve':>12} "
        f"{'ratio':>6}  stages (medians)"
    )
    print(head)
    print("-" * 110)
    base = case.rows[-1].best() if len(case.rows) > 1 else float("nan")
    for r in case.rows:
        spread = f"{_fmt(min(r.wall))} - {_fmt(max(r.wall))}" if r.wall else "n/a"
        first = _fmt(min(r.first)) if r.first else "n/a"
        ratio = _ratio(r.best(), base)
        stages = ", ".join(f"{k} {_fmt(statistics.median(v))}" for k, v in r.stages.items())
        if r.errors:
            stages += f"  [{len(r.errors)} failed: {r.errors[0]}]"
        cells = f"{_fmt(r.best()):>9} {_fmt(r.median()):>9} {spread:>20} {first:>12}"
        ratio_s = f"{ratio:6.2f}" if ratio == ratio else f"{'':6}"
        print(f"{r.name:10} {cells} {ratio_s}  {stages}")
    print("-" * 110)
    for note in case.notes:
        print(note)


def _ratio_notes(case: CaseResult, target: float | None) -> None:
    ours, theirs = case.rows
    if not (ours.wall and theirs.wall):
        case.notes.append("ratio ours/pydiffsol: n/a (a contestant failed every run)")
        return
    r = {
        "wall_best": _ratio(ours.best(), theirs.best()),
        "wall_median": _ratio(ours.median(), theirs.median()),
        "first_solve_best": _ratio(min(ours.first), min(theirs.first)),
        "first_solve_median": _ratio(
            statistics.median(ours.first), statistics.median(theirs.first)
        ),
    }
    case.ratios = r
    case.notes.append(
        f"ratio ours/pydiffsol: process wall {r['wall_best']:.2f}x (best) / "
        f"{r['wall_median']:.2f}x (median); to first solve {r['first_solve_best']:.2f}x (best) "
        f"/ {r['first_solve_median']:.2f}x (median)"
    )
    if target is not None:
        verdict = "met" if r["wall_best"] <= target else "NOT met"
        case.notes.append(
            f"target: ours <= {target:g}x pydiffsol (process wall, best of "
            f"{len(ours.wall)}): {verdict} ({r['wall_best']:.2f}x)"
        )
    if ours.last and theirs.last:
        a, b = ours.last[0], theirs.last[0]
        if len(a) == len(b):
            diff = max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b, strict=True))
            case.notes.append(
                f"check: last output row, ours vs pydiffsol: max rel diff {diff:.1e}"
            )


# --- cases ---------------------------------------------------------------------------------
_EDIT_STAGES = ("startup", "imports", "compile", "solve")


def run_edit(
    key: str,
    title: str,
    model: dict[str, Any],
    repeats: int,
    env: dict[str, str],
    rng: random.Random,
    target: float | None,
) -> CaseResult:
    """Alternate ours / pydiffsol children on new texts; each child is a fresh interpreter."""
    ours, theirs = Row("ours"), Row("pydiffsol")
    texts = [fresh_text(model["text"], rng) for _ in range(2 * repeats)]
    info = probe([model["text"], *texts[0::2]])
    notes = [f"changed constant: {_perturbed_constant(model['text'])}"]
    hashes = info.get("hashes")
    if hashes and len(set(hashes)) != len(hashes):
        notes.append("WARNING: some texts generate the same code: a cache may have been hit")
    elif hashes:
        notes.append(f"{len(hashes) - 1} new texts, all with new generated code (checked)")
    common = {"t_eval": model["t_eval"], "p": model["p"], "rtol": 1e-6, "atol": 1e-8}
    for k in range(repeats):
        for row, who, text in ((ours, "ours", texts[2 * k]), (theirs, "pyd", texts[2 * k + 1])):
            spec = {**common, "who": who, "text": text, "fast_exit": True}
            res = run_child(spec, env)
            row.add(res, _EDIT_STAGES)
            print(
                f"  [{key} {k + 1}/{repeats}] {row.name}: wall {_fmt(res['wall'])}"
                + (f", first solve at {_fmt(res['first'])}" if "first" in res else "")
                + (f"  ({res['error']})" if "error" in res else ""),
                file=sys.stderr,
                flush=True,
            )
    case = CaseResult(key, title, [ours, theirs], notes)
    _ratio_notes(case, target)
    return case


def warm_up(env: dict[str, str], rng: random.Random) -> list[str]:
    """One ours child on another model (normal exit, no background) and one pydiffsol child."""
    spec = {
        "text": fresh_text(WARMUP_TEXT, rng),
        "p": [0.5],
        "t_eval": [0.1 * k for k in range(11)],
        "rtol": 1e-6,
        "atol": 1e-8,
        "fast_exit": False,  # let anything it started finish: the per-install caches are filled
    }
    notes = []
    for who in ("ours", "pyd"):
        res = run_child({**spec, "who": who}, {**env, "DIFFID_PLUGINS_BACKGROUND": "0"})
        name = "ours" if who == "ours" else "pydiffsol"
        msg = res.get("error") or f"first solve at {_fmt(res['first'])}"
        notes.append(f"warm-up ({name}, another model): wall {_fmt(res['wall'])}, {msg}")
        print(f"  [warm-up] {notes[-1]}", file=sys.stderr, flush=True)
    return notes


_JOB_STAGES = {
    "compile": re.compile(r"compiled the bundled example in ([\d.]+) s"),
    "kernels": re.compile(r"ready in ([\d.]+) s"),
    "fit": re.compile(r"evaluations in ([\d.]+) s"),
}


def run_job(env: dict[str, str], cwd: str) -> dict[str, Any]:
    """``python -m diffid_plugins`` once; wall time and the stage times it prints."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "diffid_plugins"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=TIMEOUT,
    )
    res: dict[str, Any] = {"wall": time.perf_counter() - start}
    if proc.returncode != 0:
        res["error"] = _last_error(proc)
    for name, pattern in _JOB_STAGES.items():
        m = pattern.search(proc.stdout)
        if m:
            res[name] = float(m.group(1))
    return res


def run_main_job(
    cold_repeats: int, warm_repeats: int, do_cold: bool, do_warm: bool, env: dict[str, str]
) -> list[CaseResult]:
    """Cold runs with new empty cache directories; warm runs reuse the last cold run's."""
    stages = tuple(_JOB_STAGES)
    cold, warm = Row("ours"), Row("ours")
    with tempfile.TemporaryDirectory(prefix="diffid-bench-") as tmp:
        for k in range(max(cold_repeats if do_cold else 1, 1)):
            work = Path(tmp) / f"run{k}"
            dirs = {n: work / n for n in ("cache", "numba", "cwd")}
            for d in dirs.values():
                d.mkdir(parents=True)
            job_env = {
                **env,
                "DIFFID_PLUGINS_CACHE_DIR": str(dirs["cache"]),
                "NUMBA_CACHE_DIR": str(dirs["numba"]),
                "MPLBACKEND": "Agg",
            }
            res = run_job(job_env, str(dirs["cwd"]))
            cold.add(res, stages)
            label = "cold" if do_cold else "cold, untimed: fills the caches"
            print(f"  [{label} {k + 1}] wall {_fmt(res['wall'])}", file=sys.stderr, flush=True)
        plot = dirs["cwd"] / "lotka_volterra.png"
        plot_note = f"plot written: {plot.exists()}"
        for k in range(warm_repeats if do_warm else 0):
            res = run_job(job_env, str(dirs["cwd"]))
            warm.add(res, stages)
            print(f"  [warm {k + 1}] wall {_fmt(res['wall'])}", file=sys.stderr, flush=True)
    out = []
    if do_cold:
        title = "cold: python -m diffid_plugins with empty caches (process wall time)"
        out.append(CaseResult("cold", title, [cold], [plot_note]))
    if do_warm:
        title = "warm: python -m diffid_plugins again, same cache directories (process wall time)"
        out.append(CaseResult("warm", title, [warm]))
    return out


# --- main ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cases",
        nargs="*",
        default=None,
        choices=["edit", "corpus", "cold", "warm"],
        help="subset of: edit corpus cold warm (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--repeats", type=int, default=None, help="children per contestant (edit, corpus, warm)"
    )
    parser.add_argument("--cold-repeats", type=int, default=1, help="cold main-job runs")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="DIFFID_PLUGINS_CACHE_DIR for edit/corpus"
    )
    parser.add_argument(
        "--no-background",
        action="store_true",
        help="set DIFFID_PLUGINS_BACKGROUND=0 in every child (no background compilation)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    selected = args.cases or ["edit", "corpus", "cold", "warm"]
    repeats = args.repeats or (2 if args.quick else 3)

    env = dict(os.environ)
    if args.no_background:
        env["DIFFID_PLUGINS_BACKGROUND"] = "0"
    edit_env = dict(env)
    if args.cache_dir is not None:
        edit_env["DIFFID_PLUGINS_CACHE_DIR"] = str(args.cache_dir.expanduser().absolute())

    info = probe([])
    if "error" in info:
        print(f"WARNING: importing diffid_plugins failed: {info['error']}", file=sys.stderr)
    pkg = info.get("file")
    if pkg:  # the main job runs in a temporary cwd: import the same code as the other children
        root = str(Path(pkg).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    load0 = os.getloadavg()[0]
    header = [
        f"python {sys.version.split()[0]} ({sys.executable}); {versions}",
        f"diffid_plugins from {pkg}",
        f"cache (edit/corpus): {edit_env.get('DIFFID_PLUGINS_CACHE_DIR') or info.get('cache_dir')}"
        f"; DIFFID_PLUGINS_BACKGROUND={env.get('DIFFID_PLUGINS_BACKGROUND', '(unset)')}",
        f"{os.cpu_count()} cores; load average (1 min) at start {load0:.2f}",
    ]
    print("\n".join(header), file=sys.stderr, flush=True)

    rng = random.Random(int.from_bytes(os.urandom(8), "little"))
    results: list[CaseResult] = []
    warm_notes: list[str] = []
    corpus_model = None
    if "corpus" in selected:
        corpus_model = largest_corpus_model() if SHARED.exists() else None
        if corpus_model is None:
            print(f"\n[corpus] skipped: {CORPUS} is missing", flush=True)
    if "edit" in selected or corpus_model is not None:
        print("[warm-up] per-install caches ...", file=sys.stderr, flush=True)
        warm_notes = warm_up(edit_env, rng)
    if "edit" in selected:
        print("[edit] tutorial Lotka-Volterra, new constant per child ...", file=sys.stderr)
        lv = {"text": info.get("tutorial") or LV_TEXT, "p": LV_P}
        lv["t_eval"] = [100.0 * k / 499 for k in range(500)]
        title = (
            "edit: new tutorial Lotka-Volterra model, fresh interpreter to first solve "
            f"(2 states, 500 outputs on [0, 100]; target ours <= {TARGET:g}x pydiffsol)"
        )
        case = run_edit("edit", title, lv, repeats, edit_env, rng, TARGET)
        case.notes, warm_notes = case.notes + warm_notes, []
        results.append(case)
        print_case(case)
    if corpus_model is not None:
        model = corpus_model
        print(f"[corpus] {model['id']}, new constant per child ...", file=sys.stderr)
        title = (
            f"corpus: new {model['id']} (the corpus model with the most states: "
            f"{model['nstates']}; 101 outputs on [0, {model['t_eval'][-1]:g}])"
        )
        case = run_edit("corpus", title, model, repeats, edit_env, rng, None)
        case.notes.append(f"largest corpus model by text: {model['longest']}")
        case.notes += warm_notes
        results.append(case)
        print_case(case)
    if "cold" in selected or "warm" in selected:
        print("[main job] python -m diffid_plugins ...", file=sys.stderr, flush=True)
        for case in run_main_job(
            args.cold_repeats, repeats, "cold" in selected, "warm" in selected, env
        ):
            results.append(case)
            print_case(case)
    load1 = os.getloadavg()[0]
    print(f"\nload average (1 min) at start / end: {load0:.2f} / {load1:.2f}")
    print("\n".join(header[:3]))
    if args.json:
        dump = {
            "meta": {"header": header, "load": [load0, load1], "repeats": repeats},
            "cases": {
                c.key: {
                    "title": c.title,
                    "rows": [r.__dict__ for r in c.rows],
                    "ratios": c.ratios,
                    "notes": c.notes,
                }
                for c in results
            },
        }
        args.json.write_text(json.dumps(dump, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

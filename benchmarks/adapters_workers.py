"""Several ``optimize`` workers on one Optuna study: trials per second, 1 worker vs 2.

Run from the repository root::

    python benchmarks/adapters_workers.py                 # PostgreSQL and journal file
    python benchmarks/adapters_workers.py --quick         # fewer trials and repeats

Each worker is a fresh process that compiles the seed tutorial problem (Lotka-Volterra,
``TUTORIAL_BOX``), opens the shared study, waits for a start signal (a file the parent creates
once every worker is ready, so compile time is not measured), then runs
``optimize(study, problem, n_trials=N, n_threads=1)`` with its own ``CmaEsSampler(seed)``
island, and prints its start and end times. Throughput = all recorded trials / (last end -
first start). The PostgreSQL server is real (``pgserver`` wheel, Unix socket, started here);
the journal is ``JournalStorage(JournalFileBackend)`` on a local file. Medians and min-max over
the repeats; the machine has 2 cores, shared with the database server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from diffid_plugins import Problem, compile_model
    from diffid_plugins.examples import TUTORIAL_BOX, tutorial_data, tutorial_text
    from diffid_plugins.optuna import CmaEsSampler, optimize

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind, where, go = sys.argv[1], sys.argv[2], sys.argv[5]
    seed, n = int(sys.argv[3]), int(sys.argv[4])
    storage = JournalStorage(JournalFileBackend(where)) if kind == "journal" else where
    problem = Problem(compile_model(tutorial_text()), tutorial_data(), bounds=TUTORIAL_BOX)
    problem.evaluate_batch(problem.x0[None, :])  # compile/load the batch kernel before the clock
    study = optuna.load_study(study_name="bench", storage=storage, sampler=CmaEsSampler(seed=seed))
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    t0 = time.time()
    optimize(study, problem, n_trials=n, n_threads=1)
    print(json.dumps({"start": t0, "end": time.time(), "n": n}), flush=True)
    """
)


def _run_once(kind: str, where: str, n_workers: int, n_trials: int, tmp: Path) -> float:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage: Any = JournalStorage(JournalFileBackend(where)) if kind == "journal" else where
    if kind == "postgres" and any(
        s.study_name == "bench" for s in optuna.get_all_study_summaries(storage)
    ):
        optuna.delete_study(study_name="bench", storage=storage)
    optuna.create_study(study_name="bench", storage=storage)
    go = tmp / f"go-{time.monotonic_ns()}"
    env = dict(os.environ, PYTHONPATH=str(REPO), DIFFID_PLUGINS_BACKGROUND="0")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, kind, where, str(seed), str(n_trials), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in range(n_workers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"worker failed: {line}{proc.communicate()[1]}")
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed:\n{err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    return sum(r["n"] for r in results) / span


def run(n_trials: int = 400, repeats: int = 3, kinds: tuple[str, ...] = ("postgres", "journal")):
    """Rows ``{"storage", "workers", "trials_per_s" (median), "min", "max"}``."""
    sys.path.insert(0, str(REPO))
    from tests._fixtures.postgres import ServerUnavailable, start_server, stop_server

    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = None
        for kind in kinds:
            if kind == "postgres":
                try:
                    server = start_server()
                except ServerUnavailable as exc:
                    print(f"postgres skipped: {exc}")
                    continue
            try:
                for n_workers in (1, 2):
                    rates = []
                    for r in range(repeats):
                        where = server.url if server else str(tmp / f"j{n_workers}-{r}.log")
                        rates.append(_run_once(kind, where, n_workers, n_trials, tmp))
                    rows.append(
                        {
                            "storage": kind,
                            "workers": n_workers,
                            "trials_per_worker": n_trials,
                            "trials_per_s": statistics.median(rates),
                            "min": min(rates),
                            "max": max(rates),
                        }
                    )
            finally:
                if server is not None:
                    stop_server(server)
                    server = None
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| storage | workers | trials/worker | trials/s (median) | min-max | vs 1 worker |",
        "|---|---|---|---|---|---|",
    ]
    base = {r["storage"]: r["trials_per_s"] for r in rows if r["workers"] == 1}
    for r in rows:
        lines.append(
            f"| {r['storage']} | {r['workers']} | {r['trials_per_worker']} | "
            f"{r['trials_per_s']:.0f} | {r['min']:.0f}-{r['max']:.0f} | "
            f"{r['trials_per_s'] / base[r['storage']]:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    n = args.trials or (200 if args.quick else 400)
    repeats = args.repeats or (1 if args.quick else 3)
    print(table(run(n_trials=n, repeats=repeats)))


if __name__ == "__main__":
    main()

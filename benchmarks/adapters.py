"""The adapters side by side, in one run: Optuna, pymoo and multi-worker studies.

Run from the repository root::

    python benchmarks/adapters.py            # the acceptance run of issue 8 (~5-10 minutes)
    python benchmarks/adapters.py --quick    # fewer seeds, trials and repeats

All on the seed tutorial box problem (diffid's Lotka-Volterra fit, 4 parameters,
``TUTORIAL_BOX``; a hit is SSE <= 330 when the best point is evaluated again with rtol = atol
= 1e-10). The sections are the three modules next to this file, each runnable on its own:

* ``adapters_optuna.py``: our batch driver ``optimize`` with our ``CmaEsSampler`` vs Optuna's
  ``CmaEsSampler`` driven trial by trial (``study.optimize``), 10 seeds, 3000 trials: hits,
  median study time, per-trial cost and their ratio; the per-trial overhead of
  ``study.optimize`` with a trivial objective; the cost of recording a trial;
* ``adapters_pymoo.py``: pymoo DE and CMAES through ``PymooProblem`` (one batch per
  generation) vs the same algorithms on an elementwise problem: time per generation;
* ``adapters_workers.py``: ``optimize`` workers on one study on a real PostgreSQL server and on
  a journal file: trials per second with 1 and 2 workers.

The machine has 2 cores and may be shared: each section prints the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds, trials, repeats")
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["optuna", "pymoo", "workers"],
        choices=["optuna", "pymoo", "workers"],
    )
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"{os.cpu_count()} cores; load average (1 min) {os.getloadavg()[0]:.2f}")
    if "optuna" in args.sections:
        import adapters_optuna

        print("\n## Optuna: our batch driver vs Optuna's CmaEsSampler trial by trial\n")
        print("study.optimize overhead, trivial objective (ms per trial):")
        for name, ms in adapters_optuna.overhead().items():
            print(f"  {name}: {ms:.3f}")
        print("\nrecording an evaluated point (ms per trial, in-memory storage):")
        for name, ms in adapters_optuna.record_costs().items():
            print(f"  {name}: {ms:.3f}")
        print()
        print(adapters_optuna._table(adapters_optuna.run(quick=args.quick)))
        print(f"\nload average (1 min) {os.getloadavg()[0]:.2f}")
    if "pymoo" in args.sections:
        import adapters_pymoo

        print("\n## pymoo: PymooProblem (vectorised) vs an elementwise problem\n")
        n_seeds = 3 if args.quick else 10
        rows = adapters_pymoo.run(seeds=range(1, n_seeds + 1), quick=args.quick)
        print(adapters_pymoo._table(rows))
        print(f"\nload average (1 min) {os.getloadavg()[0]:.2f}")
    if "workers" in args.sections:
        import adapters_workers

        print("\n## Several optimize workers on one study\n")
        n, repeats = (200, 1) if args.quick else (400, 3)
        print(adapters_workers.table(adapters_workers.run(n_trials=n, repeats=repeats)))
        print(f"\nload average (1 min) {os.getloadavg()[0]:.2f}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

"""The seed tutorial (Lotka-Volterra, 4 parameters) fitted through Optuna.

1. The batch driver: ``optimize(study, problem)`` evaluates each CMA-ES generation with one
   ``problem.evaluate_batch`` call and records the points as ordinary Optuna trials.
2. The same sampler with any Python objective through Optuna's own ``study.optimize``.

Run: ``python examples/optuna_tutorial.py``.
"""

from __future__ import annotations

import optuna

from diffid_plugins import Problem, compile_model
from diffid_plugins.examples import TUTORIAL_BOX, TUTORIAL_TRUE, tutorial_data, tutorial_text
from diffid_plugins.optuna import CmaEsSampler, optimize

optuna.logging.set_verbosity(optuna.logging.WARNING)

# 1. the batch driver on the tutorial problem, all defaults: log-scaled search (the bounds are
#    positive) from the geometric centre of the box, IPOP restarts, each started at the best
#    of 256 uniform draws in the box (a "scout" generation; CmaEsSampler(scout=0) turns it off)
problem = Problem(compile_model(tutorial_text()), tutorial_data(), bounds=TUTORIAL_BOX)
sampler = CmaEsSampler(seed=0)
study = optuna.create_study(sampler=sampler)
optimize(study, problem, n_trials=3000)
print(f"{len(study.trials)} trials, best SSE {study.best_value:.2f}")
for name, true in zip(problem.parameter_names, TUTORIAL_TRUE, strict=True):
    print(f"  {name} = {study.best_params[name]:.4f}   (true {true})")
print(
    "restarts:",
    [
        (h["popsize"], h["reason"], h["start"])
        for h in next(iter(sampler.slots.values())).engine.history
    ],
)


# 2. any objective, trial by trial, with Optuna's own loop
def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 8)
    return (x - 1.0) ** 2 + (layers - 3) ** 2 + (lr - 1e-3) ** 2 * 1e4


other = optuna.create_study(sampler=CmaEsSampler(seed=0))
other.optimize(objective, n_trials=300)
print("study.optimize:", other.best_params, f"value {other.best_value:.2e}")

"""Dynamic nested sampling over a batch log-likelihood ``logl(V: (n, d)) -> (n,)``.

:class:`DynamicNestedSampler` returns the evidence with an error bar and the posterior;
:class:`Results` is the dynesty-3.x-compatible record of a run (``dynesty.plotting`` draws
it). This package depends on numpy only (tqdm and dynesty are imported lazily, when asked
for) and never imports the ODE stack, Optuna or pymoo: ``from_problem`` takes a problem by
its protocol (``ProblemLike``).
"""

from __future__ import annotations

from ._from_problem import SolverToleranceWarning as SolverToleranceWarning
from ._results import Results as Results
from ._sampler import DynamicNestedSampler as DynamicNestedSampler

__all__ = ["DynamicNestedSampler", "Results", "SolverToleranceWarning"]

"""Nested sampling over a batch log-likelihood ``f(X: (n, d)) -> (n,)``.

:class:`Results` is the dynesty-3.x-compatible record of a run (``dynesty.plotting`` draws
it). This package depends on numpy only (tqdm and dynesty are imported lazily, when asked
for) and never imports the ODE stack, Optuna or pymoo.
"""

from __future__ import annotations

from ._results import Results as Results

__all__ = ["Results"]

"""The progress bar of :class:`~diffid_plugins.parallel.ParallelExecutor` (optional tqdm).

As in DSPy the bar writes to ``sys.stdout`` with ``dynamic_ncols=True`` and describes itself
as ``"Processed {n} / {N} examples"``; with ``compare_results=True`` the last element of each
result is read as a score and the description is
``"Average Metric: {sum:.2f} / {n} ({pct}%)"``. tqdm is imported only when a bar is wanted;
without it a warning explains how to install it (``pip install diffid_plugins[progress]``) or
how to silence the warning, and no bar is shown.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

__all__ = ["Progress", "describe"]


def describe(n_done: int, total: int, score: float, n_scored: int, compare_results: bool) -> str:
    """The bar's description, in DSPy's wording.

    Examples
    --------
    >>> describe(3, 10, 0.0, 0, compare_results=False)
    'Processed 3 / 10 examples'
    >>> describe(3, 10, 2.0, 3, compare_results=True)
    'Average Metric: 2.00 / 3 (66.7%)'
    """
    if compare_results:
        pct = round(100 * score / n_scored, 1) if n_scored else 0
        return f"Average Metric: {score:.2f} / {n_scored} ({pct}%)"
    return f"Processed {n_done} / {total} examples"


def _make_bar(total: int, stacklevel: int) -> Any:
    """Return a tqdm bar, or ``None`` (with a warning) when tqdm is not installed."""
    try:
        import tqdm
    except ImportError:
        warnings.warn(
            "tqdm is not installed, so ParallelExecutor shows no progress bar. Install it with "
            "`pip install diffid_plugins[progress]`, or pass `disable_progress_bar=True` to "
            "silence this warning.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
        return None
    return tqdm.tqdm(total=total, dynamic_ncols=True, file=sys.stdout)


class Progress:
    """Counts finished items and drives the bar, if any.

    Parameters
    ----------
    total : int
        Number of items.
    disabled : bool
        No bar at all (and no tqdm import).
    compare_results : bool
        Show DSPy's running "Average Metric" from each result's last element.
    stacklevel : int
        Stack level, seen from here, of the user's call (for the missing-tqdm warning).

    Examples
    --------
    >>> progress = Progress(2, disabled=True, compare_results=False)
    >>> progress.update(1.0, ok=True)
    >>> progress.description
    'Processed 1 / 2 examples'
    >>> progress.close()
    """

    def __init__(
        self, total: int, *, disabled: bool, compare_results: bool, stacklevel: int = 1
    ) -> None:
        self.total = total
        self.compare_results = compare_results
        self.n_done = 0
        self.score = 0.0
        self.n_scored = 0
        self._bar = None if disabled else _make_bar(total, stacklevel + 1)

    @property
    def description(self) -> str:
        """The current description (also when no bar is shown)."""
        return describe(self.n_done, self.total, self.score, self.n_scored, self.compare_results)

    def update(self, value: Any, *, ok: bool) -> None:
        """Count one finished item; ``value`` is its result when ``ok``."""
        self.n_done += 1
        if ok and self.compare_results and value is not None:
            try:
                score = float(value[-1])
            except (TypeError, ValueError, IndexError, KeyError):
                pass  # a result without a numeric last element is not scored
            else:
                self.score += score
                self.n_scored += 1
        if self._bar is not None:
            self._bar.set_description(self.description, refresh=False)
            self._bar.update()

    def close(self) -> None:
        """Close the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

"""A one-line, rate-limited progress display for a nested-sampling run.

:class:`Progress` shows the iterations, likelihood calls, efficiency, ``logZ +/- err``, the
stop value and an ETA on one line, redrawn at most :data:`MAX_RATE` times a second. With tqdm
installed (an optional dependency, imported on the first draw) the line is a tqdm bar whose
fill is the progress towards the stop; without it, a plain line rewritten in place (``\\r``).
A disabled display prints nothing and imports nothing.

The stop value follows dynesty's rule: it decreases as the run proceeds and the run stops
when it reaches 1. The progress is ``p = min(1, 1 / stop)``; the ETA extrapolates ``p``
linearly in time from the first update of the current phase that had a stop value
(``(1 - p) * elapsed / (p - p0)``): a rough guide, not a promise.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from ..errors import ArgumentTypeError

__all__ = ["MAX_RATE", "Progress"]

MAX_RATE = 5.0
"""Most redraws per second."""

_BAR_STEPS = 1000  # resolution of the tqdm bar's fill


def _clock_text(seconds: float) -> str:
    """``h:mm:ss`` of a non-negative number of seconds."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Progress:
    """One-line progress of a run: iterations, calls, efficiency, logZ, stop value, ETA.

    Parameters
    ----------
    enabled : bool
        False: every method is a no-op (nothing printed, tqdm not imported).
    file : text stream, optional
        Where to draw (default ``sys.stderr``).
    clock : callable, optional
        Monotonic time in seconds (default ``time.monotonic``), for the rate limit and the
        ETA; tests pass a fake clock.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Progress(True, file=out) as bar:
    ...     bar.update(niter=100, ncall=400, logz=-3.2, logzerr=0.1, stop=4.0, phase="static")
    >>> "iter 100" in out.getvalue()
    True
    """

    def __init__(
        self,
        enabled: bool,
        file: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(enabled, bool):
            raise ArgumentTypeError(
                f"Progress(enabled={enabled!r}): expected True or False "
                f"(got a {type(enabled).__name__})"
            )
        if file is not None and not callable(getattr(file, "write", None)):
            raise ArgumentTypeError(
                f"Progress(file={file!r}): expected a text stream with a write() method, "
                "or None for sys.stderr"
            )
        self._enabled = enabled
        self._file = file
        self._clock = clock
        self._bar: Any = None  # the tqdm bar, made on the first draw
        self._plain_width = 0  # length of the last plain line (to blank it out)
        self._drawn = False
        self._closed = False
        self._last_draw: float | None = None
        self._pending: tuple[str, float] | None = None  # (line, progress) not yet drawn
        self._start = clock() if enabled else 0.0
        self._phase: str | None = None
        self._anchor: tuple[float, float] | None = None  # (time, progress) of the phase

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- public -----------------------------------------------------------------------

    def update(
        self,
        *,
        niter: int,
        ncall: int,
        logz: float,
        logzerr: float,
        stop: float | None = None,
        phase: str = "",
    ) -> None:
        """Record the run's state; redraw if the last draw is at least ``1 / MAX_RATE`` s old.

        Parameters
        ----------
        niter, ncall : int
            Iterations (samples) so far and likelihood calls so far.
        logz, logzerr : float
            Current log-evidence and its error (non-finite values are shown as such).
        stop : float, optional
            The stop value (the run ends when it reaches 1); None while not defined.
        phase : str
            A short label of the run's phase (for example ``"baseline"``, ``"batch 3"``);
            a new phase restarts the ETA estimate.
        """
        if not self._enabled or self._closed:
            return
        now = self._clock()
        progress = self._progress(stop)
        line = self._line(now, niter, ncall, logz, logzerr, stop, phase, progress)
        self._pending = (line, 0.0 if progress is None else progress)
        if self._last_draw is None or now - self._last_draw >= 1.0 / MAX_RATE:
            self._draw()
            self._last_draw = now

    def close(self) -> None:
        """Draw the last recorded state if it was not drawn, and end the line."""
        if not self._enabled or self._closed:
            return
        self._closed = True
        if self._pending is not None:
            self._draw()
        if self._bar is not None:
            self._bar.close()
        elif self._drawn:
            self._stream().write("\n")
            self._stream().flush()

    # --- internals ----------------------------------------------------------------------

    def _stream(self) -> TextIO:
        return self._file if self._file is not None else sys.stderr

    @staticmethod
    def _progress(stop: float | None) -> float | None:
        if stop is None or not math.isfinite(stop) or stop <= 0:
            return None
        return min(1.0, 1.0 / stop)

    def _eta(self, now: float, phase: str, progress: float | None) -> str:
        if phase != self._phase:
            self._phase, self._anchor = phase, None
        if progress is None:
            return "?"
        if progress >= 1.0:
            return "done"
        if self._anchor is None:
            self._anchor = (now, progress)
            return "?"
        t0, p0 = self._anchor
        if progress <= p0 or now <= t0:
            return "?"
        return _clock_text((1.0 - progress) * (now - t0) / (progress - p0))

    def _line(
        self,
        now: float,
        niter: int,
        ncall: int,
        logz: float,
        logzerr: float,
        stop: float | None,
        phase: str,
        progress: float | None,
    ) -> str:
        eta = self._eta(now, phase, progress)
        eff = f"{100.0 * niter / ncall:.2f}%" if ncall > 0 else "?"
        lz = f"logz {logz:.3f}"
        if math.isfinite(logzerr):
            lz += f" +/- {logzerr:.3f}"
        parts = [f"iter {niter:d}", f"ncall {ncall:d}", f"eff {eff}", lz]
        parts.append("stop ?" if stop is None else f"stop {stop:.3f}")
        parts += [f"ETA {eta}", f"elapsed {_clock_text(max(0.0, now - self._start))}"]
        text = " | ".join(parts)
        return f"{phase}: {text}" if phase else text

    def _draw(self) -> None:
        if self._pending is None:
            return
        line, progress = self._pending
        self._pending = None
        self._drawn = True
        filled = int(progress * _BAR_STEPS)
        if self._bar is None:
            tqdm = _import_tqdm()
            if tqdm is not None:
                self._bar = tqdm.tqdm(
                    total=_BAR_STEPS,
                    initial=filled,
                    desc=line,
                    file=self._stream(),
                    bar_format="|{bar:10}| {desc}",
                    mininterval=0,
                    dynamic_ncols=True,
                    leave=True,
                )
                return
        if self._bar is not None:
            self._bar.set_description_str(line, refresh=False)
            self._bar.n = filled
            self._bar.refresh()
            return
        out = self._stream()
        out.write("\r" + line.ljust(self._plain_width))
        out.flush()
        self._plain_width = len(line)


def _import_tqdm() -> Any:
    """The ``tqdm`` module, or None when it is not installed (an optional dependency)."""
    try:
        import tqdm
    except ImportError:
        return None
    return tqdm

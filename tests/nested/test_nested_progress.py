"""The progress line of the nested sampler (``diffid_plugins.nested._progress.Progress``).

Output goes to a StringIO; time comes from a fake clock whose readings are multiples of
1/16 s (exact in binary), so the rate limit and the ETA are deterministic. Each check runs
with tqdm (installed) and without it (``sys.modules["tqdm"] = None`` makes its import fail,
as when it is not installed).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from diffid_plugins.errors import ArgumentTypeError
from diffid_plugins.nested._progress import MAX_RATE, Progress


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["tqdm", "plain"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "tqdm":
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)
    return str(request.param)


def _frames(text: str) -> list[str]:
    """The successive drawings of the line (split at carriage returns)."""
    return [f.rstrip() for f in text.replace("\n", "\r").split("\r") if f.strip()]


def test_line_contents(backend: str) -> None:
    out, clock = io.StringIO(), Clock()
    with Progress(True, file=out, clock=clock) as bar:
        bar.update(niter=1500, ncall=6000, logz=-12.3456, logzerr=0.0789, stop=3.5, phase="b2")
    assert out.getvalue().endswith("\n")
    (frame,) = set(_frames(out.getvalue()))
    assert "b2: iter 1500 | ncall 6000 | eff 25.00% | logz -12.346 +/- 0.079 | stop 3.500" in frame
    assert frame.endswith("| ETA ? | elapsed 0:00:00")
    if backend == "tqdm":  # the fill is the progress 1 / stop = 29 %
        assert frame.startswith("|##8       | b2: ")
    else:
        assert frame.startswith("b2: iter 1500")


def test_non_finite_values_and_no_stop(backend: str) -> None:
    out = io.StringIO()
    with Progress(True, file=out, clock=Clock()) as bar:
        bar.update(niter=0, ncall=0, logz=float("-inf"), logzerr=float("nan"))
    (frame,) = set(_frames(out.getvalue()))
    assert "iter 0 | ncall 0 | eff ? | logz -inf | stop ? | ETA ?" in frame
    assert "+/-" not in frame


def test_rate_limit_and_final_state(backend: str) -> None:
    """33 updates over 2 s (every 1/16 s): a draw happens when the last one is >= 0.2 s old
    (at 0, 4/16, 8/16, ..., 32/16 s: 9 draws), and close() draws the last state if pending."""
    # the expected draws below are worked out for 5 draws/s; this fails (and says so) if the
    # module's rate changes, rather than the list below failing for no visible reason
    assert 1.0 / MAX_RATE == 0.2, "the expected draw times assume MAX_RATE = 5 per second"
    out, clock = io.StringIO(), Clock()
    with Progress(True, file=out, clock=clock) as bar:
        for k in range(31):
            clock.now = k / 16
            bar.update(niter=k, ncall=2 * k + 1, logz=-1.0, logzerr=0.1, stop=None)
    drawn = sorted({int(m) for m in re.findall(r"iter (\d+) ", out.getvalue())})
    assert drawn == [0, 4, 8, 12, 16, 20, 24, 28, 30]  # 30: drawn by close()
    last = re.search(r"iter (\d+) ", _frames(out.getvalue())[-1])
    assert last is not None and last[1] == "30"


def test_eta_from_the_stop_value(backend: str) -> None:
    """Progress p = 1/stop: 0.25 at t = 1 s (the phase's anchor), 0.5 at t = 11 s, so the rate
    is 0.025 per s and the ETA (1 - 0.5) / 0.025 = 20 s. A new phase restarts the estimate;
    stop <= 1 shows "done"."""
    out, clock = io.StringIO(), Clock()
    with Progress(True, file=out, clock=clock) as bar:
        for t, stop, phase, eta in [
            (1.0, 4.0, "a", "?"),
            (11.0, 2.0, "a", "0:00:20"),
            (12.0, 1.6, "b", "?"),
            (22.0, 1.25, "b", "0:00:11"),  # p 0.625 -> 0.8 in 10 s: 0.2 / 0.0175 = 11.4 s
            (23.0, 0.9, "b", "done"),
        ]:
            clock.now = t
            bar.update(niter=int(t), ncall=100, logz=-1.0, logzerr=0.1, stop=stop, phase=phase)
            frame = _frames(out.getvalue())[-1]
            assert f"{phase}: iter {int(t)} " in frame
            assert f"| ETA {eta} |" in frame, frame
            assert frame.endswith(f"elapsed 0:00:{int(t):02d}")


def test_disabled_prints_nothing(backend: str) -> None:
    out = io.StringIO()
    with Progress(False, file=out) as bar:
        bar.update(niter=1, ncall=1, logz=0.0, logzerr=0.0, stop=2.0, phase="x")
    assert out.getvalue() == ""


def test_updates_after_close_are_ignored(backend: str) -> None:
    out = io.StringIO()
    bar = Progress(True, file=out, clock=Clock())
    bar.update(niter=1, ncall=1, logz=0.0, logzerr=0.0)
    bar.close()
    text = out.getvalue()
    bar.update(niter=2, ncall=2, logz=0.0, logzerr=0.0)
    bar.close()
    assert out.getvalue() == text


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(True, clock=Clock()) as bar:
        bar.update(niter=7, ncall=7, logz=0.0, logzerr=0.0)
    captured = capsys.readouterr()
    assert captured.out == "" and "iter 7 " in captured.err


def test_bad_arguments() -> None:
    with pytest.raises(ArgumentTypeError, match="enabled=1.*True or False"):
        Progress(1)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="write\\(\\) method"):
        Progress(True, file="log.txt")  # type: ignore[arg-type]


def test_optional_dependencies_stay_unimported() -> None:
    """Importing the nested package, and a disabled display, import neither tqdm nor dynesty
    nor matplotlib (a fresh interpreter, so other tests' imports do not count)."""
    code = (
        "import sys\n"
        "from diffid_plugins.nested import Results\n"
        "from diffid_plugins.nested._progress import Progress\n"
        "with Progress(False) as p:\n"
        "    p.update(niter=1, ncall=1, logz=0.0, logzerr=0.0)\n"
        "print([m for m in ('tqdm', 'dynesty', 'matplotlib') if m in sys.modules])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"

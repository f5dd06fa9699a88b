"""Positions in DiffSL source text: offsets to line/column, and caret context for messages.

A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (pest's ``NEWLINE``). Lines and columns
are 1-based; a column counts characters (a tab is one column). :func:`render_context`
produces the two lines shown under a diagnostic: the source line and a caret under the
column. It never fails, whatever the text (binary junk, huge lines, positions out of range).
"""

from __future__ import annotations

import re
from bisect import bisect_right

__all__ = ["LineIndex", "line_col", "render_context"]

_NEWLINE = re.compile(r"\r\n?|\n")
_UNSAFE = re.compile(r"[^\t\x20-\x7e]")

#: Longest source-line excerpt shown by :func:`render_context` (the rest is elided).
CONTEXT_WIDTH = 100


class LineIndex:
    """Line starts of a text, for many fast offset -> (line, column) look-ups.

    Parameters
    ----------
    text : str
        The source text.

    Examples
    --------
    >>> LineIndex("ab\\ncd").line_col(4)
    (2, 2)
    """

    __slots__ = ("_starts", "_size")

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        self._size = len(text)

    def line_col(self, offset: int) -> tuple[int, int]:
        """Return the 1-based ``(line, column)`` of a 0-based offset (clamped to the text)."""
        offset = min(max(offset, 0), self._size)
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def line_col(text: str, offset: int) -> tuple[int, int]:
    """Return the 1-based ``(line, column)`` of a 0-based character offset in ``text``.

    Parameters
    ----------
    text : str
        The source text.
    offset : int
        0-based character offset; values outside ``[0, len(text)]`` are clamped.

    Returns
    -------
    tuple of int
        ``(line, column)``, both 1-based. The offset ``len(text)`` (end of input) maps to the
        position just after the last character.

    Examples
    --------
    >>> line_col("u { x = 1 }\\nF { -x }", 16)
    (2, 5)
    """
    return LineIndex(text).line_col(offset)


def _source_line(text: str, line: int) -> str | None:
    """The text of 1-based line ``line`` without its line break, or None if out of range."""
    if line < 1:
        return None
    pos = 0
    for _ in range(line - 1):
        m = _NEWLINE.search(text, pos)
        if m is None:
            return None
        pos = m.end()
    m = _NEWLINE.search(text, pos)
    return text[pos : m.start() if m else len(text)]


def render_context(text: str, line: int, column: int) -> str:
    """Render the source line ``line`` and a caret under ``column``.

    Characters other than printable ASCII and tabs are shown as ``?`` (one for one, so the
    caret stays aligned and no control sequence reaches a terminal); tabs are kept in both
    lines so that the caret lines up when the two lines are printed. Lines longer than
    ``CONTEXT_WIDTH`` characters are cut to a window around the column, marked with ``...``.

    Parameters
    ----------
    text : str
        The whole source text.
    line, column : int
        1-based position; a column past the end of the line puts the caret just after it.

    Returns
    -------
    str
        Two lines joined by ``"\\n"`` (no trailing newline), or ``""`` if ``line`` does not
        exist in ``text``.

    Examples
    --------
    >>> print(render_context("u { x = 1 }\\nF { x ** 2 }", 2, 8))
    F { x ** 2 }
           ^
    """
    source = _source_line(text, line)
    if source is None:
        return ""
    col = min(max(column, 1), len(source) + 1) - 1  # 0-based caret position
    head, tail = "", ""
    if len(source) > CONTEXT_WIDTH:
        start = max(0, min(col - CONTEXT_WIDTH // 2, len(source) - CONTEXT_WIDTH))
        stop = start + CONTEXT_WIDTH
        head = "..." if start > 0 else ""
        tail = "..." if stop < len(source) else ""
        source = source[start:stop]
        col -= start
    shown = _UNSAFE.sub("?", source)
    pad = "".join("\t" if ch == "\t" else " " for ch in shown[:col])
    return f"{head}{shown}{tail}\n{' ' * len(head)}{pad}^"

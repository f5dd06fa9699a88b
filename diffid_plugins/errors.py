"""Exception hierarchy of diffid_plugins.

Every exception the package raises on purpose derives from :class:`DiffidError`, so
``except DiffidError`` catches them all. Errors about user input also derive from
``ValueError`` so that generic input-validation handlers keep working.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Diagnostic", "DiffSLError", "DiffidError", "SolverError"]


class DiffidError(Exception):
    """Root of every exception raised by diffid_plugins."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a DiffSL model.

    Attributes
    ----------
    message : str
        What is wrong, in the reference implementation's wording where it has one.
    line, column : int or None
        1-based position of the offending text, or ``None`` for whole-model errors
        (for example ``missing 'u' array`` in an empty model).
    stage : str
        ``"parse"`` (syntax), ``"compile"`` (names, shapes, special-tensor rules) or
        ``"import"`` (``read()`` files).
    context : str
        The source line and a caret under the column (empty without a position).
    """

    message: str
    line: int | None = None
    column: int | None = None
    stage: str = "compile"
    context: str = ""

    def render(self) -> str:
        """Format as ``Line L, Column C: Error: <message>`` followed by the context."""
        head = f"Error: {self.message}"
        if self.line is not None:
            head = f"Line {self.line}, Column {self.column}: {head}"
        return head + ("\n" + self.context if self.context else "")


class DiffSLError(DiffidError, ValueError):
    """A DiffSL model could not be compiled.

    Parameters
    ----------
    diagnostics : list of Diagnostic
        Every problem found (the parser stops at the first syntax error; the analysis
        collects all semantic errors that do not merely follow from an earlier one).

    Attributes
    ----------
    diagnostics : list of Diagnostic
    line, column : int or None
        Position of the first diagnostic.
    stage : str
        Stage of the first diagnostic (``"parse"`` or ``"compile"``).
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        if not diagnostics:
            diagnostics = [Diagnostic("unknown DiffSL error")]
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0]
        self.line = first.line
        self.column = first.column
        self.stage = first.stage
        kind = "Parser error" if self.stage == "parse" else "Compiler error"
        body = "\n".join(d.render() for d in self.diagnostics)
        super().__init__(f"DiffSL {kind}:\n{body}")

    def __reduce__(self) -> tuple[type, tuple[list[Diagnostic]]]:
        return (type(self), (self.diagnostics,))


class SolverError(DiffidError, RuntimeError):
    """An ODE solve failed where the caller asked for an exception instead of a status."""

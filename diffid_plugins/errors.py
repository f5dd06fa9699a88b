"""Exception hierarchy of diffid_plugins.

Every exception the package raises on purpose derives from :class:`DiffidError`, so
``except DiffidError`` catches them all. Errors about user input also derive from the
built-in exception a generic handler expects, so that such handlers keep working:

- :class:`ArgumentError` (a ``ValueError``): an argument has a value the package cannot use;
  :class:`~diffid_plugins.problem.ProblemError` and :class:`DiffSLError` are the
  problem's and the compiler's kinds of it;
- :class:`ArgumentTypeError` (a ``TypeError``): an argument has the wrong type;
- :class:`ResultError` (a ``ValueError``) and :class:`ResultTypeError` (a ``TypeError``): a
  function the user passed returned a value that cannot be used (NaN cost) or one of the
  wrong type or shape.

Failures of a solve are not raised: they are returned as status codes (see the status
registry, :mod:`diffid_plugins._status_codes`). ``tests/test_errors.py`` checks that no
module raises a bare ``ValueError`` or ``TypeError`` (the modules still pending are listed
there).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "Diagnostic",
    "DiffSLError",
    "DiffidError",
    "ResultError",
    "ResultTypeError",
    "SolverError",
]


class DiffidError(Exception):
    """Root of every exception raised by diffid_plugins."""


class ArgumentError(DiffidError, ValueError):
    """An argument has the right type but a value the package cannot use.

    The message names the argument, the value received, what was expected and how to fix
    it. Derives from ``ValueError``, so ``except ValueError`` keeps catching it.

    Examples
    --------
    >>> issubclass(ArgumentError, ValueError) and issubclass(ArgumentError, DiffidError)
    True
    """


class ArgumentTypeError(DiffidError, TypeError):
    """An argument has the wrong type (for example a string where a list of names is needed).

    Derives from ``TypeError``, so ``except TypeError`` keeps catching it.
    """


class ResultError(DiffidError, ValueError):
    """A function the user passed returned a value of the right type that cannot be used.

    For example an objective that returns NaN or inf as its cost. Such errors are recorded
    per row (``exceptions_map``) rather than raised out of a batch. Derives from
    ``ValueError``.
    """


class ResultTypeError(DiffidError, TypeError):
    """A function the user passed returned a value of the wrong type or shape.

    For example an objective that returns a string instead of a float. Such errors are
    recorded per row (``exceptions_map``) rather than raised out of a batch. Derives from
    ``TypeError``.
    """


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


class DiffSLError(ArgumentError):
    """A DiffSL model could not be compiled.

    An :class:`ArgumentError` (so a ``ValueError``): the model text is the bad argument.

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
    """Reserved for an ODE solve that failed where the caller asked for an exception.

    No function raises it yet: :func:`~diffid_plugins.solve` and the problems return a
    failed solve as a status code (``Solution.success``, ``Solution.status``,
    ``Solution.message``; row statuses in ``evaluate_batch``), never as an exception. It is
    kept, and exported, as the class that an opt-in raising API (for example
    ``Solution.raise_for_status()``) will raise, so that code catching it keeps working.
    """

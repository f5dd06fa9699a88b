"""The record of a nested-sampling run: a dynesty-3.x-compatible, immutable :class:`Results`.

Field names, shapes and the cumulative convention follow ``dynesty.utils.Results`` (3.x):
``logz``, ``logzerr`` and ``information`` are cumulative arrays whose last entry is the final
value; ``ncall`` is a per-sample array; a run is *dynamic* when it carries ``samples_n`` and
*static* when it carries ``nlive``. ``dynesty.plotting`` (``runplot``, ``traceplot``,
``cornerpoints``, ``cornerplot``) draws a :class:`Results` directly, and
:meth:`Results.to_dynesty` builds a real ``dynesty.utils.Results``.

Immutability: the record keeps its own read-only copies of the arrays. Attribute access
(``r.logl``) returns the read-only array itself (no copy); item access (``r["logl"]``)
returns a writable copy, because ``dynesty.plotting.runplot`` writes into ``logzerr`` in
place (it zeroes non-finite entries), which a read-only array refuses with a ``ValueError``.
Other mutable values (``solver_check``, ``parameter_names``, ...) are copied on every access.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError

__all__ = ["DYNESTY_FIELDS", "EXTRA_FIELDS", "SOLVER_CHECK_KEYS", "Results"]

DYNESTY_FIELDS: frozenset[str] = frozenset(
    {
        "logl", "samples_it", "samples_id", "samples_n", "samples_u", "samples_v", "samples",
        "niter", "ncall", "logz", "logzerr", "logwt", "eff", "nlive", "logvol", "information",
        "bound", "bound_iter", "samples_bound", "samples_batch", "batch_logl_bounds",
        "batch_nlive", "scale", "blob", "proposal_stats",
    }
)  # fmt: skip
"""The field names of dynesty 3.x (``dynesty.utils._RESULTS_STRUCTURE``)."""

EXTRA_FIELDS: frozenset[str] = frozenset(
    {
        "logzerr_single", "logzerr_bootstrap", "logz_bootstrap", "n_effective", "stop_reason",
        "solver_check", "parameter_names", "wall_time",
    }
)  # fmt: skip
"""This package's fields beyond dynesty's (left out by :meth:`Results.to_dynesty`)."""

SOLVER_CHECK_KEYS: tuple[str, ...] = (
    "rtol", "rtol_check", "n_points", "max_shift", "median_shift", "logzerr", "ok", "advice",
)  # fmt: skip
"""Keys of the ``solver_check`` field: the log-likelihood shift of a few high-likelihood
points re-evaluated at the tighter tolerance ``rtol_check``, against the run's ``logzerr``."""

_REQUIRED = ("samples_u", "samples_id", "logl", "samples")
_FLOAT_SAMPLE = ("logl", "logz", "logzerr", "logwt", "logvol", "information")
_INT_SAMPLE = ("samples_it", "samples_id", "samples_n", "samples_batch")
# not length-checked: dynesty's bound fields (scale, samples_bound, bound_iter) and blob have one
# entry per iteration, not per sample, in a static run with the final live points added
_POINTS = ("samples", "samples_u", "samples_v")
_INT_SCALARS = ("niter", "nlive")
_FLOAT_SCALARS = ("eff", "logzerr_single", "logzerr_bootstrap", "n_effective", "wall_time")


def _fail(name: str, value: Any, expected: str) -> ArgumentError:
    if isinstance(value, np.ndarray):
        return ArgumentError(
            f"Results field {name!r} is an array of shape {value.shape}: expected {expected}"
        )
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return ArgumentError(f"Results field {name!r} = {text}: expected {expected}")


def _float_array(name: str, value: Any, ndim: int) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"Results field {name!r} is not an array of numbers ({type(value).__name__}); "
            "pass a numpy array of floats"
        ) from exc
    if a.ndim != ndim:
        raise _fail(name, value, f"a {ndim}-D array, got shape {a.shape}")
    return a


def _int_array(name: str, value: Any) -> np.ndarray:
    a = np.array(value)
    if a.ndim != 1:
        raise _fail(name, value, f"a 1-D array of integers, got shape {a.shape}")
    if a.size and a.dtype.kind == "f" and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    if a.size and a.dtype.kind not in "iu":
        raise _fail(name, value, f"an array of integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def _scalar(name: str, value: Any, kind: type) -> Any:
    expected = "an int" if kind is int else "a float"
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise ArgumentTypeError(
            f"Results field {name!r} = {value!r} ({type(value).__name__}): expected {expected}"
        )
    if kind is int:
        if not math.isfinite(value) or value != math.floor(value):
            raise _fail(name, value, "an integer")
        return int(value)
    return float(value)


def _solver_check(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(
            f"Results field 'solver_check' is a {type(value).__name__}: expected a dict with "
            f"keys {list(SOLVER_CHECK_KEYS)}, or None"
        )
    missing = [k for k in SOLVER_CHECK_KEYS if k not in value]
    if missing:
        raise ArgumentError(
            f"Results field 'solver_check' is missing {missing}: expected a dict with keys "
            f"{list(SOLVER_CHECK_KEYS)}, or None"
        )
    return copy.deepcopy(dict(value))


def _coerce(name: str, value: Any) -> Any:
    """One field's value in its stored form (copied; arrays float64/int64)."""
    if name in _POINTS:
        return _float_array(name, value, 2)
    if name in _FLOAT_SAMPLE or name in ("logz_bootstrap", "scale"):
        return _float_array(name, value, 1)
    if name in _INT_SAMPLE or name in ("batch_nlive", "bound_iter", "samples_bound"):
        return _int_array(name, value)
    if name == "batch_logl_bounds":
        a = _float_array(name, value, 2)
        if a.shape[1] != 2:
            raise _fail(name, value, f"shape (n_batches, 2), got {a.shape}")
        return a
    if name == "ncall":
        return _int_array(name, value) if np.ndim(value) else _scalar(name, value, int)
    if name in _INT_SCALARS:
        return _scalar(name, value, int)
    if name in _FLOAT_SCALARS:
        return _scalar(name, value, float)
    if name == "stop_reason":
        if not isinstance(value, str):
            raise ArgumentTypeError(f"Results field 'stop_reason' = {value!r}: expected a str")
        return value
    if name == "solver_check":
        return _solver_check(value)
    if name == "parameter_names":
        if value is None:
            return None
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ArgumentTypeError(
                f"Results field 'parameter_names' = {value!r}: expected a list of str or None"
            )
        return list(value)
    return copy.deepcopy(value)  # bound, blob, proposal_stats: opaque


def _check_lengths(fields: dict[str, Any]) -> None:
    """Every per-sample field has the samples' length ``N``; batches agree; niter fits."""
    n, d = fields["samples"].shape
    if fields["samples_u"].shape != (n, d):
        raise _fail("samples_u", fields["samples_u"], f"the shape of 'samples', ({n}, {d})")
    for name in _POINTS + _FLOAT_SAMPLE + _INT_SAMPLE + ("ncall",):
        value = fields.get(name)
        if isinstance(value, np.ndarray) and value.shape[0] != n:
            raise ArgumentError(
                f"Results field {name!r} has {value.shape[0]} rows but 'samples' has {n}: "
                "every per-sample field needs one entry per sample"
            )
    if "batch_nlive" in fields and "batch_logl_bounds" in fields:
        nb, nbounds = len(fields["batch_nlive"]), len(fields["batch_logl_bounds"])
        if nb != nbounds:
            raise ArgumentError(
                f"Results fields 'batch_nlive' ({nb} batches) and 'batch_logl_bounds' "
                f"({nbounds} batches) disagree: give one entry per batch in both"
            )
    if "samples_batch" in fields and "batch_nlive" in fields and n:
        sb, nb = fields["samples_batch"], len(fields["batch_nlive"])
        if sb.min() < 0 or sb.max() >= nb:
            raise ArgumentError(
                f"Results field 'samples_batch' holds batch {int(sb.max())} (min "
                f"{int(sb.min())}) but 'batch_nlive' has {nb} batches: batch indices must be "
                f"in [0, {nb})"
            )
    names = fields.get("parameter_names")
    if names is not None and len(names) != d:
        raise _fail("parameter_names", names, f"{d} names (one per dimension of 'samples')")
    niter = fields.get("niter")
    if niter is None:
        return
    if "nlive" in fields:
        if n not in (niter, niter + fields["nlive"]):
            raise ArgumentError(
                f"a static run with niter={niter} and nlive={fields['nlive']} must have "
                f"niter or niter + nlive samples, not {n}"
            )
    elif not 0 <= niter <= n:
        raise ArgumentError(f"Results field 'niter' = {niter}: expected 0 <= niter <= {n}")


def _generator(rng: Any, name: str) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ArgumentTypeError(
        f"{name}={rng!r} ({type(rng).__name__}): expected None, an int seed or a "
        "numpy.random.Generator"
    )


class Results:
    """Immutable, dynesty-3.x-compatible record of a nested-sampling run.

    Parameters
    ----------
    fields : Mapping[str, Any]
        Field name -> value. Required: ``samples_u`` (N, d), ``samples_id`` (N,), ``logl``
        (N,), ``samples`` (N, d), and ``samples_n`` (N,) (a dynamic run) or ``nlive`` (a static
        run). Allowed: dynesty's fields (:data:`DYNESTY_FIELDS`) and this package's
        (:data:`EXTRA_FIELDS`). Per-sample fields (``logl``, ``logvol``, ``logwt``, ``logz``,
        ``logzerr``, ``information``, ``samples_*``, an array ``ncall``) have ``N`` entries;
        ``batch_nlive`` (B,) and ``batch_logl_bounds`` (B, 2) describe the batches. The values
        are copied; arrays are stored read-only as float64 or int64.

    Raises
    ------
    ArgumentError
        A required field is missing, a field is unknown, or shapes disagree.
    ArgumentTypeError
        ``fields`` is not a mapping, or a field has the wrong type.

    Notes
    -----
    ``r.name`` returns the stored (read-only) value of an array field; ``r["name"]`` returns a
    writable copy (``dynesty.plotting.runplot`` writes into ``logzerr``). An unknown name
    raises ``AttributeError`` and ``KeyError`` respectively (``runplot`` tells static from
    dynamic runs by the ``KeyError`` of ``r["samples_n"]``).
    """

    __slots__ = ("_fields", "_initialized")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        if not isinstance(fields, Mapping):
            raise ArgumentTypeError(
                f"Results(fields=...) got a {type(fields).__name__}; pass a mapping of field "
                "names to values (a dict)"
            )
        unknown = sorted(str(k) for k in fields if k not in DYNESTY_FIELDS | EXTRA_FIELDS)
        if unknown:
            raise ArgumentError(
                f"Results got unknown field(s) {unknown}; allowed are dynesty's fields "
                f"{sorted(DYNESTY_FIELDS)} and {sorted(EXTRA_FIELDS)}"
            )
        missing = [k for k in _REQUIRED if k not in fields]
        if "samples_n" not in fields and "nlive" not in fields:
            missing.append("samples_n (dynamic run) or nlive (static run)")
        if missing:
            raise ArgumentError(
                f"Results is missing the required field(s) {missing}; a run record needs "
                "samples_u, samples_id, logl, samples, and samples_n or nlive"
            )
        stored = {str(k): _coerce(str(k), v) for k, v in fields.items()}
        _check_lengths(stored)
        for value in stored.values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        object.__setattr__(self, "_fields", stored)
        object.__setattr__(self, "_initialized", True)

    # --- access -------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: i.e. for field names
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            value = self._fields[name]
        except KeyError:
            raise AttributeError(
                f"Results has no field {name!r}; its fields are {list(self._fields)}"
            ) from None
        return value if isinstance(value, np.ndarray) else copy.deepcopy(value)

    def __getitem__(self, name: str) -> Any:
        try:
            value = self._fields[name]
        except (KeyError, TypeError):
            raise KeyError(name) from None
        return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Results is immutable: cannot set {name!r} (use copy())")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Results is immutable: cannot delete {name!r}")

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._fields))

    def keys(self) -> list[str]:
        """The field names, in the order given."""
        return list(self._fields)

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` pairs; arrays are the stored read-only arrays."""
        return ((k, getattr(self, k)) for k in self._fields)

    def asdict(self) -> dict[str, Any]:
        """A dict of deep copies of every field (arrays writable)."""
        return {k: self[k] for k in self._fields}

    def copy(self) -> Results:
        """A new :class:`Results` with copies of every field."""
        return Results(self.asdict())

    def __copy__(self) -> Results:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Results:
        return self.copy()

    def __reduce__(self) -> tuple[type[Results], tuple[dict[str, Any]]]:
        # rebuilt through __init__, so an unpickled record is validated and read-only again
        return (Results, (self.asdict(),))

    def isdynamic(self) -> bool:
        """True for a dynamic run (it has ``samples_n`` and no ``nlive``), as dynesty."""
        return "nlive" not in self._fields

    def __repr__(self) -> str:
        f = self._fields
        parts = ["dynamic" if self.isdynamic() else f"static, nlive={f['nlive']}"]
        if "niter" in f:
            parts.append(f"niter={f['niter']}")
        parts.append(f"nsamples={f['samples'].shape[0]}, ndim={f['samples'].shape[1]}")
        if "logz" in f and f["logz"].size:
            logz = f"logz={f['logz'][-1]:.3f}"
            if "logzerr" in f and f["logzerr"].size:
                logz += f" +/- {f['logzerr'][-1]:.3f}"
            parts.append(logz)
        return f"Results({', '.join(parts)})"

    # --- posterior ----------------------------------------------------------------------

    def importance_weights(self) -> np.ndarray:
        """Normalised posterior weights ``exp(logwt - logz[-1])``, shape (N,), summing to 1."""
        w = np.exp(self._fields["logwt"] - self._fields["logz"][-1])
        return w / w.sum()

    def samples_equal(self, rng: Any = None, *, rstate: Any = None) -> np.ndarray:
        """N equally weighted samples in random order, shape (N, d).

        Systematic resampling by :meth:`importance_weights` (one uniform offset; Hol, Schon
        and Gustafsson 2006), then a random permutation: each sample appears
        ``floor(N w_i)`` or ``ceil(N w_i)`` times.

        Parameters
        ----------
        rng : None, int or numpy.random.Generator, optional
            Randomness: a Generator is used as is (one ``random()`` draw, then one
            ``permutation``, as dynesty's ``resample_equal``); an int seeds a new one; None
            takes fresh entropy.
        rstate : numpy.random.Generator, optional
            dynesty's name for ``rng``; give at most one of them.

        Returns
        -------
        ndarray, shape (N, d)
        """
        if rstate is not None and rng is not None:
            raise ArgumentError(
                "samples_equal got both rng and rstate; pass one (rstate is dynesty's name)"
            )
        gen = _generator(rstate if rstate is not None else rng, "rng")
        cum = np.cumsum(self.importance_weights())
        cum /= cum[-1]
        n = cum.size
        positions = (gen.random() + np.arange(n)) / n
        idx = np.minimum(np.searchsorted(cum, positions, side="right"), n - 1)
        samples: np.ndarray = gen.permutation(self._fields["samples"][idx])
        return samples

    def mean_and_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted posterior mean (d,) and covariance (d, d).

        The covariance is ``sum_i w_i (x_i - m)(x_i - m)^T / (1 - sum_i w_i^2)`` with the
        normalised importance weights (the unbiased estimator for reliability weights, as
        ``numpy.cov(..., aweights=w)`` and dynesty's ``mean_and_cov``).
        """
        w = self.importance_weights()
        x = self._fields["samples"]
        mean = w @ x
        dx = x - mean
        cov = (dx * w[:, None]).T @ dx / (1.0 - np.sum(w**2))
        return mean, cov

    def summary(self) -> None:
        """Print niter, calls, efficiency, the final logz +/- logzerr and this package's extras
        (the other error estimates, the effective sample size, the stop reason, the solver
        check). Returns None, as dynesty's."""
        f = self._fields
        lines = [] if self.isdynamic() else [f"nlive: {f['nlive']:d}"]
        if "niter" in f:
            lines.append(f"niter: {f['niter']:d}")
        if "ncall" in f:
            lines.append(f"ncall: {int(np.sum(f['ncall'])):d}")
        if "eff" in f:
            lines.append(f"eff(%): {f['eff']:6.3f}")
        if "logz" in f:
            logz = f"logz: {f['logz'][-1]:6.3f}"
            if "logzerr" in f:
                logz += f" +/- {f['logzerr'][-1]:6.3f}"
            lines.append(logz)
        lines += self._extra_lines()
        print("Summary\n=======\n" + "\n".join(lines))

    def _extra_lines(self) -> list[str]:
        f = self._fields
        lines = []
        errs = []
        if "logzerr_bootstrap" in f:
            reps = f" over {f['logz_bootstrap'].size} replicates" if "logz_bootstrap" in f else ""
            errs.append(f"bootstrap {f['logzerr_bootstrap']:.3f}{reps}")
        if "logzerr_single" in f:
            errs.append(f"single run sqrt(sum dH dlnX) {f['logzerr_single']:.3f}")
        if errs:
            lines.append("logzerr: " + ", ".join(errs))
        if "n_effective" in f:
            lines.append(f"n_effective (Kish): {f['n_effective']:.1f}")
        if "stop_reason" in f:
            lines.append(f"stop reason: {f['stop_reason']}")
        if "wall_time" in f:
            lines.append(f"wall time: {f['wall_time']:.2f} s")
        check = f.get("solver_check")
        if check is not None:
            verdict = "ok" if check["ok"] else "NOT small against logzerr"
            lines.append(
                f"solver check: logL at rtol {check['rtol']:g} vs {check['rtol_check']:g} on "
                f"{check['n_points']} points: shift max {check['max_shift']:.3g}, median "
                f"{check['median_shift']:.3g} (logzerr {check['logzerr']:.3g}): {verdict}"
            )
            if not check["ok"]:
                lines.append(f"  advice: {check['advice']}")
        return lines

    # --- interoperability ---------------------------------------------------------------

    def to_dynesty(self) -> Any:
        """A ``dynesty.utils.Results`` with dynesty's fields of this record (copies).

        This package's extra fields (:data:`EXTRA_FIELDS`) are left out; a missing ``blob`` is
        given as an (N,) object array of None, as dynesty's samplers store it (so
        ``dynesty.utils.resample_run`` and ``jitter_run`` accept the result).

        Raises
        ------
        ImportError
            dynesty is not installed.
        """
        try:
            from dynesty.utils import Results as DynestyResults
        except ImportError as exc:
            raise ImportError(
                "Results.to_dynesty() needs dynesty, which is not installed: pip install dynesty"
            ) from exc
        fields = {k: self[k] for k in self._fields if k in DYNESTY_FIELDS}
        if "blob" not in fields:  # dynesty's samplers always store it; resample_run indexes it
            fields["blob"] = np.full(self._fields["samples"].shape[0], None, dtype=object)
        return DynestyResults(fields)

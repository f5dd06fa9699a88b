"""The shared DiffSL corpus against ``compile_model`` (issue 2, acceptance items 1-3 and 5).

Where the expected numbers come from:

* ``models.json`` ``oracle``: sizes, ``y0`` and ``rhs0`` (F at t = 0, first 8 entries) computed
  with the reference implementation, pydiffsol 0.6.2 = diffsl 0.12.4 (corpus README). These are
  direct evaluations, so they are compared at rtol 1e-10.
* ``micro_tests.json`` ``shape``/``dense``: the reference's dense tensor value with inputs = 1,
  t = 0, N = 0 (corpus README), compared at rtol 1e-12.
* ``invalid.json``: the expected stage and the substrings that the reference's message contains.
* Mass matrices and the model-index rows: derived by hand from the model texts, or quoted from
  ``diffsl-reference.md`` §8.4 ("numbers from the reference harness"); each row says which.
* Jacobians: central finite differences of our own ``rhs`` (see :func:`fd_jacobian`).

Every compile is shared through the process-wide cache in ``_corpus`` (about 1 s of numba time
per model); each corpus model is compiled once for all the tests below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _corpus import (
    CORPUS,
    MICRO_SUFFIX,
    as_array,
    case_params,
    compile_outcome,
    compiled,
    load,
    micro_text,
    requires_corpus,
)

from diffid_plugins import DiffSLError

MODELS = case_params("models")
MICRO = case_params("micro_tests", id_key="name")
INVALID = case_params("invalid")

#: Direct evaluations (no solver in between) must agree with the reference to rounding.
RTOL_DIRECT = 1e-10
#: Absolute floor for entries the reference reports as exactly 0 (``rhs0`` of a state at rest).
ATOL_ZERO = 1e-12


def params_of(case: dict[str, Any]) -> np.ndarray:
    """The parameter vector the oracle used (``params``, in ``in`` order)."""
    return as_array(case["params"])


#: Full initial states where the corpus stores only the first 8 entries of ``y0``. heat_1d_pde:
#: u_i { (0:5): g, (5:15): g + m, (15:21): g } with g = 0, m = 1; the corpus ``expected``
#: text says the same ("u0 = [0]*5 + [1]*10 + [0]*6").
FULL_Y0 = {"heat_1d_pde": [0.0] * 5 + [1.0] * 10 + [0.0] * 6}


def oracle_state(case: dict[str, Any]) -> np.ndarray:
    """The oracle's initial state as a full state vector (see FULL_Y0 for truncated ones)."""
    y0 = as_array(case["oracle"]["y0"])
    if y0.size < case["oracle"]["nstates"]:
        full = as_array(FULL_Y0[case["id"]])
        np.testing.assert_array_equal(full[: y0.size], y0)
        return full
    return y0


# ------------------------------------------------------------------------ (a) corpus models


@pytest.mark.parametrize("case", MODELS)
def test_model_sizes(case: dict[str, Any]) -> None:
    """n_states, n_inputs, n_outputs, has stop == oracle nstates, nparams, nout, has_stop."""
    model = compiled(case["text"])
    oracle = case["oracle"]
    got = (model.n_states, model.n_inputs, model.n_outputs, model.n_stop > 0)
    want = (oracle["nstates"], oracle["nparams"], oracle["nout"], oracle["has_stop"])
    assert got == want, "(n_states, n_inputs, n_outputs, has stop)"
    assert len(model.input_names) == model.n_inputs
    assert np.shape(model.default_inputs) == (model.n_inputs,)


#: input_names / default_inputs read off the ``in`` tensors of a few corpus texts (architecture.md:
#: "from the `in` tensor; its values are the defaults"). ``2.0/3.0`` is an expression: the
#: default is its value.
INPUT_DEFAULTS = {
    "exponential_decay": (["k", "y0"], [0.1, 1.0]),
    "lotka_volterra": (["y0"], [1.0]),
    "lotka_volterra_inputs": (["a", "b", "c", "d"], [2.0 / 3.0, 4.0 / 3.0, 1.0, 1.0]),
    "robertson_ode": (["k1", "k2", "k3"], [0.04, 1e4, 3e7]),
    "hybrid_logistic_reset": (["r"], [1.0]),
    "pk_tdose_pydiffsol": (["Vc", "Vp1", "CL", "Qp1"], [1000.0, 1000.0, 100.0, 50.0]),
    "minimal_decay": ([], []),
}


@requires_corpus
@pytest.mark.parametrize("model_id", sorted(INPUT_DEFAULTS))
def test_input_names_and_defaults(model_id: str) -> None:
    """Names and defaults of ``in`` (hand-read from the corpus texts, table above)."""
    (case,) = [row for row in load("models") if row["id"] == model_id]
    model = compiled(case["text"])
    names, defaults = INPUT_DEFAULTS[model_id]
    assert list(model.input_names) == names
    np.testing.assert_allclose(np.asarray(model.default_inputs, float), defaults, rtol=1e-15)


@pytest.mark.parametrize("case", MODELS)
def test_initial_state(case: dict[str, Any]) -> None:
    """initial_state(params) == oracle ``y0`` (pydiffsol ``ode.y0(params)``)."""
    model = compiled(case["text"])
    y0 = model.initial_state(params_of(case))
    assert y0.shape == (model.n_states,)
    np.testing.assert_allclose(y0, oracle_state(case), rtol=RTOL_DIRECT, atol=ATOL_ZERO)


@pytest.mark.parametrize("case", MODELS)
def test_rhs_at_t0(case: dict[str, Any]) -> None:
    """rhs(params, 0, y0)[:8] == oracle ``rhs0`` (pydiffsol ``ode.rhs(params, 0, y0)``).

    The oracle's own ``y0`` is the state (:func:`oracle_state`), so this test does not depend
    on ``initial_state``. For DAEs this is F at the *unmodified* initial guess, as in
    the oracle.
    """
    model = compiled(case["text"])
    oracle = case["oracle"]
    dy = model.rhs(params_of(case), 0.0, oracle_state(case))
    assert dy.shape == (model.n_states,)
    want = as_array(oracle["rhs0"])
    np.testing.assert_allclose(dy[: len(want)], want, rtol=RTOL_DIRECT, atol=ATOL_ZERO)


#: Mass matrices of the corpus models that define ``M``, derived by hand from their texts
#: (``M_i`` is M·dudt written out). Upstream numbers agree: mass_matrix_llvm mass([1,1,1]) =
#: [2,1,1]; algebraic_id mass([2,3]) = [2,0]; logistic_dae_out mass([1,1]) = [1,0] (corpus
#: ``expected``). Every other corpus model has the identity.
MASS_MATRICES = {
    "exp_decay_algebraic": np.diag([1.0, 1.0, 0.0]),
    "logistic_dae_out": np.diag([1.0, 0.0]),
    "robertson_dae": np.diag([1.0, 1.0, 0.0]),
    "mass_matrix_llvm": np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    "algebraic_id": np.diag([1.0, 0.0]),
}


def _ode_models_with_output_at_t0() -> list[Any]:
    """Corpus models whose oracle solution starts at t = 0 and that have no mass matrix.

    For those the first solution column is exactly ``out(0, y0)`` (for DAEs the solver first
    makes the algebraic components consistent, so the first column is not ``out(y0)``).
    """
    params = []
    for param in MODELS:
        case = param.values[0]
        if case is None:
            return MODELS
        ts = case["oracle"].get("ts")
        if ts and ts[0] == 0.0 and case["id"] not in MASS_MATRICES:
            params.append(param)
    return params


@pytest.mark.parametrize("case", _ode_models_with_output_at_t0())
def test_outputs_at_t0(case: dict[str, Any]) -> None:
    """outputs(params, 0, y0) == the first column of the oracle solution ``ys`` (ODE models)."""
    model = compiled(case["text"])
    oracle = case["oracle"]
    out = model.outputs(params_of(case), 0.0, oracle_state(case))
    assert out.shape == (model.n_outputs,)
    first_column = as_array([row[0] for row in oracle["ys"]])
    np.testing.assert_allclose(out[: len(first_column)], first_column, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", MODELS)
def test_mass_matrix(case: dict[str, Any]) -> None:
    """mass_matrix(params, 0) equals the hand-derived table above (identity without ``M``)."""
    model = compiled(case["text"])
    defines_m = "M_i" in case["text"] or "M {" in case["text"]
    assert defines_m == (case["id"] in MASS_MATRICES), "MASS_MATRICES table is out of date"
    want = MASS_MATRICES.get(case["id"], np.eye(model.n_states))
    got = model.mass_matrix(params_of(case), 0.0)
    np.testing.assert_array_equal(got, want)


# --------------------------------------------- model index N and other reference-harness numbers

AMP = "amp_i { 0, 10 } dur_i { 10, 5 } u_i { x = 1, tclock = 0 } F_i { amp_i[N % 2] - x, 1 } stop_i { dur_i[N % 2] - tclock }"  # noqa: E501
AMP_SLICE = "amp_i { 0, 10, 20 }  u_i { x = 1, y = 1 }  F_i { amp_i[N:N+2] - u_i }"
PACE = "pace_i { 0, 10 }  rate { pace_i[N % 2] }  u { x = 1 }  F { rate - x }"
LOGISTIC = "in_i { r = 1, k = 1, y0 = 0.1 }  u { y0 }  F { r * u * (1.0 - u / k) }"
TWOY = (
    "u_i { y = 1 } twoy_i { 2 * y } F_i { y * (1 - y), } out_i { twoy_i } stop_i { twoy_i - 0.5 }"  # noqa: E501
)
SOWS = "in_i { b = 0.0685 } sows_i { 100.0, 50.0, 25.0 } u_i { 0.0, 0.0, 0.0 } F_i { b * sows_i } out_i { u_i }"  # noqa: E501
INDEX_LOGISTIC = """in_i { r = 1 }
a_i { 0.8, 1.0, 1.2, 1.4 }
u_i { y = 0.1 }
F_i { a_i[N] * r * y * (1.0 - y) }
"""

#: (id, model text, what to evaluate, p, t, y, model index, expected). ``what`` is a method of
#: CompiledModel, ``"tensor:<name>"`` for evaluate_tensor, or ``"jacobian@<v>"`` for J·v.
#: Source: diffsl-reference.md §8.4 unless the comment says otherwise.
HARNESS: list[tuple[str, str, str, list[float], float, list[float], int, Any]] = [
    ("amp-N0-rhs", AMP, "rhs", [], 0.0, [1.0, 0.0], 0, [-1.0, 1.0]),
    ("amp-N1-rhs", AMP, "rhs", [], 0.0, [1.0, 0.0], 1, [9.0, 1.0]),
    ("amp-N0-stop", AMP, "stop", [], 0.0, [1.0, 0.0], 0, [10.0]),
    ("amp-N1-stop", AMP, "tensor:stop", [], 0.0, [1.0, 0.0], 1, [5.0]),
    # F = [amp[N % 2] - x, 1]: dF/du = [[-1, 0], [0, 0]] for every N (hand-derived).
    ("amp-N1-jacobian", AMP, "jacobian", [], 0.0, [1.0, 0.0], 1, [[-1.0, 0.0], [0.0, 0.0]]),
    ("slice-N0-rhs", AMP_SLICE, "rhs", [], 0.0, [1.0, 1.0], 0, [-1.0, 9.0]),
    ("slice-N1-rhs", AMP_SLICE, "rhs", [], 0.0, [1.0, 1.0], 1, [9.0, 19.0]),
    ("pace-N0-rhs", PACE, "rhs", [], 0.0, [1.0], 0, [-1.0]),
    ("pace-N1-rhs", PACE, "rhs", [], 0.0, [1.0], 1, [9.0]),
    # rate = pace[N % 2] = 10 at N = 1 (hand-derived; §8.4 gives F = rate - x = 9 at x = 1).
    ("pace-N1-rate", PACE, "tensor:rate", [], 0.0, [1.0], 1, 10.0),
    ("logistic-u0", LOGISTIC, "initial_state", [1.0, 1.0, 0.1], 0.0, [], 0, [0.1]),
    ("logistic-rhs", LOGISTIC, "rhs", [1.0, 1.0, 0.1], 0.0, [0.25], 0, [0.1875]),
    ("logistic-jv", LOGISTIC, "jacobian@3.0", [1.0, 1.0, 0.1], 0.0, [0.25], 0, [1.5]),
    ("twoy-out-u1", TWOY, "outputs", [], 0.0, [1.0], 0, [2.0]),
    ("twoy-out-u2", TWOY, "outputs", [], 0.0, [2.0], 0, [4.0]),
    ("twoy-stop-u2", TWOY, "stop", [], 0.0, [2.0], 0, [3.5]),
    ("twoy-stop-u05", TWOY, "stop", [], 0.0, [0.5], 0, [0.5]),
    ("sows-rhs", SOWS, "rhs", [0.0685], 0.0, [0.0] * 3, 0, [6.85, 3.425, 1.7125]),
    ("sows-jac-p", SOWS, "jacobian_p", [0.0685], 0.0, [0.0] * 3, 0, [[100.0], [50.0], [25.0]]),
    # Hand-derived from the corpus model logistic_model_index: F = a[N] r y (1 - y) with r = 1,
    # y = 0.1, a = [0.8, 1.0, 1.2, 1.4] (N = 0 agrees with the corpus oracle rhs0 = 0.072), and
    # dF/dy = a[N] r (1 - 2y).
    *[
        (f"index-logistic-N{n}", INDEX_LOGISTIC, "rhs", [1.0], 0.0, [0.1], n, [a * 0.1 * 0.9])
        for n, a in enumerate([0.8, 1.0, 1.2, 1.4])
    ],
    ("index-logistic-jac-N3", INDEX_LOGISTIC, "jacobian", [1.0], 0.0, [0.1], 3, [[1.4 * 0.8]]),
]


def _evaluate(model: Any, what: str, p: np.ndarray, t: float, y: np.ndarray, n: int) -> Any:
    """Dispatch one HARNESS row (the model index is passed only where it is not 0)."""
    kw = {"model_index": n} if n else {}
    if what == "initial_state":
        return model.initial_state(p, **kw)
    if what.startswith("tensor:"):
        return model.evaluate_tensor(what.split(":", 1)[1], p, t, y, **kw)
    if what.startswith("jacobian@"):
        return model.jacobian(p, t, y, **kw) @ np.array([float(what.split("@", 1)[1])])
    if what in ("stop", "jacobian_p"):  # no model_index keyword in the API
        assert not kw
    return getattr(model, what)(p, t, y, **kw)


@pytest.mark.parametrize(
    ("text", "what", "p", "t", "y", "n", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in HARNESS],
)
def test_reference_harness_numbers(
    text: str, what: str, p: list[float], t: float, y: list[float], n: int, expected: Any
) -> None:
    """Model index N, outputs, stop and derivatives against diffsl-reference.md §8.4."""
    model = compiled(text)
    got = _evaluate(model, what, np.array(p, float), t, np.array(y, float), n)
    np.testing.assert_allclose(np.asarray(got, float), expected, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------- (b) micro tests


@pytest.mark.parametrize("case", MICRO)
def test_micro(case: dict[str, Any]) -> None:
    """evaluate_tensor(tensor, p = ones, t = 0, y = initial state) == reference ``dense``."""
    model = compiled(micro_text(case))
    p = np.ones(model.n_inputs)
    value = model.evaluate_tensor(case["tensor"], p, 0.0, model.initial_state(p))
    assert isinstance(value, np.ndarray)
    assert value.shape == tuple(case["shape"])
    np.testing.assert_allclose(value, as_array(case["dense"]), rtol=1e-12, atol=0)


_NO_JIT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from diffid_plugins import compile_model

    corpus = sys.argv[1]
    micro = json.load(open(corpus + "/micro_tests.json"))
    models = json.load(open(corpus + "/models.json"))
    suffix = sys.argv[2]
    result = {}
    for row in micro:
        try:
            m = compile_model(row["text"] + "\\n" + suffix + "\\n")
            p = np.ones(m.n_inputs)
            v = m.evaluate_tensor(row["tensor"], p, 0.0, m.initial_state(p))
            result["micro:" + row["name"]] = [list(v.shape), np.ravel(v).tolist()]
        except Exception as exc:
            result["micro:" + row["name"]] = repr(exc)
    for row in models:
        try:
            m = compile_model(row["text"])
            p = np.asarray(row["params"], float)
            y0 = m.initial_state(p)
            dy = m.rhs(p, 0.0, y0)
            result["model:" + row["id"]] = [y0.tolist(), dy.tolist()]
        except Exception as exc:
            result["model:" + row["id"]] = repr(exc)
    print(json.dumps(result))
    """
)


@requires_corpus
def test_corpus_without_jit() -> None:
    """The micro tests and the corpus y0/rhs0 again, with NUMBA_DISABLE_JIT=1 (style rule 13).

    Runs in a subprocess because numba reads the variable at import time. The generated
    functions then run as plain Python, which catches code that is only correct under numba's
    typing (or only in Python). Same references and tolerances as the jitted tests.
    """
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(
        [sys.executable, "-c", _NO_JIT_SCRIPT, str(CORPUS), MICRO_SUFFIX],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    failures = []
    for row in load("micro_tests"):
        got = result["micro:" + row["name"]]
        want = np.ravel(as_array(row["dense"]))
        if isinstance(got, str):
            failures.append(f"micro {row['name']}: {got}")
        elif got[0] != row["shape"] or not np.allclose(got[1], want, rtol=1e-12, atol=0):
            failures.append(f"micro {row['name']}: got {got}, want {row['shape']} {want}")
    for row in load("models"):
        got = result["model:" + row["id"]]
        oracle = row["oracle"]
        if isinstance(got, str):
            failures.append(f"model {row['id']}: {got}")
            continue
        y0, dy = got
        n = len(oracle["rhs0"])
        if not (
            np.allclose(y0, oracle_state(row), rtol=RTOL_DIRECT, atol=ATOL_ZERO)
            and np.allclose(dy[:n], oracle["rhs0"], rtol=RTOL_DIRECT, atol=ATOL_ZERO)
        ):
            failures.append(f"model {row['id']}: y0 {y0}, rhs {dy[:n]}; oracle {oracle}")
    assert not failures, "with NUMBA_DISABLE_JIT=1:\n" + "\n".join(failures)


# ---------------------------------------------------------------------- (c) invalid models


def _raised(case: dict[str, Any]) -> DiffSLError:
    """The DiffSLError that compiling the invalid model raises; any other outcome fails."""
    outcome = compile_outcome(case["text"])
    if isinstance(outcome, DiffSLError):
        return outcome
    if isinstance(outcome, BaseException):
        pytest.fail(
            f"raised {type(outcome).__name__} instead of DiffSLError: {outcome!r}",
            pytrace=False,
        )
    pytest.fail("an invalid model compiled without error", pytrace=False)


@pytest.mark.parametrize("case", INVALID)
def test_invalid_raises_diffsl_error(case: dict[str, Any]) -> None:
    """Every invalid.json model raises DiffSLError at the reference's stage (parse / compile).

    X92 (``dudt`` depending on the state) crashes the reference with a panic; ours must still
    report a DiffSLError.
    """
    err = _raised(case)
    assert isinstance(err, ValueError)
    assert err.stage == case["stage"], str(err)
    assert err.diagnostics, "a DiffSLError must carry at least one diagnostic"
    message = str(err)
    for diagnostic in err.diagnostics:
        assert diagnostic.message in message
    if err.line is not None:
        assert err.line >= 1 and err.column is not None and err.column >= 1


def _oracle_parse_line(case: dict[str, Any]) -> int:
    """Line of a pest parse error, from the oracle message ``--> L:C``."""
    head = case["oracle_message"].split("-->", 1)[1]
    return int(head.split(":", 1)[0])


@pytest.mark.parametrize(
    "case", [p for p in INVALID if p.values[0] is None or p.values[0]["stage"] == "parse"]
)
def test_parse_error_line(case: dict[str, Any]) -> None:
    """Parse errors point at the same line as the reference (``--> L:C`` in oracle_message).

    Only the line is compared: a PEG parser (pest) and lark report the column of the failure
    at slightly different tokens.
    """
    err = _raised(case)
    assert err.line == _oracle_parse_line(case), str(err)
    assert err.column is not None


@requires_corpus
def test_invalid_messages_contain_expected_substrings() -> None:
    """At least 90 % of the invalid models give a message with *all* expected substrings.

    The substrings are those the reference's own message contains (``expect``); X92 has none
    and is left out of the fraction (it is checked by the per-case test above). Failing ids
    are printed so that the closing note can list them with reasons.
    """
    cases = [case for case in load("invalid") if case["expect"]]
    failing = []
    for case in cases:
        outcome = compile_outcome(case["text"])
        message = str(outcome) if isinstance(outcome, DiffSLError) else ""
        missing = [s for s in case["expect"] if s not in message]
        if missing:
            got = message or f"<no DiffSLError: {outcome!r}>"
            failing.append(f"{case['id']}: missing {missing}; got {got[:300]!r}")
    fraction = 1 - len(failing) / len(cases)
    print(f"expected substrings matched for {fraction:.1%} of {len(cases)} invalid models")
    for line in failing:
        print("  " + line)
    assert fraction >= 0.9, "\n".join(failing)


# ---------------------------------------------------------------------------- (d) Jacobians

#: Relative tolerance of the Jacobian checks (issue 2: "match central finite differences,
#: rtol 1e-6").
FD_RTOL = 1e-6
#: Relative steps of the central differences: h_j = step * max(1, |x_j|). The first is the
#: usual choice for double precision (truncation ~h^2 |F'''| / 6 ~ 1e-12, rounding
#: ~eps |F| / h). The larger ones are needed where rounding dominates: in Robertson's row
#: k1 x - k2 y z - k3 y^2 the terms are ~3e5 at the perturbed state while dF/dk1 = x ~ 0.8, so
#: h = 1e-6 leaves a rounding error of ~6e-6 in an entry of 0.8 (measured: FD 0.8121133 vs
#: exact x = 0.8121188), outside 1e-6. F is linear in k1, so a larger step has no truncation
#: error there. An entry passes if it agrees with the differences at *any* of these steps: a
#: wrong derivative rule (an O(1) error) agrees with none of them.
FD_STEPS = (1e-6, 1e-5, 1e-4, 1e-3)


def fd_jacobian(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, step: float = 1e-6
) -> np.ndarray:
    """Central finite differences of ``f`` at ``x``: column j = (f(x + h e_j) - f(x - h e_j)) / 2h.

    h_j = step * max(1, |x_j|), so the step stays relative for large entries (Robertson's 3e7,
    the 1000 of the PK models); the divisor is the representable difference of the two points.
    """
    x = np.asarray(x, dtype=np.float64)
    n_rows = np.asarray(f(x)).size
    columns = []
    for j in range(x.size):
        h = step * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        columns.append((np.asarray(f(up)) - np.asarray(f(down))) / (up[j] - down[j]))
    return np.column_stack(columns) if columns else np.zeros((n_rows, 0))


def assert_jacobian_close(
    jac: Any, f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, what: str
) -> None:
    """Each entry: |J - J_fd| <= FD_RTOL * (|J_fd| + row scale) for some step of FD_STEPS.

    The row scale (max |J_fd| over the row) covers entries that are tiny next to the others in
    their row: the rounding error of a finite difference grows with the size of F_i, i.e. with
    the large entries of row i, not with the entry itself. It is taken from the finite
    differences (the reference) rather than from J, so that a wrong J cannot widen its own
    tolerance.
    """
    jac = np.asarray(jac, dtype=np.float64)
    differences = [fd_jacobian(f, x, step) for step in FD_STEPS]
    assert jac.shape == differences[0].shape, f"{what}: shape {jac.shape}"
    ok = np.zeros(jac.shape, dtype=bool)
    for jac_fd in differences:
        scale = np.max(np.abs(jac_fd), axis=1, keepdims=True, initial=0.0)
        ok |= np.abs(jac - jac_fd) <= FD_RTOL * (np.abs(jac_fd) + scale)
    lines = [
        f"  [{i}, {j}]: exact {jac[i, j]!r}, finite differences "
        + ", ".join(f"{d[i, j]!r} (h={s:g})" for s, d in zip(FD_STEPS, differences, strict=True))
        for i, j in np.argwhere(~ok)
    ]
    assert not lines, f"{what} differs from central finite differences:\n" + "\n".join(lines)


def jacobian_points(case: dict[str, Any]) -> list[tuple[float, np.ndarray]]:
    """(t, y) pairs: the oracle y0 at t = 0, and a reproducibly perturbed y0 at t = 0.3."""
    y0 = oracle_state(case)
    rng = np.random.default_rng(zlib.crc32(case["id"].encode()))
    perturbed = y0 + 0.1 * (1.0 + np.abs(y0)) * rng.uniform(-1.0, 1.0, size=y0.shape)
    return [(0.0, y0), (0.3, perturbed)]


@pytest.mark.parametrize("case", MODELS)
def test_jacobian_matches_finite_differences(case: dict[str, Any]) -> None:
    """jacobian(p, t, y) (exact dF/du) vs central differences of rhs in y, at two points."""
    model = compiled(case["text"])
    p = params_of(case)
    for t, y in jacobian_points(case):
        jac = model.jacobian(p, t, y)
        assert np.shape(jac) == (model.n_states, model.n_states)
        rhs_of_y = lambda yy, t=t: model.rhs(p, t, yy)  # noqa: E731
        assert_jacobian_close(jac, rhs_of_y, y, f"dF/du at t={t}, y={y.tolist()}")


@pytest.mark.parametrize("case", MODELS)
def test_jacobian_p_matches_finite_differences(case: dict[str, Any]) -> None:
    """jacobian_p(p, t, y) (exact dF/dp) vs central differences of rhs in p, at two points."""
    model = compiled(case["text"])
    p = params_of(case)
    for t, y in jacobian_points(case):
        jac = model.jacobian_p(p, t, y)
        assert np.shape(jac) == (model.n_states, model.n_inputs)
        rhs_of_p = lambda pp, t=t, y=y: model.rhs(pp, t, y)  # noqa: E731
        assert_jacobian_close(jac, rhs_of_p, p, f"dF/dp at t={t}, y={y.tolist()}")

"""Code generation: a lowered model -> Python source of numba kernels.

The generated module defines the model bindings of ``docs/kernel-contract.md``. Only
tokens produced here appear in it: fixed keywords and helper names, temporaries ``v<id>``,
array subscripts with integer literals, and numbers re-rendered with ``repr(float)``. No
substring of the model text is ever pasted into the source (names are not needed at all:
states, inputs and temporaries are addressed by position).

Input-dependent nodes (depending only on ``in`` and ``N``) are computed once per parameter
set by ``prepare`` and stored in the workspace ``w``; constants are folded into literals;
everything else is recomputed in each kernel from its own arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffid_plugins.diffsl._analysis import LoweredModel
from diffid_plugins.diffsl._ir import DEP_N, DEP_P, DEP_T, Graph
from diffid_plugins.diffsl._ops import OPS

__all__ = ["GeneratedModel", "generate"]

_PRELUDE = """
_DEC = dict(cache=True, error_model="numpy")
# Model kernels are called from compiled code only (solvers, by name or by address): no
# Python or C wrappers, which are a third of a small kernel's compile time. Python calls go
# through the call_<name> functions at the end of the module.
_KERNEL = dict(_DEC, no_cpython_wrapper=True, no_cfunc_wrapper=True)


@njit(**_DEC)
def _h_heaviside(x):
    return 1.0 if x >= 0.0 else 0.0


@njit(**_DEC)
def _h_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@njit(**_DEC)
def _h_fmin(x, y):
    if y != y:
        return x
    if x != x:
        return y
    return x if x < y else y


@njit(**_DEC)
def _h_fmax(x, y):
    if y != y:
        return x
    if x != x:
        return y
    return x if x > y else y


@njit(**_DEC)
def _h_abs_d(x):
    return 1.0 if x > 0.0 else -1.0


@njit(**_DEC)
def _h_min_sel(x, y):
    return 1.0 if (y != y) or (x < y) else 0.0


@njit(**_DEC)
def _h_max_sel(x, y):
    return 1.0 if (y != y) or (x > y) else 0.0


@njit(**_DEC)
def _h_pow_dy(x, y):
    if x == 0.0:
        return 0.0
    return np.power(x, y) * np.log(x)


@njit(**_DEC)
def _h_idiv(a, b):
    if b == 0:
        return -(1 << 40)
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@njit(**_DEC)
def _h_imod(a, b):
    if b == 0:
        return -(1 << 40)
    return a - b * _h_idiv(a, b)


@njit(**_DEC)
def _h_segment(xs, q):
    n = xs.shape[0]
    k = np.searchsorted(xs, q, side="right") - 1
    return min(max(k, 0), n - 2)


@njit(**_DEC)
def _h_interp(xs, ys, q):
    n = xs.shape[0]
    if q != q:
        return np.nan
    if n == 1 or q <= xs[0]:
        return ys[0]
    if q >= xs[n - 1]:
        return ys[n - 1]
    k = _h_segment(xs, q)
    return ys[k] + (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k]) * (q - xs[k])


@njit(**_DEC)
def _h_interp_slope(xs, ys, q):
    n = xs.shape[0]
    if n == 1 or q != q or q <= xs[0] or q >= xs[n - 1]:
        return 0.0
    k = _h_segment(xs, q)
    return (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k])
"""


def literal(value: float) -> str:
    """Render a float so that Python reads back exactly the same double."""
    if value != value:
        return "np.nan"
    if value in (float("inf"), float("-inf")):
        return "np.inf" if value > 0 else "(-np.inf)"
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


@dataclass
class GeneratedModel:
    """Generated source plus the facts the Python wrapper needs."""

    source: str
    n_states: int
    n_inputs: int
    n_outputs: int
    n_stop: int
    n_work: int
    has_mass: bool
    mass_time_dependent: bool
    has_reset: bool
    algebraic: tuple[bool, ...]
    tensor_offsets: dict[str, tuple[int, tuple[int, ...]]]
    n_tensor_buffer: int


class _Emitter:
    def __init__(self, lm: LoweredModel) -> None:
        self.lm = lm
        self.g: Graph = lm.graph
        self.n_inputs = len(lm.default_inputs)
        self.slots: dict[int, int] = {}
        self.lines: list[str] = []

    def is_input_only(self, nid: int) -> bool:
        node = self.g.nodes[nid]
        return node.kind != "const" and node.kind != "var" and not node.deps & ~(DEP_P | DEP_N)

    # ---------------------------------------------------------------- expressions
    def ref(self, nid: int, in_prepare: bool) -> str:
        node = self.g.nodes[nid]
        if node.kind == "const":
            return literal(self.g.value(nid))
        if node.kind == "var":
            name, idx = node.key[1], node.key[2]
            return {
                "t": "t",
                "N": f"w[{self.n_inputs}]",
                "u": f"y[{idx}]",
                "dudt": f"dudt[{idx}]",
                "p": f"w[{idx}]",
            }[name]
        if not in_prepare and self.is_input_only(nid):
            if nid not in self.slots:
                self.slots[nid] = self.n_inputs + 1 + len(self.slots)
            return f"w[{self.slots[nid]}]"
        return f"v{nid}"

    def int_code(self, e: tuple) -> str:
        tag = e[0]
        if tag == "lit":
            return str(int(e[1]))
        if tag == "N":
            return "_N"
        if tag == "neg":
            return f"(-{self.int_code(e[1])})"
        a, b = self.int_code(e[1]), self.int_code(e[2])
        if tag == "/":
            return f"_h_idiv({a}, {b})"
        if tag == "%":
            return f"_h_imod({a}, {b})"
        return f"({a} {tag} {b})"

    def needed(self, outputs: list[int], in_prepare: bool) -> list[int]:
        seen: set[int] = set()
        stack = list(outputs)
        while stack:
            nid = stack.pop()
            if nid in seen:
                continue
            node = self.g.nodes[nid]
            if node.kind in ("const", "var"):
                continue
            if not in_prepare and self.is_input_only(nid):
                continue
            seen.add(nid)
            stack.extend(self.children(nid))
        return sorted(seen)

    def children(self, nid: int) -> list[int]:
        node = self.g.nodes[nid]
        if node.kind == "op":
            return list(node.key[2:])
        if node.kind == "select":
            return list(node.key[2])
        if node.kind == "interp":
            return [node.key[2]]
        return []

    def body(self, assigns: list[tuple[str, int]], in_prepare: bool = False) -> list[str]:
        """Statements computing ``target = node`` for each pair, in dependency order."""
        out: list[str] = []
        order = self.needed([n for _, n in assigns], in_prepare)
        uses_n = any(self.g.nodes[n].kind == "select" for n in order)
        if uses_n and not in_prepare:
            out.append(f"_N = int(w[{self.n_inputs}])")
        for nid in order:
            out.extend(self.statement(nid, in_prepare))
        out.extend(f"{target} = {self.ref(nid, in_prepare)}" for target, nid in assigns)
        return out

    def statement(self, nid: int, in_prepare: bool) -> list[str]:
        node = self.g.nodes[nid]
        r = lambda a: self.ref(a, in_prepare)  # noqa: E731
        if node.kind == "op":
            args = [r(a) for a in node.key[2:]]
            return [f"v{nid} = " + OPS[node.key[1]].template.format(*args)]
        if node.kind == "interp":
            fn = "_h_interp" if node.key[0] == "interp" else "_h_interp_slope"
            t = node.key[1]
            return [f"v{nid} = {fn}(_TX{t}, _TY{t}, {r(node.key[2])})"]
        index, table = node.key[1], node.key[2]
        items = ", ".join(r(a) for a in table) + ("," if len(table) == 1 else "")
        return [
            f"k{nid} = {self.int_code(index)}",
            f"v{nid} = ({items})[k{nid}] if 0 <= k{nid} < {len(table)} else np.nan",
        ]

    # ---------------------------------------------------------------- functions
    def function(self, header: str, doc: str, lines: list[str], options: str = "_KERNEL") -> None:
        """Emit an ``@njit`` function (a wrapper-less kernel unless ``options`` says so)."""
        self.lines.append("")
        self.lines.append("")
        self.lines.append(f"@njit(**{options})")
        self.lines.append(f"def {header}:")
        self.lines.append(f'    """{doc}"""')
        self.lines.extend("    " + ln for ln in lines)
        if not lines:
            self.lines.append("    return")


def _matrix_entries(g: Graph, rows: list[int], wrt: str) -> dict[tuple[int, int], int]:
    entries: dict[tuple[int, int], int] = {}
    for i, nid in enumerate(rows):
        for j, d in g.derivative(nid, wrt).items():
            if d != g.zero:
                entries[(i, j)] = d
    return entries


_PYTHON_ENTRIES = (
    ("prepare", "p, N, w"),
    ("u0", "w, y"),
    ("rhs", "t, y, w, dy"),
    ("jac", "t, y, w, J"),
    ("jac_p", "t, y, w, Jp"),
    ("mass", "t, w, M"),
    ("out", "t, y, w, o"),
    ("stop", "t, y, w, g"),
    ("reset", "t, y, w, ynew"),
)
"""Kernels with a Python-callable twin ``call_<name>`` (compiled only when called)."""


def generate(lm: LoweredModel, version: str) -> GeneratedModel:
    """Generate the model module source for a lowered model."""
    em = _Emitter(lm)
    g = lm.graph
    n = lm.n_states
    n_in = len(lm.default_inputs)
    states = [g.var("u", i) for i in range(n)]
    outputs = lm.outputs if lm.outputs is not None else states
    # `out` that is exactly the state vector (absent, or `out_i { x, y }` in state order)
    outputs_are_states = [int(o) for o in outputs] == [int(u) for u in states]
    jac = _matrix_entries(g, lm.rhs, "u")
    jac_p = _matrix_entries(g, lm.rhs, "p")
    mass: dict[tuple[int, int], int] = {}
    if lm.mass_expr is not None:
        mass = _matrix_entries(g, lm.mass_expr, "dudt")
    algebraic = tuple(
        lm.mass_expr is not None and not any(i == r for r, _ in mass) for i in range(n)
    )
    mass_td = any(g.nodes[d].deps & DEP_T for d in mass.values())
    rhs_td = any(g.nodes[int(d)].deps & DEP_T for d in lm.rhs)

    em.function(
        "u0(w, y)",
        "Initial state y (n_states,) from the prepared workspace w.",
        em.body([(f"y[{i}]", nid) for i, nid in enumerate(lm.state_init)]),
    )
    em.function(
        "rhs(t, y, w, dy)",
        "Right-hand side F(t, y) into dy (n_states,).",
        em.body([(f"dy[{i}]", nid) for i, nid in enumerate(lm.rhs)]),
    )
    em.function(
        "jac(t, y, w, J)",
        "Exact Jacobian dF/dy into J (n_states, n_states).",
        ["J[:, :] = 0.0"] + em.body([(f"J[{i}, {j}]", d) for (i, j), d in sorted(jac.items())]),
    )
    em.function(
        "jac_p(t, y, w, Jp)",
        "Exact Jacobian dF/dp into Jp (n_states, n_inputs).",
        ["Jp[:, :] = 0.0"]
        + em.body([(f"Jp[{i}, {j}]", d) for (i, j), d in sorted(jac_p.items())]),
    )
    if lm.mass_expr is None:
        mass_lines = ["M[:, :] = 0.0"] + [f"M[{i}, {i}] = 1.0" for i in range(n)]
    else:
        mass_lines = ["M[:, :] = 0.0"] + em.body(
            [(f"M[{i}, {j}]", d) for (i, j), d in sorted(mass.items())]
        )
    em.function("mass(t, w, M)", "Mass matrix into M (n_states, n_states).", mass_lines)
    em.function(
        "out(t, y, w, o)",
        "Outputs into o (n_outputs,).",
        em.body([(f"o[{i}]", nid) for i, nid in enumerate(outputs)]),
    )
    em.function(
        "stop(t, y, w, g)",
        "Root functions into g (n_stop,).",
        em.body([(f"g[{i}]", nid) for i, nid in enumerate(lm.stop)]),
    )
    reset_nodes = lm.reset if lm.reset is not None else [g.var("u", i) for i in range(n)]
    em.function(
        "reset(t, y, w, ynew)",
        "State after a root into ynew (n_states,).",
        em.body([(f"ynew[{i}]", nid) for i, nid in enumerate(reset_nodes)]),
    )
    offsets: dict[str, tuple[int, tuple[int, ...]]] = {}
    assigns: list[tuple[str, int]] = []
    pos = 0
    for name, arr in lm.tensors.items():
        offsets[name] = (pos, tuple(int(s) for s in arr.shape))
        for k, nid in enumerate(arr.flat):
            assigns.append((f"buf[{pos + k}]", int(nid)))
        pos += int(arr.size)
    em.function(
        "eval_tensors(t, y, dudt, w, buf)",
        "Every named tensor, flattened, into buf.",
        em.body(assigns),
        options="_DEC",
    )
    # prepare last: it must compute every input-only node the other kernels read from w
    slot_assigns = [(f"w[{slot}]", nid) for nid, slot in sorted(em.slots.items())]
    prep = [f"for k in range({n_in}):", "    w[k] = p[k]", f"w[{n_in}] = float(N)"]
    if any(g.nodes[nid].kind == "select" for nid in em.needed([s[1] for s in slot_assigns], True)):
        prep.append("_N = N")
    prep += em.body(slot_assigns, in_prepare=True)
    em.function("prepare(p, N, w)", "Copy inputs p and model index N into w; precompute.", prep)
    for name, args in _PYTHON_ENTRIES:
        em.function(
            f"call_{name}({args})",
            f"``{name}`` callable from Python.",
            [f"{name}({args})"],
            "_DEC",
        )

    n_work = n_in + 1 + len(em.slots)
    header = [
        f"# Generated by diffid_plugins {version} from a DiffSL model. Do not edit.",
        "import numpy as np",
        "from numba import njit",
        "",
        f"N_STATES = {n}",
        f"N_INPUTS = {n_in}",
        f"N_OUTPUTS = {len(outputs)}",
        f"N_STOP = {len(lm.stop)}",
        f"N_WORK = {n_work}",
        f"HAS_MASS = {lm.mass_expr is not None}",
        f"MASS_TIME_DEPENDENT = {mass_td}",
        f"RHS_DEPENDS_ON_T = {rhs_td}",
        "SOLVER_HAS_STIFF = True",
        f"OUTPUTS_ARE_STATES = {outputs_are_states}",
        f"HAS_RESET = {lm.reset is not None}",
        f"ALGEBRAIC = {algebraic!r}",
        f"N_TENSOR_BUFFER = {pos}",
    ]
    for k, (xs, ys) in enumerate(g.tables):
        header.append(f"_TX{k} = np.array([{', '.join(literal(x) for x in xs)}])")
        header.append(f"_TY{k} = np.array([{', '.join(literal(y) for y in ys)}])")
    source = "\n".join(header) + "\n" + _PRELUDE + "\n".join(em.lines) + "\n"
    return GeneratedModel(
        source=source,
        n_states=n,
        n_inputs=n_in,
        n_outputs=len(outputs),
        n_stop=len(lm.stop),
        n_work=n_work,
        has_mass=lm.mass_expr is not None,
        mass_time_dependent=mass_td,
        has_reset=lm.reset is not None,
        algebraic=algebraic,
        tensor_offsets=offsets,
        n_tensor_buffer=pos,
    )


__all__ += ["literal"]
_ = np  # numpy is used by the generated code, imported here for the type checker's sake

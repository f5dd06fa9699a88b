"""Butcher tableaus of the explicit Runge-Kutta pairs, as validated data.

Each :class:`ButcherTableau` checks its own identities when the module is imported (row sums
of ``a`` equal ``c``, quadrature conditions of the propagating weights up to the method's
order, error weights sum to zero, the dense-output polynomials reproduce ``b`` at theta = 1
and the identity at theta = 0) and *derives* the FSAL property instead of declaring it
(diffrax ``ButcherTableau.__post_init__``; scipy ``test_coefficient_properties``).

The numba kernels in ``_erk.py`` read the coefficients from :data:`DOPRI5` and :data:`TSIT5`
into module-level floats, so the values below are the single source of truth.

References
----------
.. [1] J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae", Journal of
       Computational and Applied Mathematics 6(1), 19-26, 1980.
.. [2] L. F. Shampine, "Some practical Runge-Kutta formulas", Mathematics of Computation
       46(173), 135-150, 1986 (the 4th-order continuous extension of DOPRI5, as in scipy
       ``RK45`` and Hairer's ``CONTD5``).
.. [3] Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column
       simplifying assumption", Computers & Mathematics with Applications 62(2), 770-775,
       2011 (coefficients and interpolant as in OrdinaryDiffEq.jl / diffrax).
.. [4] E. Hairer, S. P. Norsett, G. Wanner, "Solving Ordinary Differential Equations I",
       2nd ed., Springer 1993, Sec. II.1-II.6.
.. [5] G. Steinebach, "Construction of Rosenbrock-Wanner method Rodas5P and numerical
       benchmarks within the Julia Differential Equations package", BIT Numerical Mathematics
       63, 27 (2023) (Rodas5P's coefficients, transformed form).
.. [6] E. Hairer, G. Wanner, "Solving Ordinary Differential Equations II", 2nd ed.,
       Springer 1996, Sec. IV.7 (the transformed Rosenbrock formulation).

The Rosenbrock method used for stiff problems (``_rosenbrock.py``) is :data:`RODAS5P`, a
:class:`RosenbrockTableau` that checks its identities when the module is imported as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["DOPRI5", "RODAS5P", "TSIT5", "ButcherTableau", "RosenbrockTableau"]

_TOL = 1e-13  # coefficients are double-rounded decimals (Tsit5) or exact rationals (DOPRI5)


def _frozen(x: object, ndim: int) -> NDArray[np.float64]:
    arr = np.array(x, dtype=np.float64, ndmin=ndim)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class _Method:
    """What every tableau has: its name and the order of its propagating solution."""

    name: str
    order: int


@dataclass(frozen=True)
class ButcherTableau(_Method):
    """An explicit embedded Runge-Kutta pair with a continuous extension.

    Stages are numbered 0..s-1; for an FSAL pair the last stage is f(t + h, y_new).

    Parameters
    ----------
    name : str
    order : int
        Order of the propagating solution.
    c : array, shape (s,)
        Nodes.
    a : array, shape (s, s)
        Strictly lower-triangular stage matrix.
    b : array, shape (s,)
        Weights of the propagating solution, y_new = y + h * sum_i b_i k_i.
    e : array, shape (s,)
        Error weights: the local error estimate is h * sum_i e_i k_i (difference between
        the embedded and the propagating solution).
    dense : array, shape (s, d)
        Continuous extension: y(t + theta h) = y + h * sum_i b_i(theta) k_i with
        b_i(theta) = sum_j dense[i, j] * theta**(j + 1).
    stability_limit : float
        Threshold on h * |lambda| used by the stiffness test ([4] Sec. IV.2): about the
        method's stability boundary on the negative real axis.

    Attributes
    ----------
    n_stages : int
    fsal : bool
        Derived: the last row of ``a`` equals ``b`` and ``c[-1] == 1``.
    error_order : int
        Order of the embedded solution (``order - 1``), used in the controller exponent.
    """

    c: NDArray[np.float64]
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    e: NDArray[np.float64]
    dense: NDArray[np.float64]
    stability_limit: float
    n_stages: int = field(init=False)
    fsal: bool = field(init=False)
    error_order: int = field(init=False)

    def __post_init__(self) -> None:
        # Developer-written constants: assert is the right tool (style guide rule 3).
        c, a, b = _frozen(self.c, 1), _frozen(self.a, 2), _frozen(self.b, 1)
        e, dense = _frozen(self.e, 1), _frozen(self.dense, 2)
        s = c.shape[0]
        assert a.shape == (s, s), f"{self.name}: a must be ({s}, {s}), got {a.shape}"
        assert b.shape == e.shape == (s,), f"{self.name}: b and e must have length {s}"
        assert dense.shape[0] == s, f"{self.name}: dense must have {s} rows"
        assert np.all(np.triu(a) == 0.0), f"{self.name}: a must be strictly lower triangular"
        assert np.allclose(a.sum(axis=1), c, rtol=0, atol=_TOL), f"{self.name}: sum_j a_ij != c_i"
        assert abs(e.sum()) < _TOL, f"{self.name}: error weights must sum to 0"
        # Quadrature conditions sum_i b_i c_i^(k-1) = 1/k, k = 1..order ([4] Sec. II.1).
        for k in range(1, self.order + 1):
            assert abs(b @ c ** (k - 1) - 1.0 / k) < _TOL, f"{self.name}: quadrature k={k}"
        # Order-3 tree conditions: sum b_i a_ij c_j = 1/6, sum b_i c_i a_ij c_j = 1/8.
        assert abs(b @ a @ c - 1.0 / 6.0) < _TOL, f"{self.name}: tree condition 1/6"
        assert abs((b * c) @ a @ c - 1.0 / 8.0) < _TOL, f"{self.name}: tree condition 1/8"
        # The embedded solution (b + e) has order order - 1: its quadrature conditions hold.
        for k in range(1, self.order):
            assert abs((b + e) @ c ** (k - 1) - 1.0 / k) < _TOL, f"{self.name}: embedded k={k}"
        # Continuous extension: b_i(0) = 0 by construction, b_i(1) = b_i, sum_i b_i(theta) = theta.
        assert np.allclose(dense.sum(axis=1), b, rtol=0, atol=_TOL), f"{self.name}: b_i(1) != b_i"
        col = dense.sum(axis=0)
        assert abs(col[0] - 1.0) < _TOL and np.all(np.abs(col[1:]) < _TOL), (
            f"{self.name}: sum_i b_i(theta) != theta"
        )
        fsal = bool(c[-1] == 1.0 and np.allclose(a[-1], b, rtol=0, atol=0.0) and b[-1] == 0.0)
        for name, value in (("c", c), ("a", a), ("b", b), ("e", e), ("dense", dense)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "n_stages", s)
        object.__setattr__(self, "fsal", fsal)
        object.__setattr__(self, "error_order", self.order - 1)
        assert math.isfinite(self.stability_limit) and self.stability_limit > 0


def _tableau(
    *,
    name: str,
    order: int,
    c: object,
    a: object,
    b: object,
    e: object,
    dense: object,
    stability_limit: float,
) -> ButcherTableau:
    """Build a :class:`ButcherTableau` from nested sequences of numbers."""
    return ButcherTableau(
        name=name,
        order=order,
        c=_frozen(c, 1),
        a=_frozen(a, 2),
        b=_frozen(b, 1),
        e=_frozen(e, 1),
        dense=_frozen(dense, 2),
        stability_limit=stability_limit,
    )


# --- Dormand-Prince 5(4) [1], with Shampine's continuous extension [2] ------------------------
DOPRI5 = _tableau(
    name="dopri5",
    order=5,
    c=[0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0],
    a=[
        [0, 0, 0, 0, 0, 0, 0],
        [1 / 5, 0, 0, 0, 0, 0, 0],
        [3 / 40, 9 / 40, 0, 0, 0, 0, 0],
        [44 / 45, -56 / 15, 32 / 9, 0, 0, 0, 0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0, 0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0, 0],
        [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
    ],
    b=[35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
    # e = b_hat - b: the 4th-order embedded weights minus the 5th-order ones (scipy RK45.E).
    e=[-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40],
    # Columns: coefficients of theta, theta^2, theta^3, theta^4 (scipy RK45.P).
    dense=[
        [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
        [0, 0, 0, 0],
        [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
        [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
        [
            0,
            127303824393 / 49829197408,
            -318862633887 / 49829197408,
            701980252875 / 199316789632,
        ],
        [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
        [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
    ],
    stability_limit=3.25,  # Hairer's dopri5.f stiffness test threshold ([4] Sec. IV.2)
)

# --- Tsitouras 5(4) [3] -------------------------------------------------------------------------
_T_A7 = [
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
    0.0,
]
TSIT5 = _tableau(
    name="tsit5",
    order=5,
    c=[0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0],
    a=[
        [0, 0, 0, 0, 0, 0, 0],
        [0.161, 0, 0, 0, 0, 0, 0],
        [-0.008480655492356989, 0.335480655492357, 0, 0, 0, 0, 0],
        [2.897153057105493, -6.359448489975075, 4.3622954328695815, 0, 0, 0, 0],
        [
            5.325864828439257,
            -11.748883564062828,
            7.4955393428898365,
            -0.09249506636175525,
            0,
            0,
            0,
        ],
        [
            5.86145544294642,
            -12.92096931784711,
            8.159367898576159,
            -0.071584973281401,
            -0.028269050394068383,
            0,
            0,
        ],
        _T_A7,
    ],
    b=_T_A7,
    # e = b_hat - b (OrdinaryDiffEq's btilde).
    e=[
        -0.00178001105222577714,
        -0.0008164344596567469,
        0.007880878010261995,
        -0.1447110071732629,
        0.5823571654525552,
        -0.45808210592918697,
        0.015151515151515152,
    ],
    # b_i(theta) = sum_j r_ij theta^j ([3] interpolant; OrdinaryDiffEq Tsit5Interp).
    dense=[
        [1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
        [0.0, 0.13169999999999998, -0.2234, 0.1017],
        [0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
        [0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
        [0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
        [0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
        [0.0, 1.5, -4.0, 2.5],
    ],
    stability_limit=3.25,  # Tsit5's real stability boundary is ~3.31 (OrdinaryDiffEq)
)


# --- Rodas5P [5], transformed form [6] ----------------------------------------------------------
@dataclass(frozen=True)
class RosenbrockTableau(_Method):
    """A Rosenbrock-Wanner method in the transformed form of [6] Sec. IV.7.

    Stages ``(M/(gamma h) - J) k_i = f(t + c_i h, U_i) + M sum_j (C_ij / h) k_j + d_i h f_t``
    with ``U_i = y0 + sum_j a_ij k_j``; the solution is ``U_s`` (stiffly accurate) and the
    embedded one ``U_{s-1}``.

    Parameters
    ----------
    name : str
    order : int
    gamma : float
        The diagonal of the (untransformed) Gamma matrix.
    a, coupling : array, shape (s, s)
        Strictly lower-triangular stage-argument and coupling (``C``) matrices.
    c, d : array, shape (s,)
        Nodes (row sums of alpha) and df/dt weights (row sums of Gamma).
    dense : array, shape (3, s)
        Continuous extension: ``K_m = sum_j dense[m, j] k_j``.

    Raises
    ------
    RuntimeError
        If an identity fails (an internal error: the coefficients are wrong).
    """

    gamma: float
    a: NDArray[np.float64]
    coupling: NDArray[np.float64]
    c: NDArray[np.float64]
    d: NDArray[np.float64]
    dense: NDArray[np.float64]
    n_stages: int = field(init=False)

    def __post_init__(self) -> None:
        for name, ndim in (("a", 2), ("coupling", 2), ("c", 1), ("d", 1), ("dense", 2)):
            object.__setattr__(self, name, _frozen(getattr(self, name), ndim))  # read-only copies
        s = self.a.shape[0]
        object.__setattr__(self, "n_stages", s)
        # With Gamma = (diag(1/gamma) - C)^-1: alpha = a Gamma, b = m Gamma (m: the last row
        # of a with m_s = 1), b_hat = a[s-1] Gamma ([6] IV.7).
        gam = np.linalg.inv(np.eye(s) / self.gamma - self.coupling)
        alpha = self.a @ gam
        b = np.append(self.a[s - 1, : s - 1], 1.0) @ gam
        b_hat = self.a[s - 1] @ gam
        checks = {
            "shapes": 0.0
            if self.coupling.shape == (s, s)
            and self.c.shape == self.d.shape == (s,)
            and self.dense.shape == (3, s)
            else math.inf,
            "c == row sums of alpha": float(np.max(np.abs(alpha.sum(axis=1) - self.c))),
            "d == row sums of Gamma": float(np.max(np.abs(gam.sum(axis=1) - self.d))),
            "sum(b) == 1": abs(float(b.sum()) - 1.0),
            "sum(b_hat) == 1": abs(float(b_hat.sum()) - 1.0),
            "a, C strictly lower": float(
                np.max(np.abs(np.triu(self.a))) + np.max(np.abs(np.triu(self.coupling)))
            ),
            "stiffly accurate (c_s == 1)": abs(float(self.c[s - 1]) - 1.0),
        }
        # Typos in coefficients show up as 1e-3 and more. The float64 identities hold to
        # ~6e-15 exactly, and np.linalg.inv of the (condition 2.6e3) matrix adds up to ~3e-12
        # depending on the BLAS/LAPACK kernel (tests/solvers/test_stiff.py measures it with
        # exact fractions), so 1e-10 never trips on a correct tableau on any machine.
        for check, value in checks.items():
            if not value < 1e-10:
                raise RuntimeError(
                    f"internal: {self.name} tableau check failed: {check} ({value:.3g})."
                )


def _rodas5p() -> RosenbrockTableau:
    """Rodas5P's coefficients ([5]; the numbers of OrdinaryDiffEq.jl's tableau)."""
    _RP_GAMMA = 0.21193756319429014
    _RP_A = np.zeros((8, 8))  # a_ij: stage arguments U_i = y0 + sum a_ij k_j
    _RP_A[1, :1] = [3.0]
    _RP_A[2, :2] = [2.849394379747939, 0.45842242204463923]
    _RP_A[3, :3] = [-6.954028509809101, 2.489845061869568, -10.358996098473584]
    _RP_A[4, :4] = [
        2.8029986275628964,
        0.5072464736228206,
        -0.3988312541770524,
        -0.04721187230404641,
    ]
    _RP_A[5, :5] = [
        -7.502846399306121,
        2.561846144803919,
        -11.627539656261098,
        -0.18268767659942256,
        0.030198172008377946,
    ]
    _RP_A[6, :5] = _RP_A[5, :5]  # stiffly accurate: U_7 = U_6 + k_6, U_8 = U_7 + k_7
    _RP_A[6, 5] = 1.0
    _RP_A[7, :6] = _RP_A[6, :6]
    _RP_A[7, 6] = 1.0
    _RP_C = np.zeros((8, 8))  # C_ij: coupling M sum_j (C_ij / h) k_j
    _RP_C[1, :1] = [-14.155112264123755]
    _RP_C[2, :2] = [-17.97296035885952, -2.859693295451294]
    _RP_C[3, :3] = [147.12150275711716, -1.41221402718213, 71.68940251302358]
    _RP_C[4, :4] = [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306]
    _RP_C[5, :5] = [
        24.854864614690072,
        -3.0009227002832186,
        47.4931110020768,
        5.5814197821558125,
        -0.6610691825249471,
    ]
    _RP_C[6, :6] = [
        30.91273214028599,
        -3.1208243349937974,
        77.79954646070892,
        34.28646028294783,
        -19.097331116725623,
        -28.087943162872662,
    ]
    _RP_C[7, :7] = [
        37.80277123390563,
        -3.2571969029072276,
        112.26918849496327,
        66.9347231244047,
        -40.06618937091002,
        -54.66780262877968,
        -9.48861652309627,
    ]
    # nodes c_i (= row sums of alpha) and d_i (= row sums of Gamma), the df/dt weights
    _RP_CN = np.array(
        [0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664]
        + [1.0, 1.0, 1.0]
    )
    _RP_D = np.array(
        [0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734]
        + [2.325825639765069, 0.0, 0.0, 0.0]
    )
    # dense output: K_m = sum_j H[m, j] k_j (rows h2*, h3*, h4* of [1])
    _RP_H = np.array(
        [
            [25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204]
            + [0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
            [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796]
            + [20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372],
            [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643]
            + [-52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722],
        ]
    )
    return RosenbrockTableau(
        name="rodas5p",
        order=5,
        gamma=_RP_GAMMA,
        a=_RP_A,
        coupling=_RP_C,
        c=_RP_CN,
        d=_RP_D,
        dense=_RP_H,
    )


RODAS5P = _rodas5p()

"""The seed tutorial problem (diffid's parallel-optimisation tutorial), for tests, the example
and ``benchmarks/batch.py``.

Lotka-Volterra, ``dx/dt = a x - b x y``, ``dy/dt = d x y - g y``, x(0) = 10, y(0) = 5, true
parameters (a, b, d, g) = (1.1, 0.4, 0.1, 0.4); 500 data times on [0, 100]; data from scipy's
``solve_ivp`` (RK45 at its default tolerances, as the tutorial does) plus Gaussian noise of
standard deviation 0.3 drawn after ``np.random.seed(42)`` (``docs/performance-notes.md``).
The model text is the bundled ``diffid_plugins/examples/lotka_volterra.ds``.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "TUTORIAL_BOX",
    "TUTORIAL_TRUE",
    "tutorial_data",
    "tutorial_text",
]

TUTORIAL_TRUE = np.array([1.1, 0.4, 0.1, 0.4])
"""True parameters (a, b, d, g) used to make the data."""

TUTORIAL_BOX = np.array([[0.5, 2.0], [0.1, 1.0], [0.01, 0.5], [0.1, 1.0]])
"""The search box of issue 4's stress batch, shape (4, 2): (lower, upper) per parameter."""


def tutorial_text() -> str:
    """DiffSL text of the tutorial's Lotka-Volterra model (inputs a, b, d, g; outputs x, y).

    The bundled file without its ``//`` comment lines: diffid 0.3.0's DiffSL parser rejects a
    model that starts with a comment, and the benchmark feeds the same text to both.
    """
    text = (resources.files("diffid_plugins.examples") / "lotka_volterra.ds").read_text()
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("//")
    )


def tutorial_data(n_times: int = 500, noise: float = 0.3, seed: int = 42) -> NDArray[np.float64]:
    """The tutorial's synthetic data, shape (n_times, 3): columns t, x, y.

    Made as the tutorial makes it: scipy ``solve_ivp`` with default settings (RK45, rtol 1e-3)
    at the true parameters, then ``np.random.seed(seed)`` and
    ``np.random.normal(0, noise, (n_times, 2))`` added (drawn from an equivalent private
    ``RandomState``, so numpy's global random state is left unchanged).
    """
    from scipy.integrate import solve_ivp

    a, b, d, g = TUTORIAL_TRUE

    def rhs(t: float, u: NDArray[np.float64]) -> list[float]:
        x, y = u
        return [a * x - b * x * y, d * x * y - g * y]

    t = np.linspace(0.0, 100.0, n_times)
    sol = solve_ivp(rhs, (0.0, 100.0), [10.0, 5.0], t_eval=t)
    # RandomState(seed) draws the same stream as the tutorial's np.random.seed(seed) followed by
    # np.random.normal, without touching numpy's global random state.
    rng = np.random.RandomState(seed)  # noqa: NPY002 (reproduces the legacy seeded stream)
    observed = sol.y.T + rng.normal(0.0, noise, sol.y.T.shape)
    return np.column_stack([t, observed])

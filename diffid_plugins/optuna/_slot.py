"""One CMA-ES engine on one search space and island, with its open generation.

A :class:`Slot` is what both the sampler (trial by trial) and the batch driver (a generation
at a time) hold: the :class:`~diffid_plugins.optim.RestartingCMA` engine, the numeric space it
samples, the rows of the generation asked and not yet told, and which of them have results.
A generation is told to the engine as soon as every row has a result (failures are ``inf``).

Storage layout (``store_state_in_storage=True``): after every tell the engine's
``state_dict()`` is written to the study's system attributes under
``diffid_cma:<island>:<space signature>`` as ``{"names": [...], "engine": state}`` (JSON;
a few kB for d <= 10, written once per generation, never per trial). Each trial sampled from
an engine carries one system attribute ``diffid_cma`` = ``{"island", "run", "generation",
"popsize", "row"}`` (``run`` counts restarts: it grows, with ``popsize`` under IPOP, when the
engine restarts). Rows of a scout generation (uniform draws in the box that choose the mean of
the next run, ``RestartingCMA(scout=...)``) also carry ``"scout": 1``; their ``run`` is the
run they start and ``popsize`` the number of draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from diffid_plugins.optuna._space import NumericSpace

__all__ = ["ATTR", "Slot", "engine_seed", "state_key"]

#: Trial system attribute holding a trial's engine coordinates.
ATTR = "diffid_cma"


def state_key(island: int, signature: str) -> str:
    """Study system attribute name of an island's engine state on a space."""
    return f"{ATTR}:{island}:{signature}"


def engine_seed(seed: int, island: int, stream: int = 0) -> int:
    """A 32-bit seed derived from the sampler seed, the island and a stream number."""
    state = np.random.SeedSequence([seed, island, stream]).generate_state(1)
    return int(state[0])


class Slot:
    """An engine, its space and its open generation.

    Parameters
    ----------
    space : NumericSpace
    engine : RestartingCMA
    island : int
    """

    def __init__(self, space: NumericSpace, engine: Any, island: int) -> None:
        self.space = space
        self.engine = engine
        self.island = island
        self.X: NDArray[np.float64] | None = None  # (popsize, d) open generation
        self.values: NDArray[np.float64] | None = None  # (popsize,) results, failures inf
        self.known: NDArray[np.bool_] | None = None  # (popsize,) which rows have a result
        self.todo: list[int] = []  # rows of the open generation not handed out yet
        self.serial = 0  # generations opened by this slot (tells stale results apart)
        self.tag: dict[str, int] = {}  # the diffid_cma attribute of the open generation
        self.surplus = 0  # trials asked while every row of the open generation was out
        self.start: NDArray[np.float64] | None = None  # first mean (d,), for a new engine
        self.needs_scan = False  # loaded from storage: adopt rows recorded by a previous run

    @property
    def done(self) -> bool:
        """True when the engine has stopped for good (its last allowed run ended)."""
        return bool(self.engine.done)

    def open(self) -> bool:
        """Ask a new generation if none is open; False when the engine is done."""
        if self.X is not None:
            return True
        if self.done:
            return False
        X = np.asarray(self.engine.ask(), dtype=np.float64)
        self.X = X
        self.values = np.full(len(X), np.inf)
        self.known = np.zeros(len(X), dtype=bool)
        self.todo = list(range(len(X)))
        self.serial += 1
        self.surplus = 0
        self.tag = {
            "island": self.island,
            "run": int(self.engine.n_restarts),
            "generation": int(self.engine.generation),
            "popsize": len(X),
        }
        if getattr(self.engine, "scouting", False):
            self.tag["scout"] = 1
        return True

    def take(self, k: int) -> list[int]:
        """Hand out up to ``k`` rows of the open generation (opened if needed)."""
        if not self.open():
            return []
        rows, self.todo = self.todo[:k], self.todo[k:]
        return rows

    def take_rows(self, rows: list[int]) -> None:
        """Mark rows of the open generation as handed out."""
        drop = set(rows)
        self.todo = [r for r in self.todo if r not in drop]

    def attrs(self, row: int) -> dict[str, int]:
        """The ``diffid_cma`` trial attribute of a row of the open generation."""
        return {**self.tag, "row": row}

    def record(self, row: int, value: float) -> bool:
        """Store a row's result (``inf`` = failed); tell the engine when the generation is
        complete. Returns True when it told."""
        assert self.values is not None and self.known is not None
        self.values[row] = value if math.isfinite(value) else math.inf
        self.known[row] = True
        if self.known.all():
            self.tell()
            return True
        return False

    def tell(self) -> None:
        """Tell the open generation (rows without a result count as failures) and close it."""
        assert self.X is not None and self.values is not None
        self.engine.tell(self.X, self.values)
        self.X = self.values = self.known = None
        self.todo = []

    def to_storage(self) -> dict[str, Any]:
        """The value stored in the study's system attributes (JSON)."""
        return {"names": self.space.names, "engine": self.engine.state_dict()}

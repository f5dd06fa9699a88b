"""``RestartingCMA.state_dict`` / ``from_state``: the engine's complete state as JSON-ready data.

Kept apart from the engine's algorithm (``_cmaes.py``): every attribute that the continuation
needs is listed here once, written by :func:`snapshot` and read back by :func:`restore`. Floats
go through ``_state`` (non-finite values as strings), so a JSON round trip is exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError
from . import _state
from ._stops import RunTrace

if TYPE_CHECKING:
    from ._cmaes import RestartingCMA

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "restore", "snapshot"]

FORMAT = "diffid_plugins.optim.RestartingCMA"
FORMAT_VERSION = 1


def snapshot(es: RestartingCMA) -> dict[str, Any]:
    """``es.state_dict()``: see :meth:`RestartingCMA.state_dict`."""
    import cmaes

    f = _state.encode_float
    config = {
        "lower": [f(v) for v in es._lower],
        "upper": [f(v) for v in es._upper],
        "x0": None if es._x0 is None else [f(v) for v in es._x0],
        "sigma0": f(es._sigma0),
        "popsize": es._popsize0,
        "restarts": es._restarts,
        "max_restarts": es._max_restarts,
        "inc_popsize": f(es._inc),
        "seed": es._seed,
        "tolfun": f(es._rules.tolfun),
        "tolx": f(es._rules.tolx),
        "stagnation": es._rules.stagnation,
        "max_condition": f(es._rules.max_condition),
        "tolfunrel": f(es._rules.tolfunrel),
        "scout": es._scout,
        "scout_first": es._scout_first,
    }
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "cmaes_version": str(getattr(cmaes, "__version__", "unknown")),
        "config": config,
        "popsize": es.popsize,
        "generation": es.generation,
        "run_generation": es.run_generation,
        "n_restarts": es.n_restarts,
        "n_evals": es.n_evals,
        "done": es.done,
        "regime": es.regime,
        "n_large": es._n_large,
        "budget": dict(es._budget),
        "run_sigma0": f(es._run_sigma0),
        "run_best": f(es._run_best),
        "best_f": f(es.best_f),
        "best_x": None if es.best_x is None else [f(v) for v in es.best_x],
        "history": [encode_run(h) for h in es.history],
        "run_start": es._run_start,
        "run_scout_f": None if es._run_scout_f is None else f(es._run_scout_f),
        "scouting": es.scouting,
        "next_run": None if es._next_run is None else [f(es._next_run[0]), es._next_run[1]],
        "trace": {
            "best": [f(v) for v in es._trace.best],
            "median": [f(v) for v in es._trace.median],
        },
        "pending": None if es._pending is None else _state.encode_array(es._pending),
        "rng": _state.encode_rng(es._rng),
        "cma": _state.encode_cma(es._cma),
    }


def load(cls: type[RestartingCMA], state: Any) -> RestartingCMA:
    """``RestartingCMA.from_state``: check the format and version, then :func:`restore`."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ArgumentError(
            f"state has format {got!r}; expected {FORMAT!r} (a RestartingCMA.state_dict())"
        )
    if state.get("version") != FORMAT_VERSION:
        raise ArgumentError(
            f"state['version'] = {state.get('version')!r}; this release reads version "
            f"{FORMAT_VERSION}"
        )
    try:
        return restore(cls, state)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ArgumentError):
            raise
        raise ArgumentError(
            f"state is incomplete or corrupt ({type(exc).__name__}: {exc}); pass a dict "
            "returned by RestartingCMA.state_dict()"
        ) from exc


def restore(cls: type[RestartingCMA], state: dict[str, Any]) -> RestartingCMA:
    """The engine of ``RestartingCMA.from_state`` (``state`` already checked for format)."""
    import cmaes

    c = dict(state["config"])
    fl = _state.decode_float
    es = cls(
        [fl(v) for v in c.pop("lower")],
        [fl(v) for v in c.pop("upper")],
        x0=None if c["x0"] is None else [fl(v) for v in c.pop("x0")],
        sigma0=fl(c["sigma0"]),
        popsize=c["popsize"],
        restarts=c["restarts"],
        max_restarts=c["max_restarts"],
        inc_popsize=fl(c["inc_popsize"]),
        seed=c["seed"],
        tolfun=fl(c["tolfun"]),
        tolx=fl(c["tolx"]),
        stagnation=c["stagnation"],
        max_condition=fl(c["max_condition"]),
        tolfunrel=fl(c.get("tolfunrel", 0.0)),  # absent in states written before it
        scout=c.get("scout", 0),  # absent in states written before scouts
        scout_first=c.get("scout_first", False),
    )
    es.popsize = int(state["popsize"])
    es.generation = int(state["generation"])
    es.run_generation = int(state["run_generation"])
    es.n_restarts = int(state["n_restarts"])
    es.n_evals = int(state["n_evals"])
    es.done = bool(state["done"])
    es.regime = state["regime"]
    es._n_large = int(state["n_large"])
    es._budget = {
        "large": int(state["budget"]["large"]),
        "small": int(state["budget"]["small"]),
    }
    es._run_sigma0 = fl(state["run_sigma0"])
    es._run_best = fl(state["run_best"])
    es.best_f = fl(state["best_f"])
    es.best_x = None if state["best_x"] is None else np.array([fl(v) for v in state["best_x"]])
    es.history = [decode_run(h) for h in state["history"]]
    es._run_start = state.get("run_start", "x0" if es.n_restarts == 0 else "uniform")
    scout_f = state.get("run_scout_f")
    es._run_scout_f = None if scout_f is None else fl(scout_f)
    es.scouting = bool(state.get("scouting", False))
    nxt = state.get("next_run")
    es._next_run = None if nxt is None else (fl(nxt[0]), int(nxt[1]))
    es._trace = RunTrace(
        [fl(v) for v in state["trace"]["best"]], [fl(v) for v in state["trace"]["median"]]
    )
    es._rng = _state.decode_rng(state["rng"])
    with np.errstate(divide="ignore"):
        ref = cmaes.CMA(
            mean=np.full(es.n_dim, 0.5), sigma=0.1, population_size=2, seed=0
        )  # only its attribute names are read
    es._cma = _state.decode_cma(state["cma"], ref)
    if state["pending"] is None:
        es._pending = es._pending_x = None
    else:
        es._pending = _state.decode_array(state["pending"])
        es._pending_x = es._to_box(es._pending)
    return es


def encode_run(h: dict[str, Any]) -> dict[str, Any]:
    out = {**h, "best_f": _state.encode_float(h["best_f"])}
    if h.get("scout_best_f") is not None:
        out["scout_best_f"] = _state.encode_float(h["scout_best_f"])
    return out


def decode_run(h: dict[str, Any]) -> dict[str, Any]:
    out = {**h, "best_f": _state.decode_float(h["best_f"])}
    if h.get("scout_best_f") is not None:
        out["scout_best_f"] = _state.decode_float(h["scout_best_f"])
    return out

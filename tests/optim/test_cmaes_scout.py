"""Scout generations of RestartingCMA: ``scout=N`` uniform draws before each restart.

Expected values are exact by construction: a scout generation is ``lower + U * (upper -
lower)`` with ``U`` the next ``(N, d)`` block of the engine's PCG64 generator (reproduced here
from the generator state in ``state_dict()``), and the next run's mean is the scout row with
the lowest finite value. Bit-for-bit claims use ``np.array_equal``.

To make runs end after one generation (so restarts, and scouts, come at once) the tests set
``tolx=1.0``: after the first generation every coordinate of ``sigma * sqrt(diag C)`` and of
``sigma * p_c`` is below one box width (sigma0 is 0.25), so the run stops by ``tolx``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.optim import RestartingCMA
from diffid_plugins.optim._state import decode_rng

LOWER = np.array([-2.0, 0.0, 10.0])
UPPER = np.array([3.0, 1.0, 1000.0])


def bowl(X: np.ndarray) -> np.ndarray:
    """Minimum 0 at (1, 0.5, 100)."""
    return ((X - np.array([1.0, 0.5, 100.0])) / (UPPER - LOWER)) ** 2 @ np.ones(3)


def engine(**kwargs: object) -> RestartingCMA:
    """d = 3, so popsize 4 + floor(3 ln 3) = 7 (14 in IPOP run 1)."""
    opts: dict = {"seed": 7, "scout": 20, "tolx": 1.0, "max_restarts": 3}
    opts.update(kwargs)
    return RestartingCMA(LOWER, UPPER, **opts)


def to_scout(es: RestartingCMA) -> None:
    """Tell generations until the next ask is a scout."""
    while not es.scouting:
        X = es.ask()
        es.tell(X, bowl(X))


def test_scout_generation_is_uniform_draws_of_the_engine_generator() -> None:
    es = engine()
    X0 = es.ask()
    assert X0.shape == (7, 3) and not es.scouting  # the first run starts at x0 (the centre)
    es.tell(X0, bowl(X0))
    assert es.scouting and es.n_restarts == 1 and es.history[0]["reason"] == "tolx"
    assert es.popsize == 20  # the next ask is the scout
    rng = decode_rng(es.state_dict()["rng"])
    X = es.ask()
    assert X.shape == (20, 3)
    assert np.all((X >= LOWER) & (X <= UPPER))
    assert np.array_equal(X, LOWER + rng.random((20, 3)) * (UPPER - LOWER))
    assert np.array_equal(es.ask(), X)  # asked again before tell: the same rows


def test_scouts_are_deterministic_per_seed() -> None:
    runs = []
    for seed in (7, 7, 8):
        es = engine(seed=seed)
        to_scout(es)
        runs.append(es.ask())
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_next_run_starts_at_the_best_scout_point() -> None:
    es = engine()
    to_scout(es)
    X = es.ask()
    values = bowl(X)
    best = int(np.argmin(values))
    values[(best + 1) % 20] = -np.inf  # failures rank worst, -inf included
    values[(best + 2) % 20] = np.nan
    generation, n_evals = es.generation, es.n_evals
    es.tell(X, values)
    assert not es.scouting
    assert np.array_equal(es.mean, X[best])
    assert es.sigma == 0.25 and es.popsize == 14  # IPOP run 1: sigma0, 2 * popsize
    assert es.run_generation == 0 and es.generation == generation + 1
    assert es.n_evals == n_evals + 20
    assert es.best_f == min(es.history[0]["best_f"], values[best])
    Y = es.ask()
    es.tell(Y, bowl(Y))
    run = es.history[1]
    assert run["start"] == "scout" and run["scout_best_f"] == values[best]
    assert run["popsize"] == 14 and run["generations"] == 1
    assert es.history[0]["start"] == "x0" and es.history[0]["scout_best_f"] is None


def test_all_failed_scout_starts_at_a_uniform_point() -> None:
    es = engine()
    to_scout(es)
    X = es.ask()
    best_f = es.best_f
    rng = decode_rng(es.state_dict()["rng"])  # after the scout's draws
    expected = LOWER + rng.random(3) * (UPPER - LOWER)
    values = np.full(20, np.nan)
    values[::2] = np.inf
    es.tell(X, values)
    assert np.array_equal(es.mean, expected)
    assert es.best_f == best_f  # failures never become best_f
    Y = es.ask()
    es.tell(Y, bowl(Y))
    assert es.history[1]["start"] == "uniform" and es.history[1]["scout_best_f"] == math.inf
    json.dumps(es.state_dict(), allow_nan=False)


@pytest.mark.parametrize("moment", ["before ask", "between ask and tell"])
def test_state_round_trip_mid_scout_continues_bit_for_bit(moment: str) -> None:
    es = engine(restarts="bipop", max_restarts=6)
    to_scout(es)
    if moment == "between ask and tell":
        es.ask()
    twin = RestartingCMA.from_state(json.loads(json.dumps(es.state_dict(), allow_nan=False)))
    assert twin.scouting and twin.popsize == es.popsize == 20
    while not es.done:
        X, Y = es.ask(), twin.ask()
        assert np.array_equal(X, Y)
        es.tell(X, bowl(X))
        twin.tell(Y, bowl(Y))
    assert twin.done and twin.history == es.history
    assert twin.best_f == es.best_f and np.array_equal(twin.best_x, es.best_x)
    assert twin.state_dict() == es.state_dict()


def test_bookkeeping_counts_scouts_as_generations_but_not_as_runs() -> None:
    es = engine(restarts="bipop", max_restarts=5)
    n_scouts = 0
    while not es.done:
        n_scouts += es.scouting
        X = es.ask()
        es.tell(X, bowl(X))
    assert n_scouts == 5 and len(es.history) == 6
    assert es.generation == sum(h["generations"] for h in es.history) + n_scouts
    assert es.n_evals == sum(h["popsize"] * h["generations"] for h in es.history) + 20 * n_scouts
    assert [h["start"] for h in es.history] == ["x0"] + ["scout"] * 5
    # BIPOP regimes still alternate by CMA-ES budget (scouts are not counted in it)
    assert [h["regime"] for h in es.history][:3] == ["large", "small", "large"]


def test_no_scout_after_the_last_run() -> None:
    es = engine(max_restarts=1)
    to_scout(es)
    X = es.ask()
    es.tell(X, bowl(X))
    Y = es.ask()
    es.tell(Y, bowl(Y))
    assert es.done and not es.scouting


def test_scout_zero_keeps_the_stream_of_uniform_restarts() -> None:
    """scout=0: each restart's mean is the generator's next uniform point, as before scouts."""
    es = engine(scout=0)
    X = es.ask()
    rng = decode_rng(es.state_dict()["rng"])
    es.tell(X, bowl(X))
    assert not es.scouting and es.popsize == 14
    assert np.array_equal(es.mean, LOWER + rng.random(3) * (UPPER - LOWER))
    Y = es.ask()
    es.tell(Y, bowl(Y))
    assert es.history[1]["start"] == "uniform" and es.history[1]["scout_best_f"] is None


def test_scout_first_scouts_before_the_first_run() -> None:
    es = engine(scout_first=True)
    assert es.scouting and es.popsize == 20
    X = es.ask()
    values = bowl(X)
    es.tell(X, values)
    assert np.array_equal(es.mean, X[np.argmin(values)]) and es.popsize == 7
    assert es.n_restarts == 0
    Y = es.ask()
    es.tell(Y, bowl(Y))
    assert es.history[0]["start"] == "scout"


def test_states_written_before_scouts_still_load() -> None:
    es = RestartingCMA(LOWER, UPPER, seed=1, tolx=1.0)
    X = es.ask()
    es.tell(X, bowl(X))
    state = es.state_dict()
    for key in ("run_start", "run_scout_f", "scouting", "next_run"):
        del state[key]
    for key in ("scout", "scout_first"):
        del state["config"][key]
    for h in state["history"]:
        del h["start"], h["scout_best_f"]
    twin = RestartingCMA.from_state(state)
    assert not twin.scouting
    Y, Z = es.ask(), twin.ask()
    assert np.array_equal(Y, Z)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scout": -1}, ArgumentError, "scout=-1"),
        ({"scout": 2.5}, ArgumentTypeError, "scout=2.5"),
        ({"scout": True}, ArgumentTypeError, "scout=True"),
        ({"scout": 0, "scout_first": True}, ArgumentError, "scout_first=True with scout=0"),
        ({"scout_first": 1}, ArgumentTypeError, "scout_first=1"),
        ({"scout_first": True, "x0": [0.0, 0.5, 50.0]}, ArgumentError, "both choose"),
    ],
)
def test_bad_scout_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        engine(**kwargs)

"""Compilation tiers (``diffid_plugins._kernels``): generic solver cache, specialised module,
background upgrade, concurrent warming, corrupt-cache recovery, and equal results.

Reference for "equal": the two tiers run the same template arithmetic in the same order, so
solutions and batch costs must agree bit for bit (``np.array_equal``), for every solver path:
DOPRI5 with its dense output, the lane-interleaved batch kernel, the scalar batch kernel,
Rodas5P on a DAE (mass matrix, consistent initialisation) and `stop`/`reset` events.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from diffid_plugins import Problem, compile_model, solve
from diffid_plugins._kernels import (
    _slot_is_stale,
    _SpecialisedFiles,
    background_slot,
    generic_module,
)
from diffid_plugins.errors import DiffidError
from diffid_plugins.examples import tutorial_text

ROOT = Path(__file__).resolve().parents[1]

ROBERTSON_DAE = """
in_i { k1 = 0.04, k2 = 1e4, k3 = 3e7 }
u_i { x = 1, y = 0, z = 0 }
dudt_i { dxdt = 1, dydt = 0, dzdt = 0 }
M_i { dxdt, dydt, 0 }
F_i { -k1 * x + k2 * y * z, k1 * x - k2 * y * z - k3 * y * y, 1 - x - y - z }
out_i { x, y, z }
"""
"""Robertson's chemical kinetics as an index-1 DAE (the README's example)."""

BOUNCING_BALL = """
in_i { restitution = 0.8 }
xeps { 1e-12 }
g { 9.81 } h { 10.0 }
u_i { position = h, velocity = 0 }
F_i { velocity, -g }
stop_i { position }
reset_i { xeps, -restitution * velocity }
"""
"""A bouncing ball: `stop` at the floor and `reset` of the velocity (the corpus's
``bouncing_ball_reset`` with the restitution as an input)."""


def _new_text() -> str:
    """The tutorial Lotka-Volterra text with a constant no cache has seen (a model edit)."""
    digits = random.SystemRandom().randrange(10**11, 10**12)
    text = tutorial_text().replace("x = 10.0", f"x = 10.0000{digits}", 1)
    assert text != tutorial_text()
    return text


def _run(code: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter with this suite's environment (plus ``env``)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **env},
        check=False,
    )


def _solutions_equal(text: str, t_eval: np.ndarray, methods: tuple[str, ...]) -> None:
    generic = compile_model(text, tier="generic")
    special = compile_model(text, tier="specialised")
    assert generic.kernels.tier == "generic" and special.kernels.tier == "specialised"
    for method in methods:
        a = solve(generic, None, t_eval, method=method, rtol=1e-8, atol=1e-10)
        b = solve(special, None, t_eval, method=method, rtol=1e-8, atol=1e-10)
        assert a.tier == "generic" and b.tier == "specialised"
        assert a.status == b.status and a.success, (method, a.message)
        assert np.array_equal(a.t, b.t) and np.array_equal(a.y, b.y), method
        assert a.stats == b.stats, method


@pytest.mark.parametrize(
    ("text", "t_eval", "methods"),
    [
        (tutorial_text(), np.linspace(0.0, 100.0, 500), ("auto", "dopri5", "tsit5", "rodas5p")),
        (ROBERTSON_DAE, np.logspace(-2, 5, 50), ("auto",)),
        (BOUNCING_BALL, np.linspace(0.0, 10.0, 101), ("auto", "rodas5p")),
    ],
    ids=["lotka_volterra", "robertson_dae", "bouncing_ball"],
)
def test_solutions_are_bit_identical_across_tiers(
    text: str, t_eval: np.ndarray, methods: tuple[str, ...]
) -> None:
    _solutions_equal(text, t_eval, methods)


@pytest.mark.parametrize("method", ["auto", "rodas5p"])  # lanes kernel, scalar batch kernel
def test_batch_costs_are_bit_identical_across_tiers(method: str) -> None:
    """The ``prange`` batch kernels called through kernel addresses (generic) equal the
    specialised ones on 1 and 2 threads, failing rows included."""
    data_model = compile_model(tutorial_text(), tier="generic")
    t = np.linspace(0.0, 20.0, 41)
    sol = solve(data_model, None, t)
    data = np.column_stack([t, sol.y])
    rng = np.random.default_rng(7)
    X = rng.uniform([0.5, 0.1, 0.01, 0.1], [2.0, 1.0, 0.5, 1.0], size=(64, 4))  # noqa: N806
    X[5] = [np.nan, 0.4, 0.1, 0.4]  # a failing row
    costs = {}
    for tier in ("generic", "specialised"):
        problem = Problem(compile_model(tutorial_text(), tier=tier), data, method=method)
        for threads in (1, 2):
            costs[tier, threads] = problem.evaluate_batch(X, n_threads=threads)
            assert problem.last_tier == tier
    reference = costs["specialised", 1]
    assert np.isinf(reference[5]) and np.isfinite(np.delete(reference, 5)).all()
    for key, value in costs.items():
        assert np.array_equal(value, reference), key


def test_per_output_costs_are_bit_identical_across_tiers() -> None:
    """``batch_outputs_kernel`` (generic: through kernel addresses) equals the specialised
    one on 1 and 2 threads, a failing row included, and its costs equal ``batch_kernel``'s."""
    t = np.linspace(0.0, 20.0, 41)
    sol = solve(compile_model(tutorial_text(), tier="generic"), None, t)
    data = np.column_stack([t, sol.y])
    rng = np.random.default_rng(11)
    X = rng.uniform([0.5, 0.1, 0.01, 0.1], [2.0, 1.0, 0.5, 1.0], size=(32, 4))  # noqa: N806
    X[3] = [1.1, -0.4, 0.1, 0.4]  # fails (STEP_TOO_SMALL)
    values = {}
    for tier in ("generic", "specialised"):
        problem = Problem(compile_model(tutorial_text(), tier=tier), data)
        for threads in (1, 2):
            values[tier, threads] = problem.evaluate_batch_per_output(X, n_threads=threads)
            assert problem.last_tier == tier
        total = problem.evaluate_batch(X)
        assert np.array_equal(values[tier, 1][:, 0] + values[tier, 1][:, 1], total)
    reference = values["specialised", 1]
    assert reference.shape == (32, 2) and np.isinf(reference[3]).all()
    for key, value in values.items():
        assert np.array_equal(value, reference), key


def test_a_new_model_in_a_fresh_process_compiles_only_its_kernels() -> None:
    """After one model warmed the generic tier, a model no cache holds loads the generic
    solver from the disk cache (hits, no misses): only its own kernels are compiled."""
    generic = compile_model(tutorial_text(), tier="generic")
    solve(generic, None, [1.0])  # make sure the generic solve kernel is cached
    result = _run(
        f"""
        import json
        import numpy as np
        from diffid_plugins import compile_model, solve
        m = compile_model({_new_text()!r}, tier="generic")
        sol = solve(m, None, np.linspace(0.0, 100.0, 500))
        disp = m.kernels.module.solve_kernel
        print(json.dumps({{"tier": sol.tier, "ok": bool(sol.success),
                          "hits": sum(disp.stats.cache_hits.values()),
                          "misses": sum(disp.stats.cache_misses.values())}}))
        """
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info == {"tier": "generic", "ok": True, "hits": 1, "misses": 0}, info


def test_background_compile_upgrades_to_the_specialised_tier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tier="auto": served by the generic tier at once; a niced background process compiles
    the specialised module and the next call after it is ready is served by it, with the
    same result."""
    monkeypatch.setenv("DIFFID_PLUGINS_BACKGROUND", "1")
    text = _new_text()
    model = compile_model(text)
    assert model.kernels.tier == "generic"
    t = np.linspace(0.0, 100.0, 500)
    first = solve(model, None, t)
    assert first.tier == "generic"
    files = _SpecialisedFiles(model)
    deadline = time.monotonic() + 600
    while not files.ready.exists():
        assert time.monotonic() < deadline, files.log.read_text() if files.log.exists() else ""
        time.sleep(0.5)
        if model.kernels.tier == "generic" and not files.log.exists():
            model.kernels.refresh()  # the slot was busy (another compile): ask again
    time.sleep(0.3)  # past the KernelSet's poll interval
    later = solve(model, None, t)
    assert later.tier == "specialised" and model.kernels.tier == "specialised"
    assert np.array_equal(first.y, later.y)
    deadline = time.monotonic() + 30  # the child releases the slot as it exits
    while background_slot().exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not background_slot().exists()
    # A new process that compiles the same text is served by the specialised tier at once.
    again = compile_model(text)
    assert again.kernels.tier == "specialised"


def test_background_compile_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFFID_PLUGINS_BACKGROUND", "0")
    model = compile_model(_new_text())
    files = _SpecialisedFiles(model)
    assert model.kernels.tier == "generic"
    assert not files.log.exists() and not files.model_text.exists()
    assert solve(model, None, [1.0]).tier == "generic"


def test_two_processes_warming_the_same_model_at_once(tmp_path: Path) -> None:
    """``python -m diffid_plugins warm`` started twice at the same moment on a model no cache
    holds: both succeed (numba's and our cache writes are atomic), and a third process is
    served by the specialised tier from the cache without compiling."""
    model_file = tmp_path / "edited.ds"
    model_file.write_text(_new_text(), encoding="utf-8")
    cmd = [sys.executable, "-m", "diffid_plugins", "warm", str(model_file)]
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    result = _run(
        f"""
        import json
        from diffid_plugins import compile_model, solve
        m = compile_model(open({str(model_file)!r}).read())
        sol = solve(m, None, [1.0, 2.0])
        disp = m.kernels.module.solve_kernel
        print(json.dumps({{"tier": sol.tier, "misses": sum(disp.stats.cache_misses.values())}}))
        """
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "tier": "specialised",
        "misses": 0,
    }


def test_a_truncated_cache_file_is_rebuilt_not_fatal() -> None:
    """numba raises on a truncated cache file (numba#10434); the loader deletes the module's
    cache files, warns, and numba compiles them again."""
    text = _new_text()
    model = compile_model(text, tier="generic")
    reference = solve(model, None, np.linspace(0.0, 10.0, 11))
    path = Path(model.module.__file__)
    cache_files = sorted((path.parent / "__pycache__").glob(f"{path.stem}.*.nbc"))
    assert cache_files, "the model's kernels should be cached next to the generated module"
    victim = cache_files[0]
    victim.write_bytes(victim.read_bytes()[: max(1, victim.stat().st_size // 2)])
    result = _run(
        f"""
        import warnings
        import numpy as np
        from diffid_plugins import compile_model, solve
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = compile_model({text!r}, tier="generic")
        print(any("incomplete" in str(w.message) for w in caught))
        print(repr(solve(m, None, np.linspace(0.0, 10.0, 11)).y.tolist()))
        """
    )
    assert result.returncode == 0, result.stderr
    warned, values = result.stdout.strip().splitlines()[-2:]
    assert warned == "True"
    assert np.array_equal(np.array(eval(values)), reference.y)  # noqa: S307 (our own repr)


def test_generic_module_is_one_per_process() -> None:
    assert generic_module() is generic_module()


def test_bad_tier_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DiffidError, match="`tier` must be one of"):
        compile_model(tutorial_text(), tier="fast")
    monkeypatch.setenv("DIFFID_PLUGINS_TIER", "turbo")
    with pytest.raises(DiffidError, match="DIFFID_PLUGINS_TIER"):
        compile_model(tutorial_text())


def test_one_background_compile_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten quick edits must not start ten compiles: while one background compile holds the
    slot, another model waits (served by the generic tier) and starts its own compile on a
    later call once the slot is free."""
    monkeypatch.setenv("DIFFID_PLUGINS_BACKGROUND", "1")
    slot = background_slot()
    deadline = time.monotonic() + 600
    # A compile left by an earlier test: let it finish (a stale slot, whose process died, e.g.
    # in an interrupted run, is free: the next compile takes it over).
    while slot.exists() and not _slot_is_stale(slot):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        slot.write_text(f"{holder.pid}\n")
        model = compile_model(_new_text())
        files = _SpecialisedFiles(model)
        assert model.kernels.tier == "generic" and not files.log.exists()  # waited
        holder.kill()
        holder.wait()
        time.sleep(0.3)
        solve(model, None, [1.0])  # the next call finds the slot stale and starts it
        assert files.log.exists()
    finally:
        holder.kill()
    while not files.ready.exists():
        assert time.monotonic() < deadline, files.log.read_text()
        time.sleep(0.5)


def test_every_problem_on_a_model_follows_a_tier_swap() -> None:
    """Two problems share a model's KernelSet; whichever call performs the swap, both are
    served by the new tier afterwards (with the same costs)."""
    model = compile_model(tutorial_text(), tier="generic")
    special = compile_model(tutorial_text(), tier="specialised")
    ready = {"now": False}
    model.kernels._upgrade = lambda: (
        (special.kernels.module, "specialised") if ready["now"] else None
    )
    t = np.linspace(0.0, 10.0, 21)
    data = np.column_stack([t, solve(model, None, t).y])
    first, second = Problem(model, data), Problem(model, data)
    X = np.array([[1.1, 0.4, 0.1, 0.4], [1.0, 0.5, 0.1, 0.3]])  # noqa: N806
    before = first.evaluate_batch(X), second.evaluate_batch(X)
    assert first.last_tier == second.last_tier == "generic"
    ready["now"] = True
    model.kernels._next_poll = 0.0
    after = first.evaluate_batch(X), second.evaluate_batch(X)
    assert first.last_tier == second.last_tier == "specialised"
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])


def test_an_unloadable_specialised_module_leaves_the_generic_tier_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ready mark whose module fails to load (here: loading raises) warns once and keeps
    the generic tier; solves go on with the same results."""
    from diffid_plugins import _kernels

    monkeypatch.setenv("DIFFID_PLUGINS_BACKGROUND", "1")
    text = _new_text()
    model = compile_model(text, tier="generic")
    files = _SpecialisedFiles(model)
    upgrade = _kernels._Upgrade(files, model)
    files.ready.write_text("ok\n")

    def broken() -> None:
        raise RuntimeError("simulated broken module")

    monkeypatch.setattr(files, "load", broken)
    reference = solve(model, None, [1.0, 2.0])
    model.kernels._upgrade = upgrade
    model.kernels._next_poll = 0.0
    with pytest.warns(RuntimeWarning, match="generic tier keeps serving"):
        again = solve(model, None, [1.0, 2.0])
    assert again.tier == "generic" and np.array_equal(again.y, reference.y)
    model.kernels._next_poll = 0.0
    assert solve(model, None, [1.0, 2.0]).tier == "generic"  # no retry, no second warning
    files.ready.unlink()

"""Checkpoint files of the nested sampler (``diffid_plugins.nested._checkpoint``): round
trips, atomic replacement (a failed write leaves the previous file and no temporary file),
clear errors for missing, foreign, damaged and other-version files, and the ``due`` helper."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from diffid_plugins.errors import ArgumentError, ArgumentTypeError
from diffid_plugins.nested import Results
from diffid_plugins.nested._checkpoint import (
    FORMAT,
    VERSION,
    due,
    load_checkpoint,
    save_checkpoint,
)
from tests.nested._synthetic import gaussian_run


def _state(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    rng.random(5)  # a generator part-way through its stream
    return {
        "live_u": rng.random((10, 3)),
        "logl": np.linspace(-5.0, 0.0, 10),
        "rng": rng,
        "batch": 2,
        "history": {"ncall": [10, 20], "stop": [3.1, 2.2]},
        "results": Results(gaussian_run(n_live=20, seed=seed, n_bootstrap=2)),
    }


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    state = _state(1)
    save_checkpoint(path, state)
    back = load_checkpoint(str(path))
    assert back.keys() == state.keys()
    np.testing.assert_array_equal(back["live_u"], state["live_u"])
    np.testing.assert_array_equal(back["logl"], state["logl"])
    assert back["batch"] == 2 and back["history"] == state["history"]
    # the generator continues its stream exactly where the saved one does
    np.testing.assert_array_equal(back["rng"].random(4), state["rng"].random(4))
    np.testing.assert_array_equal(back["results"].logz, state["results"].logz)
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]


def test_a_new_checkpoint_replaces_the_old(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, {"batch": 1})
    save_checkpoint(path, {"batch": 2})
    assert load_checkpoint(path) == {"batch": 2}


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    """A lambda cannot be pickled: the save fails part-way through the pickle stream, after
    the temporary file was opened; the previous checkpoint stays readable and no temporary
    file is left behind."""
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, {"batch": 1, "x": np.arange(3)})
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save_checkpoint(path, {"batch": 2, "x": np.arange(10**5), "f": lambda u: u})
    assert path.read_bytes() == before
    assert load_checkpoint(path)["batch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.ckpt"
    with pytest.raises(ArgumentError, match=f"no checkpoint file at '{path}'"):
        load_checkpoint(path)
    with pytest.raises(ArgumentError, match="no checkpoint file"):
        load_checkpoint(tmp_path)  # a directory is not a checkpoint file either


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"not a pickle at all", "is not a checkpoint file .it could not be unpickled"),
        (pickle.dumps([1, 2, 3]), f"is not a {FORMAT} file .a pickle of another kind: list"),
        (pickle.dumps({"format": "other", "state": {}}), f"is not a {FORMAT} file"),
        (
            pickle.dumps({"format": FORMAT, "version": VERSION + 1, "state": {}}),
            f"has checkpoint version {VERSION + 1}; .* reads version {VERSION}",
        ),
        (
            pickle.dumps({"format": FORMAT, "version": VERSION, "state": [1]}),
            "has checkpoint version",
        ),
    ],
)
def test_foreign_and_other_version_files(tmp_path: Path, content: bytes, pattern: str) -> None:
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(ArgumentError, match=pattern) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_a_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, _state(2))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArgumentError, match="could not be unpickled"):
        load_checkpoint(path)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ArgumentTypeError, match="expected a dict"):
        save_checkpoint(tmp_path / "a.ckpt", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="does not exist; create it first"):
        save_checkpoint(tmp_path / "missing" / "a.ckpt", {})
    with pytest.raises(ArgumentTypeError, match=r"save_checkpoint\(path=3\)"):
        save_checkpoint(3, {})  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"load_checkpoint\(path=None\)"):
        load_checkpoint(None)  # type: ignore[arg-type]


def test_due() -> None:
    assert due(None, 60.0, now=0.0)  # nothing written yet
    assert not due(100.0, None, now=1e9)  # checkpoints off
    assert not due(100.0, 60.0, now=159.5)
    assert due(100.0, 60.0, now=160.0)
    assert due(100.0, 0.0, now=100.0)
    with pytest.raises(ArgumentError, match="every=-1.0"):
        due(0.0, -1.0)
    with pytest.raises(ArgumentError, match="every=nan"):
        due(0.0, float("nan"))

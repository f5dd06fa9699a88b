"""Bundled example models (DiffSL sources shipped with the package)."""

from __future__ import annotations

from importlib import resources

__all__ = ["example_path", "load_example"]


def example_path(name: str) -> str:
    """Path of a bundled example, e.g. ``example_path("lotka_volterra")``."""
    ref = resources.files(__package__) / f"{name}.ds"
    if not ref.is_file():
        known = sorted(
            p.name[:-3] for p in resources.files(__package__).iterdir() if p.name.endswith(".ds")
        )
        raise ValueError(f"`name` {name!r} is not a bundled example; choose one of {known}.")
    return str(ref)


def load_example(name: str) -> str:
    """DiffSL text of a bundled example model."""
    with open(example_path(name), encoding="ascii") as fh:
        return fh.read()

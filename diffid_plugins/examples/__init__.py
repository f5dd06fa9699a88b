"""Bundled examples: DiffSL models shipped with the package, and diffid's tutorial problem
(model text and synthetic data) used by the main job, the examples and the benchmarks."""

from __future__ import annotations

from importlib import resources

from diffid_plugins.errors import ArgumentError
from diffid_plugins.examples._tutorial import (
    TUTORIAL_BOX,
    TUTORIAL_TRUE,
    tutorial_data,
    tutorial_text,
)

__all__ = [
    "TUTORIAL_BOX",
    "TUTORIAL_TRUE",
    "example_path",
    "load_example",
    "tutorial_data",
    "tutorial_text",
]


def example_path(name: str) -> str:
    """Path of a bundled example, e.g. ``example_path("lotka_volterra")``."""
    ref = resources.files(__package__) / f"{name}.ds"
    if not ref.is_file():
        known = sorted(
            p.name[:-3] for p in resources.files(__package__).iterdir() if p.name.endswith(".ds")
        )
        raise ArgumentError(f"`name` {name!r} is not a bundled example; choose one of {known}.")
    return str(ref)


def load_example(name: str) -> str:
    """DiffSL text of a bundled example model."""
    with open(example_path(name), encoding="ascii") as fh:
        return fh.read()

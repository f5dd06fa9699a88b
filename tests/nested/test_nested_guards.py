"""Nothing hangs: a likelihood that is zero everywhere, or flat on the region left, ends in a
clear ``ResultError`` instead of an endless search for a point above the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from diffid_plugins.errors import ResultError
from diffid_plugins.nested import DynamicNestedSampler


def test_zero_likelihood_everywhere() -> None:
    s = DynamicNestedSampler(lambda x: np.full(len(x), np.nan), lambda u: u, 2, seed=0)
    with pytest.raises(ResultError, match="NaN or -inf at all 500 points"):
        s.run_nested()


def test_plateau_ends_with_an_error() -> None:
    # logL = 1 on half the cube, 0 elsewhere: once every live point sits on the upper
    # plateau, no draw can exceed it
    s = DynamicNestedSampler(
        lambda x: np.where(x[:, 0] < 0.5, 1.0, 0.0), lambda u: u, 2, seed=0, bound="none"
    )
    with pytest.raises(ResultError, match="plateau"):
        s.run_nested(logzerr_target=0.3, n_effective=100)

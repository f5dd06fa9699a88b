"""Optuna's own test suite for third-party samplers (``optuna.testing.pytest_samplers``).

The classes that apply to a single-objective relative sampler: ``BasicSamplerTestCase``,
``RelativeSamplerTestCase`` and ``SingleOnlySamplerTestCase`` (``MultiObjectiveSamplerTestCase``
is for multi-objective samplers and excludes ``SingleOnly``). No test is skipped.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("optuna")
pytest.importorskip("cmaes")

from optuna.samplers import BaseSampler  # noqa: E402
from optuna.testing.pytest_samplers import (  # noqa: E402
    BasicSamplerTestCase,
    RelativeSamplerTestCase,
    SingleOnlySamplerTestCase,
)

from diffid_plugins.optuna import CmaEsSampler  # noqa: E402

FACTORIES = {
    "default": lambda: CmaEsSampler(seed=0),
    "bipop-stored": lambda: CmaEsSampler(seed=1, restarts="bipop", store_state_in_storage=True),
}


class _Fixture:
    @pytest.fixture(params=list(FACTORIES))
    def sampler(self, request: pytest.FixtureRequest) -> Callable[[], BaseSampler]:
        return FACTORIES[request.param]


class TestBasicSampler(_Fixture, BasicSamplerTestCase):
    pass


class TestRelativeSampler(_Fixture, RelativeSamplerTestCase):
    pass


class TestSingleOnlySampler(_Fixture, SingleOnlySamplerTestCase):
    pass

"""Shared bench inputs (built outside timed calls)."""
import numpy as np
import pytest


@pytest.fixture(scope="session")
def bench_rng():
    return np.random.default_rng(2024)

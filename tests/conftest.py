"""Shared test configuration: hypothesis profiles, seeds, thread-count parameter."""
import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          max_examples=40, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=25)
settings.load_profile(os.environ.get("RELUINJ_HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def rng():
    """A seeded numpy Generator, fresh for each test."""
    return np.random.default_rng(12345)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def n_threads(request):
    """Thread counts for which every parallel kernel must give identical results."""
    return request.param


def pytest_report_header(config):
    import reluinj

    return (f"reluinj {reluinj.__version__}: OpenMP={reluinj.openmp_enabled()}, "
            f"effective threads={reluinj.effective_n_threads()}")

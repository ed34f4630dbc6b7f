import os

import numpy as np
import pytest

# The real data sets (a folder holding mnist/ and sms_spam/) are given to the tests by
# the environment variable FASTML_DATA; tests that need them are skipped without it.
DATA_DIR = os.environ.get("FASTML_DATA") or None


@pytest.fixture(scope="session")
def data_dir():
    """The folder FASTML_DATA names, or a skip when it is unset or absent."""
    if DATA_DIR is None:
        pytest.skip("FASTML_DATA is not set: no folder with mnist/ and sms_spam/")
    if not os.path.isdir(DATA_DIR):
        pytest.skip(f"data directory {DATA_DIR} (FASTML_DATA) not present")
    return DATA_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(0)

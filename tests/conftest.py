import os

import numpy as np
import pytest

# ../shared/data relative to the checkout (CI and developers); FASTML_DATA overrides.
_HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.environ.get("FASTML_DATA") or os.path.normpath(
    os.path.join(_HERE, "..", "..", "shared", "data"))


@pytest.fixture(scope="session")
def data_dir():
    """The shared data directory, or a skip when it is absent."""
    if not os.path.isdir(DATA_DIR):
        pytest.skip(f"data directory {DATA_DIR} not present")
    return DATA_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(0)

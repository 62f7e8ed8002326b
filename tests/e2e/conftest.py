import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nd  # noqa: E402


@pytest.fixture
def server():
    """A fresh notifyd on ephemeral ports; stopped (and checked) afterwards."""
    s = nd.Server().start()
    try:
        yield s
    finally:
        s.close()

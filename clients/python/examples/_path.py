"""Lets the examples run from a checkout without installing the package."""
import os
import sys

try:
    import notifyd_client  # noqa: F401  (installed)
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

"""The test suite; it mirrors the package (tests/routing/ beside router/routing/)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # the repository's root

"""Where the router's run-time data lives: inside the package, so that an installed wheel has it;
what it writes while serving goes to the data folder (`data_dir`).

The example profiles are the one exception in a source checkout: they stay in the top-level
`profiles/examples`, where users see them, and pyproject.toml ships that folder in the wheel as
`router/data/profiles` (no second copy in the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DATA = PACKAGE / "data"
CLASSIFIER_TRAINING = DATA / "classify" / "train.jsonl"
SUITES = DATA / "suites"


def example_profiles() -> Path:
    """The example profiles: in the package when installed, else in the source checkout."""
    packaged = DATA / "profiles"
    return packaged if packaged.is_dir() else PACKAGE.parent / "profiles" / "examples"


def default_cache_dir() -> Path:
    """`$ROUTER_CACHE_DIR`, else `$XDG_CACHE_HOME/router`, else `~/.cache/router`."""
    if explicit := os.environ.get("ROUTER_CACHE_DIR"):
        return Path(explicit).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "router"
    return Path.home() / ".cache" / "router"


def data_dir() -> Path:
    """Where the router keeps what it writes while serving (stored responses):
    `$ROUTER_DATA_DIR`, else `$XDG_DATA_HOME/router`, else `~/.local/share/router`. Its user
    creates it (mode 0700) when first needed."""
    if explicit := os.environ.get("ROUTER_DATA_DIR"):
        return Path(explicit).expanduser()
    if xdg := os.environ.get("XDG_DATA_HOME"):
        return Path(xdg).expanduser() / "router"
    return Path.home() / ".local" / "share" / "router"

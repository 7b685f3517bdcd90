"""Shared fixtures for the embedded default model (imported into tests/conftest.py).

`embedded_model_path` prepares SmolLM2-135M-Instruct once per machine, in the router's own cache
(`$ROUTER_CACHE_DIR`, else `$XDG_CACHE_HOME/router`, else `~/.cache/router`) where `make test`
has already prepared it, so the tests use the very model `make serve` serves.
`embedded_mlx_model` loads it once per session with mlx-lm and returns `(model, tokenizer)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from router.modelfiles.embedded import ensure_default_model
from router.paths import default_cache_dir


@pytest.fixture(scope="session")
def embedded_model_path() -> Path:
    """The prepared embedded model folder (downloaded and imported on first use)."""
    return ensure_default_model(default_cache_dir())


@pytest.fixture(scope="session")
def embedded_mlx_model(embedded_model_path: Path) -> tuple[Any, Any]:
    """`mlx_lm.load` of the embedded model, shared by the session."""
    import mlx_lm

    return mlx_lm.load(str(embedded_model_path))

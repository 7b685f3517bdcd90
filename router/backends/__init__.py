"""Backends: what runs a model. `protocol` is the one seam (`Backend`); `openai` speaks to any
OpenAI-compatible server over `http/` (the router's own HTTP/1.1 pool); `mlx/` runs models in
this process with mlx-lm. `build_backend` makes the one a `[[backends]]` entry names (the
kinds are imported only when used: a router without mlx models never loads mlx)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.config import BackendConfig, MLXBackendConfig, OpenAIBackendConfig

if TYPE_CHECKING:
    from router.backends.protocol import Backend
    from router.metrics import Metrics


def build_backend(config: BackendConfig, metrics: Metrics | None = None) -> Backend:
    """The backend for one `[[backends]]` entry (in-process ones record their metrics)."""
    if isinstance(config, OpenAIBackendConfig):
        from router.backends.openai import OpenAIBackend

        return OpenAIBackend(config)
    assert isinstance(config, MLXBackendConfig)  # the config's union has no other kind
    from router.backends.mlx.backend import MLXBackend

    return MLXBackend(config, metrics)

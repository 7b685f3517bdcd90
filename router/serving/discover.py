"""Zero-config discovery: what the router serves when there is no config file.

The embedded model (prepared by `make serve` / `python -m router.modelfiles.embedded`) as an
in-process
`mlx` backend named `local`, plus every OpenAI-compatible server that answers `GET /v1/models`
on this machine's usual ports, each an `openai` backend named after the server that usually
listens there. Probed once, at start-up.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from router.config import BackendConfig, MLXBackendConfig, ModelEntry, OpenAIBackendConfig
from router.modelfiles.embedded import DEFAULT_MODEL_ID, default_model_dir, is_ready

log = logging.getLogger("router")

USUAL_PORTS: dict[int, str] = {
    1234: "lmstudio",
    11434: "ollama",
    8080: "local-8080",  # llama.cpp's server, mlx_lm.server
    8000: "local-8000",  # vLLM
}


async def probe_local_servers(
    ports: dict[int, str] | None = None, host: str = "127.0.0.1", timeout: float = 0.5
) -> list[BackendConfig]:
    """Backends for the servers that answer on `ports`, in the order of `ports`."""
    ports = USUAL_PORTS if ports is None else ports
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        answers = await asyncio.gather(
            *(_answers(client, f"http://{host}:{port}/v1") for port in ports)
        )
    return [
        OpenAIBackendConfig(name=name, base_url=f"http://{host}:{port}/v1", trusted=False)
        for (port, name), ok in zip(ports.items(), answers, strict=True)
        if ok
    ]


async def _answers(client: httpx.AsyncClient, base_url: str) -> bool:
    try:
        response = await client.get(base_url + "/models")
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and b'"data"' in response.content


async def zero_config_backends() -> list[BackendConfig]:
    """The embedded model (when prepared) and the local servers that answer."""
    found = await probe_local_servers()
    model_dir = default_model_dir()
    if is_ready(model_dir):
        entry = ModelEntry(DEFAULT_MODEL_ID, path=str(model_dir))
        found.insert(0, MLXBackendConfig(name="local", models=[entry]))
    else:
        log.warning(
            "the embedded model is not prepared; `python -m router.modelfiles.embedded` does it"
        )
    return found

"""The running router: its backends, catalogue, metrics and dispatcher, started and stopped
together. The HTTP layer (`router.api`) and the CLI hold one `Service` and only translate.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging

from router.backends import Backend
from router.catalog import Catalog
from router.config import BackendConfig, Config, LoadedConfig
from router.discover import probe_local_servers
from router.dispatch import Dispatcher
from router.errors import AuthenticationError, ConfigError
from router.metrics import Metrics
from router.routing import Hints, Route, resolve

log = logging.getLogger("router")


def build_backend(config: BackendConfig) -> Backend:
    """The backend for one `[[backends]]` entry."""
    if config.kind == "openai":
        from router.backends.openai import OpenAIBackend

        return OpenAIBackend(config)
    if config.kind == "mlx":
        from router.backends.mlx import MLXBackend

        return MLXBackend(config)
    raise ConfigError(f"backend {config.name}: unknown kind {config.kind}")


class Service:
    """Everything a request needs, with one lifecycle: `start`, then requests, then `stop`."""

    def __init__(self, loaded: LoadedConfig, metrics: Metrics | None = None) -> None:
        self.loaded = loaded
        self.config: Config = loaded.config
        self.metrics = metrics or Metrics()
        self.backends: list[Backend] = [build_backend(b) for b in self.config.backends]
        self.catalog = Catalog(self.backends, self.config.routing.aliases)
        self.dispatcher = Dispatcher(self.catalog, self.metrics)
        self._keys = [k.encode() for k in self.config.server.accepted_keys()]
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.loaded.source is None:
            for found in await probe_local_servers():
                self.catalog.add(build_backend(found))
        for backend in self.backends:
            await backend.start()
        await self.refresh()
        self._refresher = asyncio.create_task(self._refresh_forever())
        log.info("%s", self.describe())

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        for backend in self.backends:
            await backend.close()

    async def refresh(self) -> None:
        await self.catalog.refresh()
        for name, state in self.catalog.states.items():
            self.metrics.backend_up.labels(name).set(1 if state.up else 0)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.server.discovery_interval)
            try:
                await self.refresh()
            except Exception:  # a refresh must never end the loop
                log.exception("refreshing the model catalogue failed")

    def describe(self) -> str:
        """One line saying what the router serves."""
        source = self.loaded.source or "no config file (zero-config)"
        if not self.backends:
            return f"{source}: no backend found; serving no model until one is configured"
        parts = [
            f"{s.name} ({s.kind}, {s.models} models{'' if s.up else ', down: ' + (s.error or '')})"
            for s in self.catalog.states.values()
        ]
        return f"{source}: {'; '.join(parts)}"

    def authorize(self, header: str | None) -> None:
        """Check a request's `Authorization` header against the configured keys, if any."""
        if not self._keys:
            return
        token = header[7:].strip().encode() if header and header[:7].lower() == "bearer " else b""
        # compare with every key so the time taken does not tell which one nearly matched
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(token, key)
        if not matched:
            raise AuthenticationError("Missing or invalid API key (Authorization: Bearer ...).")

    def route(self, name: str, hints: Hints) -> Route:
        routing = self.config.routing
        return resolve(
            name,
            hints,
            known=self.catalog.ids(),
            aliases=routing.aliases,
            default_model=routing.default_model,
        )

    def ready(self) -> tuple[bool, str]:
        if self.catalog.usable():
            return True, "ready"
        return False, "no backend with a usable model"

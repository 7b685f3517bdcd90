"""Shared fixtures: the fake upstream, and a real router serving on loopback.

`start_router(config_toml)` runs the real application (litestar under uvicorn with the
router's protocol and limits, as `router serve` does) in a background thread on a free port,
so tests talk to it over real sockets with the official `openai` SDK and can still look at the
service's state.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from router.app import Mode, RouterApp
from router.config import LoadedConfig, load_config
from router.server import RouterServer, server_config
from tests.conftest_embedded import embedded_mlx_model, embedded_model_path  # noqa: F401
from tests.fakes.upstream import FakeModel, FakeUpstream


class RunningRouter:
    """A router serving on 127.0.0.1:<free port> until `stop`."""

    def __init__(self, config_path: Path, calibrate: Mode = "off") -> None:
        loaded = _hermetic(load_config(str(config_path)), config_path.parent)
        self.app = RouterApp(loaded, calibrate)
        self.service = self.app.service
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        limits = self.service.config.server  # as `router serve` runs it, a shorter grace
        grace = min(2.0, limits.shutdown_grace)
        config = server_config(self.app.app, limits, timeout_graceful_shutdown=grace)
        self._server = RouterServer(config, on_exit=[self.app.stop_background])
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self, discovered: bool = True) -> RunningRouter:
        """Serve; with `discovered`, return once the first discovery is over (every backend
        answered or timed out), as the tests expect the models listed right away."""
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._server.started or (discovered and self.service.discovering):
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the router did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
        return sum(
            sample.value
            for family in self.service.metrics.registry.collect()
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )


def _hermetic(loaded: LoadedConfig, folder: Path) -> LoadedConfig:
    """The config with its measured profiles looked for in the test's own folder, so that a
    profile lying in the repository's `profiles/` never steers a test."""
    config = loaded.config
    if config.routing.profiles_dir != "profiles":
        return loaded
    routing = msgspec.structs.replace(config.routing, profiles_dir=str(folder / "profiles"))
    return LoadedConfig(msgspec.structs.replace(config, routing=routing), loaded.source)


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The router's data folder (stored responses) in a temporary folder for the whole session,
    never the user's own: set in the environment, so router processes the tests start use it
    too."""
    folder = tmp_path_factory.mktemp("router-data")
    before = os.environ.get("ROUTER_DATA_DIR")
    os.environ["ROUTER_DATA_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("ROUTER_DATA_DIR", None)
    else:
        os.environ["ROUTER_DATA_DIR"] = before


FAKE_MODELS = [
    FakeModel("fast-model", answer="The capital of France is Paris."),
    FakeModel("slow-model", answer="A slow but careful answer.", ttft=0.05),
    FakeModel("vision-model", answer="I see a cat.", capabilities=["vision"]),
]


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    """A fake LM Studio serving three models, shared by the session; reset before each use."""
    with FakeUpstream([FakeModel(**vars(m)) for m in FAKE_MODELS]) as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    """The shared fake upstream with its models as FAKE_MODELS declares them."""
    upstream.reset()
    for model in FAKE_MODELS:
        upstream.model(model.id).__dict__.update(vars(model))
    yield upstream


@pytest.fixture
def start_router(tmp_path: Path) -> Iterator[Callable[[str], RunningRouter]]:
    """A factory: `start_router(toml_text)` serves a router with that config."""
    running: list[RunningRouter] = []

    def start(config: str) -> RunningRouter:
        path = tmp_path / f"router-{len(running)}.toml"
        path.write_text(config)
        router = RunningRouter(path).start()
        running.append(router)
        return router

    yield start
    for router in running:
        router.stop()


@pytest.fixture(scope="session")
def embedded_router(
    tmp_path_factory: pytest.TempPathFactory,
    embedded_model_path: Path,  # noqa: F811 (the fixture, imported above)
) -> Iterator[RunningRouter]:
    """One router serving the embedded model in-process (id `smollm2`), shared by the session:
    its first answer loads the model, ~15 s on CI, paid once."""
    path = tmp_path_factory.mktemp("embedded-router") / "router.toml"
    models = f'{{ id = "smollm2", path = "{embedded_model_path}" }}'
    path.write_text(f'[[backends]]\nname = "local"\nkind = "mlx"\nmodels = [{models}]\n')
    router = RunningRouter(path).start()
    yield router
    router.stop()


def backend_toml(name: str, base_url: str, extra: str = "") -> str:
    return f'[[backends]]\nname = "{name}"\nkind = "openai"\nbase_url = "{base_url}"\n{extra}\n'


@pytest.fixture
def router(fake: FakeUpstream, start_router: Callable[[str], RunningRouter]) -> RunningRouter:
    """A router in front of the fake upstream, with `fast-model` as the default."""
    config = backend_toml("lmstudio", fake.base_url)
    config += '[routing]\ndefault_model = "fast-model"\n'
    return start_router(config)


def wait_ready(url: str, seconds: float = 90) -> None:
    """Poll `url` until it answers 200 (a router process starting up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not become ready")


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http(router: RunningRouter) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=router.root, timeout=10) as client:
        yield client

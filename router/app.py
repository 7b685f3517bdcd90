"""The composition root: what `router serve` runs, put together in one place.

`RouterApp` builds the `Service` (its backends from `router.backends.build_backend`), the HTTP
application over it (`router.api.create_app`), the Responses API's store
(`router.serving.response_store`, closed last) and the background calibration, and gives them
one lifecycle: at start the service starts, start-up's garbage is handed back to the system,
and calibration is scheduled; at shutdown calibration stops first (at once, before the grace
period: `stop_background`), then the service. Calibration is the quick start-up run where no
measured profile fits, then the full suites while clients leave the router idle
(`router.calibration.continuous`); `/readyz` shows how far it got.

Nothing below imports this module: the serving layer never knows about calibration, while
calibration builds on serving (it measures the replicas a `Service` holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import sys
from pathlib import Path
from typing import Any, Literal

from litestar import Litestar

from router.api import create_app
from router.calibration.calibrate import Options, run_background_calibration, select_suites
from router.calibration.continuous import Continuation
from router.config import LoadedConfig, ResponsesConfig, load_config
from router.grading.sandbox import detect
from router.metrics import Metrics
from router.serving.response_store import ResponseStore, open_store
from router.serving.service import Service

log = logging.getLogger("router")
Mode = Literal["quick", "full", "off"]


class RouterApp:
    """The service, its HTTP application and its background calibration, started and stopped
    together (the application's start-up and shutdown hooks call `start` and `stop`)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        calibrate: Mode = "off",
        host: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.service = Service(loaded, metrics)
        self.calibration = BackgroundCalibration(self.service, calibrate)
        self.responses = _response_store(loaded.config.responses)
        self.app: Litestar = create_app(
            self.service,
            host,
            on_startup=[self.start],
            on_shutdown=[self.stop],
            calibration=self.calibration.status,
            responses=self.responses,
        )

    async def start(self) -> None:
        await self.service.start(wait=False)  # a slow backend holds up nothing
        release_memory()
        self.calibration.start()

    async def stop(self) -> None:
        await self.calibration.stop()
        await self.service.stop()
        if self.responses is not None:
            await self.responses.close()
        gc.unfreeze()

    def stop_background(self) -> None:
        """The server is shutting down: stop background work now, not after the grace period."""
        self.calibration.cancel()


class BackgroundCalibration:
    """`router serve --calibrate quick|full`: once the first discovery is over, calibrate the
    models served unless a measured or configured profile already fits them; then (`[calibration]
    continue_when_idle`) measure the full suites pair by pair while the router is idle."""

    def __init__(self, service: Service, mode: Mode, options: Options | None = None) -> None:
        self.service = service
        self.mode: Mode = mode
        self.options = options or Options()  # which suites (tests narrow them)
        self.task: asyncio.Task[None] | None = None  # the start-up calibration
        self.continuing: asyncio.Task[None] | None = None  # then the idle continuation
        self.continuation: Continuation | None = None

    def start(self) -> None:
        if self.mode != "off":
            self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        await self.service.discovered()
        if self.service.active.how == "configured":
            return
        if self.service.active.how != "measured":
            mode: Literal["quick", "full"] = "full" if self.mode == "full" else "quick"
            warned = await _warn_without_sandbox()
            await run_background_calibration(
                self.service, mode, sandbox_warned=warned, options=self.options
            )
        active = self.service.active
        settings = self.service.config.calibration
        if settings.continue_when_idle and active.how == "measured" and active.profile:
            suites = select_suites(self.options)
            self.continuation = Continuation(self.service, suites, settings.idle_seconds)
            run = self.continuation.run(active.profile, Path(active.path or ""))
            self.continuing = asyncio.create_task(run)

    def status(self) -> dict[str, Any] | None:
        """How far calibration got (`/readyz`); None when serve does not calibrate."""
        if self.mode == "off":
            return None
        if self.continuation is not None:
            return self.continuation.status()
        running = self.task is not None and not self.task.done()
        return {"state": "starting" if running else "done"}

    def cancel(self) -> None:
        tasks = [t for t in (self.task, self.continuing) if t is not None and not t.done()]
        if tasks:
            log.info("shutting down: background calibration stopped")
        for task in tasks:
            task.cancel()

    async def stop(self) -> None:
        for task in (self.task, self.continuing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _response_store(settings: ResponsesConfig) -> ResponseStore | None:
    """The Responses API's store as `[responses]` sets it; None when off or not usable."""
    if not settings.store:
        return None
    max_bytes = int(settings.max_megabytes * 1024 * 1024)
    return open_store(settings.file(), settings.max_age_days * 86400, max_bytes)


async def _warn_without_sandbox() -> bool:
    """Say at start-up, in one line, that code answers will not be run in calibration and how
    to enable the sandbox, when there is none; whether it was said."""
    warning = (await asyncio.to_thread(detect)).warning()
    if warning is not None:
        log.warning("%s", warning)
    return warning is not None


def release_memory() -> None:
    """Give back to the OS what start-up used and freed (training the classifier takes ~80 MB
    of temporaries that glibc's malloc would otherwise keep resident for good), and take what
    start-up made out of the garbage collector's sight (a full collection walks every object:
    milliseconds in the middle of some request otherwise)."""
    gc.collect()
    gc.freeze()
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def app_from_environment() -> Litestar:
    """The application one worker of `router serve --workers N` builds for itself: the config
    named by `$ROUTER_WORKER_CONFIG`, listening on `$ROUTER_WORKER_HOST`, no background
    calibration (one worker alone could)."""
    loaded = load_config(os.environ["ROUTER_WORKER_CONFIG"])
    app = RouterApp(loaded, "off", os.environ.get("ROUTER_WORKER_HOST")).app
    app.on_shutdown.append(_leave_multiprocess_metrics)
    return app


def _leave_multiprocess_metrics() -> None:
    """Drop this worker's live gauges from the merged `/metrics` as it exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())

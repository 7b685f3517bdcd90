"""Whose code answers calibration may run: the sandbox this machine offers, and the backends
trusted to have their model-written code run in it (those the config names, unless
`trusted = false`, and in-process models; never servers found by zero-config discovery).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from router.grading.sandbox import Sandbox, detect
from router.serving.catalog import Replica

if TYPE_CHECKING:
    from router.serving.service import Service

log = logging.getLogger("router")


async def code_policy(
    service: Service, replicas: dict[str, Replica], warn: bool = True
) -> tuple[Sandbox, set[str]]:
    """The sandbox, and the backends whose code answers may run in it: those the config names
    (unless `trusted = false`) and in-process models, never servers found by discovery. Logs
    one warning line when code answers will not be run, and why (unless `warn` is false: the
    missing sandbox was said already)."""
    box = await asyncio.to_thread(detect)
    named = {b.name for b in service.config.backends}
    trusted = {b.name for b in service.config.backends if b.trusted} | {
        b.name for b in service.catalog.backends if b.kind == "mlx" and b.name not in named
    }
    untrusted = sorted({r.backend.name for r in replicas.values()} - trusted)
    if (warning := box.warning()) is not None:
        if warn:
            log.warning("%s", warning)
    elif untrusted:
        log.warning(
            "code answers of %s are not run: not named in a config (found by discovery) "
            "or trusted = false; name it in [[backends]] to trust it",
            ", ".join(untrusted),
        )
    return box, trusted


def code_checks(box: Sandbox, untrusted: set[str]) -> str:
    """The profile's `code_checks`: were code answers run, in which sandbox, for whom."""
    if not box.available or not untrusted:
        return box.describe()
    return f"{box.describe()}; skipped for untrusted backends: {', '.join(sorted(untrusted))}"

"""The `router` command: serve the proxy, and look at what it would serve.

Every failure the user can cause (a bad config, a port in use, a missing file) ends with one
line on stderr naming the problem and exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from router import __version__
from router.config import LoadedConfig, load_config
from router.errors import InvalidRequest, RouterError
from router.profiles import ActiveProfile
from router.tasks import POLICIES
from router.wire.models import GenerationKV, PromptCacheInfo

log = logging.getLogger("router")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except RouterError as err:
        print(f"router: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="router", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"router {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the OpenAI-compatible proxy")
    serve.add_argument("--config", metavar="F", help="config file (TOML)")
    serve.add_argument("--host", metavar="H", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", metavar="P", type=int, help="port (default 8800)")
    serve.add_argument(
        "--calibrate",
        choices=("quick", "full", "off"),
        default="quick",
        help="with no profile measured for these models here: calibrate in the background "
        "while serving from a prior (default: quick)",
    )
    serve.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=1,
        help="worker processes sharing the port (openai backends only; default 1)",
    )
    serve.set_defaults(run=_serve)

    models = commands.add_parser("models", help="list configured and discovered models")
    models.add_argument("--config", metavar="F", help="config file (TOML)")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.add_argument(
        "--url",
        metavar="URL",
        help="also read the live state (loaded, load time, prompt cache size and hit rate) "
        "from the router serving at URL, e.g. http://127.0.0.1:8800",
    )
    models.set_defaults(run=_models)

    _add_route_command(commands)
    _add_profile_commands(commands)

    gguf = commands.add_parser("import-gguf", help="turn a GGUF file into an mlx model folder")
    gguf.add_argument("path", help="the .gguf file")
    gguf.add_argument("--out", metavar="DIR", help="the folder to write (default: beside it)")
    gguf.set_defaults(run=_import_gguf)
    return parser


def _add_route_command(commands: argparse._SubParsersAction) -> None:
    """`router route`: the dry run."""
    route = commands.add_parser("route", help="dry run: which task and model a request would get")
    route.add_argument("--config", metavar="F", help="config file (TOML)")
    route.add_argument("--profile", metavar="F", help="route by this profile instead")
    route.add_argument("--json", action="store_true", help="print JSON")
    route.add_argument("--model", default="auto", help="the model name sent (default: auto)")
    route.add_argument("--task", help="as the x-router-task header")
    route.add_argument("--policy", choices=POLICIES, help="as the x-router-policy header")
    source = route.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", help="the user's message")
    source.add_argument("--stdin", action="store_true", help="read the message from stdin")
    source.add_argument("--messages-file", metavar="F", help="a JSON list of messages")
    route.set_defaults(run=_route)


def _add_profile_commands(commands: argparse._SubParsersAction) -> None:
    """`router calibrate` and `router profiles`."""
    calibrate = commands.add_parser("calibrate", help="benchmark the models, write a profile")
    calibrate.add_argument("--config", metavar="F", help="config file (TOML)")
    calibrate.add_argument("--models", metavar="ID,...", help="only these models (default: all)")
    calibrate.add_argument("--tasks", metavar="T,...", help="only these tasks (default: all)")
    calibrate.add_argument(
        "--quick", action="store_true", help="one prompt per task and language, short answers"
    )
    calibrate.add_argument(
        "--out", metavar="DIR", help="where to write the profile (default: [routing] profiles_dir)"
    )
    calibrate.add_argument("--report", metavar="F", help="also write a Markdown report (+ .svg)")
    calibrate.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        help="seconds per request (default: 30 + 0.5 per token asked, "
        "and 300 more for a model's first request, which may load it)",
    )
    calibrate.add_argument(
        "--judge",
        metavar="MODEL",
        help="also grade story, business_mail, style_rewrite and explain_simple by this model "
        "against the references, if it passes its check ('auto': the best of the prior; 'off'; "
        "default: [calibration] judge)",
    )
    calibrate.set_defaults(run=_calibrate)

    profiles = commands.add_parser(
        "profiles", help="show the active profile: per task, the ranked models"
    )
    profiles.add_argument("file", nargs="?", metavar="FILE", help="show this profile instead")
    profiles.add_argument("--config", metavar="F", help="config file (TOML)")
    profiles.add_argument("--json", action="store_true", help="print JSON")
    profiles.set_defaults(run=_profiles)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise


def _serve(args: argparse.Namespace) -> int:
    from router.server import serve

    loaded = load_config(args.config)
    server = loaded.config.server
    _setup_logging(server.log_level)
    host = args.host or server.host
    port = server.port if args.port is None else args.port
    serve(loaded, host, port, args.workers, args.calibrate)
    return 0


class ModelRow(msgspec.Struct):
    id: str
    backend: str
    kind: str
    state: str
    context_length: int | None
    capabilities: list[str]
    size_bytes: int | None
    load_seconds: float | None
    prompt_cache: PromptCacheInfo | None = None  # live only (--url): in-process models
    generation_kv: GenerationKV | None = None  # in-process models: the batch's KV allowance


def _models(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)
    logging.basicConfig(level=logging.WARNING, format="router: %(message)s")
    rows = asyncio.run(_model_rows(loaded))
    if args.url:
        rows = _with_live(rows, args.url, loaded.config.server.accepted_keys())
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(rows)).decode())
        return 0
    head = ["MODEL", "BACKEND", "KIND", "STATE", "CONTEXT", "SIZE", "LOAD", "CACHE", "HITS", "KV"]
    table = [[*head, "CAPABILITIES"]]
    for r in rows:
        size = f"{r.size_bytes / 1e6:.0f} MB" if r.size_bytes else "-"
        load = f"{r.load_seconds:.1f} s" if r.load_seconds is not None else "-"
        caps = ",".join(r.capabilities) or "-"
        ctx = str(r.context_length or "-")
        cache, hits = _cache_cells(r.prompt_cache)
        kv = _kv_cell(r.generation_kv)
        table.append([r.id, r.backend, r.kind, r.state, ctx, size, load, cache, hits, kv, caps])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if len(table) == 1:
        print("(no models: configure a backend, or start LM Studio, Ollama or llama.cpp)")
    return 0


def _cache_cells(info: PromptCacheInfo | None) -> tuple[str, str]:
    """A prompt cache as (size and entries, hit rate), or dashes when not known."""
    if info is None:
        return "-", "-"
    return f"{info.bytes / 1e6:.0f} MB/{info.entries}", f"{info.hit_rate:.0%}"


def _kv_cell(kv: GenerationKV | None) -> str:
    """The batch's KV allowance, with the tokens it holds when the model's shape is known."""
    if kv is None:
        return "-"
    return f"{kv.bytes / 1e6:.0f} MB" + (f"/{kv.tokens} tok" if kv.tokens is not None else "")


def _with_live(rows: list[ModelRow], url: str, keys: list[str]) -> list[ModelRow]:
    """The rows with the live state of the router at `url` (its /v1/models cards) for its
    in-process models; a router that does not answer is a one-line error."""
    import httpx

    headers = {"authorization": f"Bearer {keys[0]}"} if keys else {}
    try:
        answer = httpx.get(f"{url.rstrip('/')}/v1/models", headers=headers, timeout=5.0)
        answer.raise_for_status()
        cards = msgspec.json.decode(answer.content, type=LiveList).data
    except (httpx.HTTPError, msgspec.DecodeError) as err:
        why = (str(err).splitlines() or [type(err).__name__])[0]
        raise RouterError(f"--url: cannot read {url}/v1/models: {why}") from None
    live = {c.id: c for c in cards}
    out = []
    for row in rows:
        card = live.get(row.id) if row.kind == "mlx" else None
        if card is not None:
            state = card.state or row.state
            row = msgspec.structs.replace(
                row, state=state, load_seconds=card.load_seconds, prompt_cache=card.prompt_cache
            )
        out.append(row)
    return out


class LiveCard(msgspec.Struct):
    """What `router models --url` reads of a running router's model card."""

    id: str
    state: str | None = None
    load_seconds: float | None = None
    prompt_cache: PromptCacheInfo | None = None


class LiveList(msgspec.Struct):
    data: list[LiveCard]


async def _model_rows(loaded: LoadedConfig) -> list[ModelRow]:
    from router.serving.service import Service

    service = Service(loaded, routes=False)
    await service.start()
    try:
        rows = []
        for model_id in service.catalog.ids():
            for replica in service.catalog.replicas(model_id):
                card, backend = replica.card, replica.backend
                up = service.catalog.states[backend.name].up
                state = card.state or ("remote" if up else "down")
                rows.append(
                    ModelRow(
                        model_id,
                        backend.name,
                        backend.kind,
                        state,
                        card.context_length,
                        card.capabilities,
                        card.size_bytes,
                        card.load_seconds,
                        generation_kv=card.generation_kv,
                    )
                )
        return rows
    finally:
        await service.stop()


def _route(args: argparse.Namespace) -> int:
    from router.serving.explain import explain_request

    loaded = load_config(args.config)
    logging.basicConfig(level=logging.WARNING, format="router: %(message)s")
    messages = _messages(args)
    report = asyncio.run(
        explain_request(loaded, args.profile, messages, args.model, args.task, args.policy)
    )
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(report)).decode())
    else:
        print(report.text())
    return 0


def _messages(args: argparse.Namespace) -> list[dict[str, object]]:
    if args.messages_file:
        try:
            data = msgspec.json.decode(Path(args.messages_file).read_bytes())
        except (OSError, msgspec.DecodeError) as err:
            raise InvalidRequest(f"{args.messages_file}: cannot read messages: {err}") from None
        if isinstance(data, dict):
            data = data.get("messages")
        if not isinstance(data, list):
            raise InvalidRequest(f"{args.messages_file}: expected a JSON list of messages")
        return data
    text = sys.stdin.read() if args.stdin else args.text
    return [{"role": "user", "content": text}]


def _import_gguf(args: argparse.Namespace) -> int:
    from router.modelfiles.gguf import import_gguf

    source = Path(args.path).expanduser()
    out = Path(args.out).expanduser() if args.out else source.with_suffix("")
    print(import_gguf(source, out))
    return 0


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _calibrate(args: argparse.Namespace) -> int:
    from router.calibration.calibrate import Options, calibrate
    from router.calibration.report import Progress, summary, write_report

    loaded = load_config(args.config)
    logging.basicConfig(level=logging.WARNING, format="router: %(message)s")
    report = Path(args.report).expanduser() if args.report else None
    if report is not None and report.suffix == ".svg":
        raise RouterError(f"{report}: the report is Markdown; its chart goes beside it as .svg")
    if args.timeout is not None and not args.timeout > 0:
        raise RouterError("--timeout: give a number of seconds above 0")
    options = Options(
        models=_split(args.models),
        tasks=_split(args.tasks),
        quick=args.quick,
        out=args.out,
        timeout=args.timeout,
        judge=args.judge,
    )
    result = asyncio.run(calibrate(loaded, options, Progress(sys.stderr)))
    print(summary(result.profile))
    print(f"\nwrote {result.path} ({result.seconds:.0f} s)")
    if report is not None:
        try:
            chart = write_report(result.profile, report)
        except OSError as err:
            raise RouterError(f"{report}: cannot write the report: {err.strerror or err}") from None
        print(f"wrote {report} and {chart}")
    return 0


class _Shown(msgspec.Struct):
    path: str | None
    how: str
    profile: object


def _profiles(args: argparse.Namespace) -> int:
    from router.calibration.report import describe
    from router.profiles import load_profile

    if args.file:
        active = ActiveProfile(load_profile(Path(args.file).expanduser()), args.file, "file")
    else:
        logging.basicConfig(level=logging.WARNING, format="router: %(message)s")
        active = asyncio.run(_active_profile(load_config(args.config)))
    if args.json:
        shown = _Shown(active.path, active.how, active.profile)
        print(msgspec.json.format(msgspec.json.encode(shown)).decode())
    elif active.profile is None:
        print(f"no profile fits these models (routing by {active.how}); run `router calibrate`")
    else:
        print(describe(active.profile, f"{active.how} ({active.path})"))
    return 0


async def _active_profile(loaded: LoadedConfig) -> ActiveProfile:
    from router.serving.service import Service

    service = Service(loaded)
    await service.start()
    try:
        return service.active
    finally:
        await service.stop()

"""Typed configuration: the TOML file's schema, its loading, and its errors.

Every table of the file is a msgspec Struct that validates itself; a bad file stops the
router with one line naming the file, the key and the problem (`router.toml: backends[0].
base_url: must start with http:// or https://`). The smallest valid config is a list of
`[[backends]]`; every other table has defaults.

A `[[backends]]` entry is a tagged union on `kind` (`BackendConfig`: `OpenAIBackendConfig` or
`MLXBackendConfig`, their shared settings in `_Backend`), so a setting only the other kind reads
is an unknown key, named as such, never silently ignored.

Where the file comes from: `--config`, else `$ROUTER_CONFIG`, else `./router.toml`, else the
zero-config default (no file: the embedded model plus whatever local servers answer).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, ClassVar, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import msgspec
import msgspec.structs

from router.errors import ConfigError, split_validation
from router.paths import data_dir

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Capability = Literal["vision", "tools", "json", "embeddings"]
_ORIGIN = re.compile(r"\*|[a-z][a-z0-9+.-]*://[^/\s]+")  # as browsers send it: no path


class ServerConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = DEFAULT_HOST
    port: Port = DEFAULT_PORT
    api_keys: list[str] = []
    api_keys_env: str | None = None  # a variable holding comma-separated keys
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16 * 1024 * 1024
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    discovery_interval: Seconds = 30.0  # how often upstream model lists are re-read
    discovery_timeout: Seconds = 5.0  # how long one backend's model list may take
    # web pages (origins) whose scripts may call the router ("*": any); None: any when listening
    # on loopback, none otherwise
    cors_origins: list[str] | None = None
    # client connections (router.server): limits applied before a request reaches the router
    max_header_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 64 * 1024  # a larger head: 431
    header_timeout: Seconds = 10.0  # a request head must be complete this long after it began
    body_timeout: Seconds = 60.0  # a request body must be complete this long after its head
    keepalive_timeout: Seconds = 15.0  # idle keep-alive connections are closed after this
    max_connections: Annotated[int, msgspec.Meta(ge=1)] = 4096  # kept below the open-file limit
    shutdown_grace: Annotated[float, msgspec.Meta(ge=0)] = 25.0  # in-flight requests may finish

    def accepted_keys(self) -> list[str]:
        """Every accepted bearer key: those in the file plus those in `api_keys_env`."""
        from_env = os.environ.get(self.api_keys_env, "") if self.api_keys_env else ""
        return [*self.api_keys, *(k.strip() for k in from_env.split(",") if k.strip())]

    def __post_init__(self) -> None:
        for key in self.api_keys:  # an empty key would let every request in
            if not key.strip() or key != key.strip():
                raise ValueError("api_keys: a key must not be empty or begin or end with spaces")
        for origin in self.cors_origins or ():
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"cors_origins: {origin!r} is not '*' nor scheme://host[:port]")


class SamplingDefaults(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """mlx: sampling settings for requests that set none; each overrides the model's own
    `generation_config.json` (where a field is unset there too: greedy, as mlx_lm.server)."""

    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    top_k: Annotated[int, msgspec.Meta(ge=0)] | None = None
    min_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    repetition_penalty: Annotated[float, msgspec.Meta(gt=0)] | None = None


class ModelEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: str
    upstream_id: str | None = None  # the upstream's own name, when the router's id differs
    path: str | None = None  # mlx: the model folder
    context_length: Annotated[int, msgspec.Meta(ge=1)] | None = None
    capabilities: list[Capability] = []
    defaults: SamplingDefaults | None = None  # mlx: this model's, over the backend's

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValueError("model id must not be empty")


class _Backend(msgspec.Struct, forbid_unknown_fields=True, frozen=True, tag_field="kind"):
    """What every `[[backends]]` entry has; `kind` picks the rest (a key of the other kind is
    an unknown key)."""

    kind: ClassVar[str]
    name: str
    models: list[str | ModelEntry] | None = None  # None: read from the upstream (or the disk)
    max_queue: Annotated[int, msgspec.Meta(ge=0)] = 16  # per model, behind those running: 429
    queue_timeout: Seconds | None = 60.0  # how long a request may wait for a place (then 503)
    failure_threshold: Annotated[int, msgspec.Meta(ge=1)] = 3  # failures in a row: skip it
    cooldown: Seconds = 10.0  # for this long, then probe it again
    # calibration may run this backend's code answers (always sandboxed); false: never.
    # Servers found by zero-config discovery are never trusted.
    trusted: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError("name may hold only letters, digits, '_', '.' and '-'")

    def model_entries(self) -> list[ModelEntry] | None:
        """The configured models as entries (bare ids become entries), None when unlisted."""
        if self.models is None:
            return None
        return [ModelEntry(m) if isinstance(m, str) else m for m in self.models]

    def _refuse_in_models(self, *keys: str) -> None:
        """A model entry's key that only the other kind reads is an error, not ignored."""
        for i, entry in enumerate(self.model_entries() or ()):
            for key in keys:
                if getattr(entry, key) is not None:
                    raise ValueError(
                        f'models[{i}].{key}: not read by kind = "{self.kind}" backends'
                    )


class OpenAIBackendConfig(_Backend, tag="openai"):
    """`kind = "openai"`: an OpenAI-compatible server (router.backends.openai)."""

    kind: ClassVar[str] = "openai"
    base_url: str = ""  # required: checked below, so that the error says so
    api_key_env: str | None = None
    connect_timeout: Seconds = 5.0
    read_timeout: Seconds = 600.0  # to the first byte, and between events of a stream
    max_answer_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 32 * 2**20  # a whole answer: 502
    max_connections: Annotated[int, msgspec.Meta(ge=1)] = 64
    # per model at once, the rest wait (max_queue), then 429: below max_connections, so one
    # model's hung requests cannot take every pooled connection from its neighbours
    max_concurrency: Annotated[int, msgspec.Meta(ge=1)] | None = 32
    # the server answers /v1/responses itself (LM Studio, Ollama, vLLM): a Responses request
    # the chat path cannot express (hosted tools, files) is passed through to it as it is
    responses: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._refuse_in_models("path", "defaults")
        if not self.base_url:
            raise ValueError("an openai backend needs base_url")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        _check_url(self.base_url)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class MLXBackendConfig(_Backend, tag="mlx"):
    """`kind = "mlx"`: in-process models (router.backends.mlx). A model generates up to
    `max_concurrency` requests together, in one batch; the others wait in its queue
    (`max_queue`), by default for as long as it takes (`queue_timeout` unset)."""

    kind: ClassVar[str] = "mlx"
    # per model at once, decoding together in one batch (router.backends.mlx.batching), as
    # many as their KV caches fit generation_kv_bytes
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=32)] = 4
    queue_timeout: Seconds | None = None  # no limit: each waits for its turn
    model_dirs: list[str] = []  # folders scanned for model folders
    # residency, see router.backends.mlx.residency
    memory_budget_bytes: Annotated[int, msgspec.Meta(ge=1)] | None = None  # None: a RAM share
    memory_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.5  # of physical RAM
    idle_ttl: Annotated[float, msgspec.Meta(ge=0)] = 1800.0  # unload after idle; 0: never
    load_wait: Seconds = 120.0  # how long a load waits for busy models to free the budget
    # per model, inside the budget: KV caches of recent prompts; None: a tenth of the budget
    prompt_cache_bytes: Annotated[int, msgspec.Meta(ge=0)] | None = None  # 0: no prompt cache
    # per model, inside the budget: the KV caches of the requests generating together (each
    # one's prompt + max_tokens); a batch grows only within it, one request always runs;
    # None: a tenth of the budget, as the prompt cache (both are KV caches of one model)
    generation_kv_bytes: Annotated[int, msgspec.Meta(ge=0)] | None = None
    default_max_tokens: Annotated[int, msgspec.Meta(ge=1)] = 512  # when a request sets none
    defaults: SamplingDefaults | None = None  # sampling when a request sets none

    def __post_init__(self) -> None:
        super().__post_init__()
        self._refuse_in_models("upstream_id")

    def budget_bytes(self) -> int:
        """The memory budget: `memory_budget_bytes`, else `memory_fraction` of RAM."""
        if self.memory_budget_bytes is not None:
            return self.memory_budget_bytes
        import psutil

        return int(psutil.virtual_memory().total * self.memory_fraction)

    def prompt_cache_limit(self, budget: int) -> int:
        """Each model's prompt cache bound: `prompt_cache_bytes`, else a tenth of `budget`."""
        return budget // 10 if self.prompt_cache_bytes is None else self.prompt_cache_bytes

    def generation_kv_limit(self, budget: int) -> int:
        """Each model's in-flight KV allowance: `generation_kv_bytes`, else a tenth of `budget`."""
        return budget // 10 if self.generation_kv_bytes is None else self.generation_kv_bytes


BackendConfig = OpenAIBackendConfig | MLXBackendConfig  # one `[[backends]]` entry, by `kind`
BACKEND_KINDS: dict[str, type[_Backend]] = {"openai": OpenAIBackendConfig, "mlx": MLXBackendConfig}


def _check_url(url: str) -> None:
    """Refuse a base_url without a host, or with a port no socket can take."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ValueError(f"base_url {url!r}: {str(err).lower()}") from None
    if not parts.hostname:
        raise ValueError(f"base_url {url!r} has no host")
    if port == 0:
        raise ValueError(f"base_url {url!r}: port 0 is not one to connect to")


Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


class RoutingConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    default_model: str | None = None  # where `auto` goes when nothing else decides
    aliases: dict[str, str] = {}  # client-facing name or glob ("claude-*") -> model id or auto
    policy: Literal["quality", "latency", "balanced"] = "balanced"
    quality_floor: Share = 0.3  # a model under it on a task is never chosen for that task
    max_failure_rate: Share = 0.5  # nor one failing more often than this
    quality_weight: Share = 0.75  # balanced policy: quality's weight against speed
    latency_targets: dict[str, Seconds] = {}  # task -> seconds; models within it come first
    max_candidates: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3  # tried in order on failure
    profile: str | None = None  # the profile to route by; else the best match in profiles_dir
    profiles_dir: str = "profiles"
    tasks: dict[str, list[str]] = {}  # your own tasks: name -> example requests
    escalation: bool = True  # re-ask the next model when a routed answer fails its check
    no_escalation: list[str] = []  # tasks whose answers are never re-asked
    loop_guard: bool = True  # cut a stream whose model keeps repeating itself

    def __post_init__(self) -> None:
        for name, examples in self.tasks.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"tasks.{name}: a task name is lower-case letters, digits, '_'")
            if len(examples) < 3:
                raise ValueError(f"tasks.{name}: give at least 3 example requests")


class CalibrationConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """`router serve`'s calibration while it serves (`--calibrate` says whether it runs)."""

    # after the quick start-up calibration, measure one (model, task) at a time with the full
    # suite whenever no request has come for `idle_seconds`; paused as soon as one comes
    continue_when_idle: bool = True
    idle_seconds: Seconds = 30.0  # how long without requests counts as idle
    # an LLM judge for story, business_mail, style_rewrite, explain_simple: "off", "auto" (the
    # best model of the prior) or a model id; used only when it passes its check on the suite
    judge: str = "off"


class SessionsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Conversations kept on their model (router.serving.sessions)."""

    enabled: bool = True  # false: every turn is routed on its own
    max_sessions: Annotated[int, msgspec.Meta(ge=1)] = 10_000  # least recently used go first
    ttl: Seconds = 3600.0  # a conversation idle this long is forgotten
    switch_margin: Share = 0.05  # a task change moves only when the new best scores this more


class ResponsesConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Stored responses of the Responses API (router.serving.response_store)."""

    store: bool = True  # false: nothing is stored; GET /v1/responses/{id} answers 404
    path: str | None = None  # the SQLite file; None: <data dir>/responses.sqlite3
    max_age_days: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # older responses are deleted
    # past this many MiB of stored payload, the oldest responses are deleted first
    max_megabytes: Annotated[float, msgspec.Meta(gt=0)] = 256.0

    def __post_init__(self) -> None:
        if self.path is not None and not self.path.strip():
            raise ValueError("path: must not be empty (leave it out for the data folder)")

    def file(self) -> Path:
        """Where the store lives."""
        return Path(self.path).expanduser() if self.path else data_dir() / "responses.sqlite3"


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    server: ServerConfig = ServerConfig()
    backends: list[BackendConfig] = []
    routing: RoutingConfig = RoutingConfig()
    sessions: SessionsConfig = SessionsConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    responses: ResponsesConfig = ResponsesConfig()

    def __post_init__(self) -> None:
        names = [b.name for b in self.backends]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"backend names must be unique: {', '.join(duplicates)}")


class LoadedConfig(msgspec.Struct, frozen=True):
    config: Config
    source: str | None  # the file it came from; None for the zero-config default


def _decode_config(text: bytes) -> Config:
    return msgspec.toml.decode(text, type=Config)


def find_config_file(explicit: str | None) -> Path | None:
    """The config file to read: the explicit path, $ROUTER_CONFIG, ./router.toml, or None."""
    if explicit:
        return Path(explicit).expanduser()
    if env := os.environ.get("ROUTER_CONFIG"):
        return Path(env).expanduser()
    local = Path("router.toml")
    return local if local.is_file() else None


def parse_config(text: bytes, source: str) -> Config:
    """Decode and validate a config; errors name the source, the key and the problem."""
    try:
        return _decode_config(text)
    except msgspec.ValidationError as err:
        raise ConfigError(_describe_validation(source, err)) from None
    except msgspec.DecodeError as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        byte = err.object[err.start : err.start + 1].hex()
        line = err.object[: err.start].count(b"\n") + 1
        raise ConfigError(f"{source}: line {line}: not UTF-8 (byte 0x{byte})") from None


def load_config(explicit: str | None = None) -> LoadedConfig:
    """Find and read the config, or return the zero-config default when there is no file."""
    path = find_config_file(explicit)
    if path is None:
        return LoadedConfig(Config(), None)
    try:
        text = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror or err}") from None
    return LoadedConfig(parse_config(text, str(path)), str(path))


def _describe_validation(source: str, err: msgspec.ValidationError) -> str:
    """Turn msgspec's 'Problem - at `$.a[0].b`' into 'source: a[0].b: problem'."""
    problem, key = split_validation(err)
    problem = problem.replace("Object contains unknown field", "unknown key")
    problem = problem[:1].lower() + problem[1:]
    if problem.startswith(("invalid enum value", "invalid value")) and (choices := _choices(key)):
        problem = problem.replace("invalid value", "invalid enum value", 1)
        problem += f"; expected one of {', '.join(choices)}"
    if re.fullmatch(r"backends\[\d+\]", key) and (
        found := re.search(r"unknown key `(.+)`", problem)
    ):
        owners = [k for k, c in BACKEND_KINDS.items() if found[1] in c.__struct_fields__]
        if owners:
            kinds = " or ".join(f'"{k}"' for k in owners)
            problem += f" (only kind = {kinds} backends have it)"
    return f"{source}: {key}: {problem}" if key else f"{source}: {problem}"


def _choices(key: str) -> tuple[str, ...]:
    """The allowed values of the Literal-typed setting (or of the tag, like `kind`, that picks
    a Struct of a union) at a path like `routing.policy` or `backends[0].kind`."""
    kind: object = Config
    for name in re.sub(r"\[\d+\]", "", key).split("."):
        structs = get_args(kind) if get_origin(kind) in (Union, UnionType) else (kind,)
        tags = [getattr(t, "__struct_config__", None) for t in structs]
        if all(c is not None and c.tag_field == name for c in tags):
            return tuple(str(c.tag) for c in tags)  # type: ignore[union-attr]
        fields = {f.name: f.type for t in structs for f in msgspec.structs.fields(t)}  # type: ignore[arg-type]
        kind = fields.get(name)
        if get_origin(kind) is list:
            kind = get_args(kind)[0]
        if kind is None:
            return ()
    return get_args(kind) if get_origin(kind) is Literal else ()

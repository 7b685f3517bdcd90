"""Config loading: the smallest config works, every mistake is one line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import (
    Config,
    MLXBackendConfig,
    OpenAIBackendConfig,
    find_config_file,
    load_config,
    parse_config,
)
from router.errors import ConfigError

SMALLEST = b"""
[[backends]]
name = "lmstudio"                      # any OpenAI-compatible server
kind = "openai"
base_url = "http://127.0.0.1:1234/v1"

[[backends]]
name = "local"                          # in-process models
kind = "mlx"
"""


def test_the_spec_smallest_config_keeps_working() -> None:
    config = parse_config(SMALLEST, "router.toml")
    assert [b.name for b in config.backends] == ["lmstudio", "local"]
    assert config.server.host == "127.0.0.1" and config.server.port == 8800
    assert config.backends[0].models is None


def test_each_kind_has_its_own_settings_and_defaults() -> None:
    openai, mlx = parse_config(SMALLEST, "router.toml").backends
    assert isinstance(openai, OpenAIBackendConfig) and isinstance(mlx, MLXBackendConfig)
    assert (openai.kind, mlx.kind) == ("openai", "mlx")
    assert (openai.max_concurrency, openai.queue_timeout) == (32, 60.0)
    assert (mlx.max_concurrency, mlx.queue_timeout) == (4, None)  # one batch of 4, waits its turn
    assert not hasattr(openai, "idle_ttl") and not hasattr(mlx, "base_url")


def test_models_may_be_ids_or_tables() -> None:
    config = parse_config(
        SMALLEST.replace(
            b'kind = "openai"',
            b'kind = "openai"\nmodels = ["a", { id = "b", upstream_id = "org/b", '
            b'context_length = 8192, capabilities = ["vision"] }]',
        ),
        "router.toml",
    )
    entries = config.backends[0].model_entries()
    assert entries is not None
    assert [(e.id, e.upstream_id) for e in entries] == [("a", None), ("b", "org/b")]
    assert entries[1].capabilities == ["vision"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"[server]\nport = 'x'\n", "my.toml: server.port: expected `int`, got `str`"),
        (b"[server]\nport = 70000\n", "my.toml: server.port: expected `int` <= 65535"),
        (b"[server]\nprot = 1\n", "my.toml: server: unknown key `prot`"),
        (
            b'[[backends]]\nname = "a"\nkind = "openai"\n',
            "my.toml: backends[0]: an openai backend needs base_url",
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "openai"\nbase_url = "127.0.0.1:1234"\n',
            "my.toml: backends[0]: base_url must start with http:// or https://",
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "ollama"\n',
            "my.toml: backends[0].kind: invalid enum value 'ollama'; expected one of openai, mlx",
        ),
        (
            b'[[backends]]\nname = "a b"\nkind = "mlx"\n',
            "my.toml: backends[0]: name may hold only letters",
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "mlx"\n[[backends]]\nname = "a"\nkind = "mlx"\n',
            "my.toml: backend names must be unique: a",
        ),
        (b"[[backends]\n", "my.toml: not valid TOML"),
        (
            b'[[backends]]\nname = "a"\nkind = "openai"\nbase_url = "http://h/v1"\nidle_ttl = 5\n',
            'my.toml: backends[0]: unknown key `idle_ttl` (only kind = "mlx" backends have it)',
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "mlx"\nread_timeout = 5\n',
            'my.toml: backends[0]: unknown key `read_timeout` (only kind = "openai" backends',
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "mlx"\nmax_concurrency = 64\n',
            "my.toml: backends[0].max_concurrency: expected `int` <= 32",
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "mlx"\nbogus = 1\n',
            "my.toml: backends[0]: unknown key `bogus`",
        ),
        (
            b'[[backends]]\nname = "a"\n',
            "my.toml: backends[0]: object missing required field `kind`",
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "openai"\nbase_url = "http://h/v1"\n'
            b'models = [{ id = "m", path = "/models/m" }]\n',
            'my.toml: backends[0]: models[0].path: not read by kind = "openai" backends',
        ),
        (
            b'[routing]\npolicy = "fastest"\n',
            "my.toml: routing.policy: invalid enum value 'fastest'; expected one of quality",
        ),
    ],
)
def test_bad_configs_name_file_key_and_problem(text: bytes, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml")
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_config_file_is_found_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROUTER_CONFIG", raising=False)
    assert find_config_file(None) is None
    assert load_config().source is None and load_config().config == Config()
    (tmp_path / "router.toml").write_bytes(SMALLEST)
    assert find_config_file(None) == Path("router.toml")
    other = tmp_path / "other.toml"
    other.write_bytes(b"")
    monkeypatch.setenv("ROUTER_CONFIG", str(other))
    assert find_config_file(None) == other
    assert find_config_file("explicit.toml") == Path("explicit.toml")


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.toml: cannot read config"):
        load_config(str(tmp_path / "missing.toml"))


def test_api_keys_from_file_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_KEYS", "k2, k3 ,")
    config = parse_config(b'[server]\napi_keys = ["k1"]\napi_keys_env = "ROUTER_KEYS"\n', "f")
    assert config.server.accepted_keys() == ["k1", "k2", "k3"]

"""Issue 11, section 5: a stream's slot survives a failed header send, header values are safe,
a hung model list holds nothing up, auth keys, config errors and stale temp files."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from router import api_generation as api
from router.api_generation import header_value
from router.config import parse_config
from router.errors import ConfigError
from router.profiles import remove_stale_temp_files, write_atomically
from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream

CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def _stream(client: httpx.Client, model: str) -> httpx.Response:
    response = client.post("/v1/chat/completions", json={**CHAT, "model": model, "stream": True})
    response.read()
    return response


def _gate_active(router: RunningRouter, model: str) -> int:
    (replica,) = router.service.catalog.replicas(model)
    assert replica.gate is not None
    return replica.gate.active


def test_a_failed_header_send_gives_the_slot_back(
    fake: FakeUpstream,
    start_router: Callable[[str], RunningRouter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = "max_concurrency = 1\nmax_queue = 0\n"
    router = start_router(backend_toml("lmstudio", fake.base_url, extra))
    real = api.route_headers
    bad = [(b"x-router-model", b"a\x01")]
    monkeypatch.setattr(api, "route_headers", lambda *a: bad)
    # the server cannot send that header
    with httpx.Client(base_url=router.root, timeout=10) as client, pytest.raises(httpx.HTTPError):
        _stream(client, "fast-model")
    monkeypatch.setattr(api, "route_headers", real)
    assert _gate_active(router, "fast-model") == 0
    assert router.metric("router_requests_in_flight", model="fast-model") == 0
    with httpx.Client(base_url=router.root, timeout=10) as client:
        assert _stream(client, "fast-model").status_code == 200  # admitted, not 429


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("fast-model", b"fast-model"),
        ("a\r\nx-evil: 1", b"a\\r\\nx-evil: 1"),
        ("tab\there\x00\x7f\x85", b"tab\\there\\x00\\x7f\\x85"),
        ("mod\u00e8le-\U0001f600", b"mod\\xe8le-\\U0001f600"),
    ],
)
def test_header_values_are_printable_ascii(value: str, sent: bytes) -> None:
    assert header_value(value) == sent
    assert all(0x20 <= b < 0x7F for b in header_value(value))


def test_an_upstream_model_id_with_a_control_character_is_refused(
    start_router: Callable[[str], RunningRouter], caplog: pytest.LogCaptureFixture
) -> None:
    models = [FakeModel("good", answer="Fine."), FakeModel("bad\x01id", answer="Bad.")]
    extra = "max_concurrency = 1\nmax_queue = 0\n"
    with FakeUpstream(models) as up, caplog.at_level(logging.WARNING, logger="router"):
        router = start_router(backend_toml("up", up.base_url, extra))
        with httpx.Client(base_url=router.root, timeout=10) as client:
            ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
            assert "good" in ids and "bad\x01id" not in ids
            refused = _stream(client, "bad\x01id")
            assert refused.status_code == 404
            for _ in range(2):  # one place, taken and given back each time
                response = _stream(client, "good")
                assert response.status_code == 200
                assert response.headers["x-router-model"] == "good"
    assert "refusing model id 'bad\\x01id'" in caplog.text


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as sock:
        yield sock.getsockname()[1]


def test_a_hung_model_list_holds_up_neither_start_nor_the_others(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter], silent_port: int
) -> None:
    config = "[server]\ndiscovery_timeout = 1\ndiscovery_interval = 0.3\n"
    config += backend_toml("hung", f"http://127.0.0.1:{silent_port}/v1", "read_timeout = 60")
    config += backend_toml("lmstudio", fake.base_url)
    began = time.monotonic()
    router = start_router(config)
    with httpx.Client(base_url=router.root, timeout=10) as client:
        ready = client.get("/readyz")
        took = time.monotonic() - began
        assert ready.status_code == 200, ready.text
        assert took < 8, f"start-up took {took:.1f}s behind a hung backend"
        backends = ready.json()["backends"]
        assert backends["lmstudio"]["up"] and not backends["hung"]["up"]
        assert "no model list within 1s" in backends["hung"]["error"]
        fake.add_model(FakeModel("newcomer"))  # the refresh loop goes on past the hung one
        try:
            deadline = time.monotonic() + 5
            while "newcomer" not in router.service.catalog.ids():
                assert time.monotonic() < deadline, "the refresh loop is stuck"
                time.sleep(0.1)
        finally:
            fake._models.pop("newcomer")


def test_non_ascii_api_keys_compare_as_bytes(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(
        '[server]\napi_keys = ["sk-cl\u00e9"]\n' + backend_toml("lm", fake.base_url)
    )
    with httpx.Client(base_url=router.root, timeout=10) as client:
        right = {"authorization": "Bearer sk-cl\u00e9".encode()}  # raw UTF-8 on the wire
        wrong = {"authorization": "Bearer sk-cle\u0301".encode()}
        assert client.get("/v1/models", headers=right).status_code == 200
        chat = client.post(
            "/v1/chat/completions", headers=right, json={**CHAT, "model": "fast-model"}
        )
        assert chat.status_code == 200, chat.text
        for headers in (wrong, {"authorization": "Bearer sk-cl\u00e9".encode("latin-1")}, {}):
            response = client.get("/v1/models", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            b'[server]\napi_keys = [""]\n',
            "my.toml: server: api_keys: a key must not be empty or begin or end with spaces",
        ),
        (
            b'[server]\napi_keys = ["ok", "  "]\n',
            "my.toml: server: api_keys: a key must not be empty or begin or end with spaces",
        ),
        (
            backend_toml("a", "http://127.0.0.1:99999/v1").encode(),
            "my.toml: backends[0]: base_url 'http://127.0.0.1:99999/v1': port out of range",
        ),
        (
            backend_toml("a", "http://h:0/v1").encode(),
            "my.toml: backends[0]: base_url 'http://h:0/v1': port 0 is not one to connect to",
        ),
        (
            backend_toml("a", "http:///v1").encode(),
            "my.toml: backends[0]: base_url 'http:///v1' has no host",
        ),
        (
            b'[[backends]]\nname = "a"\nkind = "mlx"\n# caf\xe9\n',
            "my.toml: line 4: not UTF-8 (byte 0xe9)",
        ),
        (
            b"[server]\ndiscovery_timeout = 0\n",
            "my.toml: server.discovery_timeout: expected `float` > 0.0",
        ),
    ],
)
def test_config_mistakes_are_one_line(text: bytes, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "my.toml")
    assert raised.value.message.startswith(expected)
    assert "\n" not in raised.value.message


def test_router_models_with_a_bad_port_is_one_line(tmp_path: Path) -> None:
    from tests.test_cli import run

    config = tmp_path / "router.toml"
    config.write_text(backend_toml("a", "http://127.0.0.1:99999/v1"))
    result = run("models", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith("router: ") and result.stderr.count("\n") == 1
    assert "port out of range" in result.stderr and "Traceback" not in result.stderr


def _aged(path: Path, seconds: float) -> Path:
    path.write_text("half a profile")
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_stale_temp_files_of_profile_writes_are_removed(tmp_path: Path) -> None:
    stale = _aged(tmp_path / ".mac-1a2b.toml.k3_x9qzp", 600)
    fresh = _aged(tmp_path / ".mac-1a2b.toml.abcd1234", 5)  # a write may be going on now
    others = [
        _aged(tmp_path / name, 600) for name in (".notes.toml.bak", "mac.toml", ".x.txt.abcd1234")
    ]
    write_atomically(tmp_path / "written.toml", b"x = 1\n")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert not stale.exists() and fresh.exists() and all(p.exists() for p in others)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [fresh.name, "written.toml", *(p.name for p in others)]
    )


def test_serve_removes_stale_temp_files_at_start(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter], tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    stale = _aged(profiles / ".mac-1a2b.toml.k3_x9qzp", 600)
    start_router(backend_toml("lmstudio", fake.base_url))
    assert not stale.exists()

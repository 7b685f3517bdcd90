"""`router models --url`: the configured models with the live state of a running router (its
/v1/models cards, served here by a small HTTP server on loopback): loaded, load time, and each
in-process model's prompt cache (size, entries, hit rate). Without `--url`, no cache figures;
a router that does not answer is a one-line error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from router.cli import main as cli_main
from tests.conftest import free_port

CACHE = {
    "bytes": 12_000_000,
    "entries": 3,
    "longest": 900,
    "hit_tokens": 1800,
    "prompt_tokens": 2400,
    "hit_rate": 0.75,
}
CARDS = [
    {"id": "auto", "object": "model", "created": 0, "owned_by": "router"},
    {
        "id": "tiny",
        "object": "model",
        "created": 0,
        "owned_by": "router",
        "state": "loaded",
        "load_seconds": 1.25,
        "prompt_cache": CACHE,
    },
]


class Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": CARDS}).encode()
        status = 200 if self.path == "/v1/models" else 404
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None: ...


@pytest.fixture
def live() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama", "max_position_embeddings": 64}')
    (folder / "model.safetensors").write_bytes(b"\0" * 1000)
    path = tmp_path / "router.toml"
    path.write_text(
        f'[[backends]]\nname = "local"\nkind = "mlx"\n'
        f'models = [{{ id = "tiny", path = "{folder}" }}]\n'
    )
    return path


def test_models_url_shows_the_live_prompt_cache(
    config: Path, live: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["models", "--json", "--config", str(config), "--url", live]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["id"], row["state"], row["load_seconds"]) == ("tiny", "loaded", 1.25)
    assert row["prompt_cache"] == CACHE
    assert cli_main(["models", "--config", str(config), "--url", live]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split()[7:9] == ["CACHE", "HITS"]
    assert line.split()[:4] == ["tiny", "local", "mlx", "loaded"]
    assert "12 MB/3" in line and "75%" in line


def test_models_without_url_has_no_cache_figures(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["models", "--json", "--config", str(config)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["state"], row["prompt_cache"]) == ("on disk", None)


def test_models_url_that_does_not_answer_is_one_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert cli_main(["models", "--config", str(config), "--url", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"router: --url: cannot read {url}/v1/models:") and "\n" not in err


def test_models_show_the_generating_kv_allowance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The allowance (a tenth of the budget) and the tokens it holds at the model's KV bytes per
    token (SmolLM2-135M's shape: 2 x 30 layers x 3 KV heads x 64 x 2 bytes = 23,040)."""
    folder = tmp_path / "smol"
    folder.mkdir()
    shape = {"num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3}
    (folder / "config.json").write_text(json.dumps({**shape, "hidden_size": 576}))
    (folder / "model.safetensors").write_bytes(b"\0" * 1000)
    path = tmp_path / "router.toml"
    path.write_text(
        f'[[backends]]\nname = "local"\nkind = "mlx"\nmemory_budget_bytes = 2304000000\n'
        f'models = [{{ id = "smol", path = "{folder}" }}]\n'
    )
    assert cli_main(["models", "--json", "--config", str(path)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["generation_kv"] == {"bytes": 230_400_000, "per_token": 23_040, "tokens": 10_000}
    assert cli_main(["models", "--config", str(path)]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split()[9] == "KV"
    assert "230 MB/10000 tok" in line

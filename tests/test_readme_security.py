"""The README's Security section says what the limits are: every setting it names exists in
`router/config.py` with the default it states, and so do the sandbox's limits."""

from __future__ import annotations

import re

import pytest

from router.config import OpenAIBackendConfig, ServerConfig
from router.grading.checks import Code
from router.grading.sandbox_argv import Limits
from router.serving.admission import MAX_BUSY
from tests import REPO

MIB = 2**20
SERVER = ServerConfig()
OPENAI = OpenAIBackendConfig(name="x", base_url="http://127.0.0.1:1/v1")


def _security() -> str:
    text = (REPO / "README.md").read_text()
    return text.split("\n## Security\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    ("said", "value", "default"),
    [
        ("(`max_header_bytes`, 64 KiB)", SERVER.max_header_bytes, 64 * 1024),
        ("(`header_timeout`, 10 s)", SERVER.header_timeout, 10.0),
        ("(`body_timeout`, 60 s)", SERVER.body_timeout, 60.0),
        ("`max_body_bytes` (16 MiB)", SERVER.max_body_bytes, 16 * MIB),
        ("(`keepalive_timeout`, 15 s)", SERVER.keepalive_timeout, 15.0),
        ("(`max_connections`, 4096 per worker)", SERVER.max_connections, 4096),
        ("(`shutdown_grace`, 25 s,", SERVER.shutdown_grace, 25.0),
        ("(`max_answer_bytes`, 32 MiB;", OPENAI.max_answer_bytes, 32 * MIB),
        ("`Retry-After`, up to 60 s", MAX_BUSY, 60.0),
        ("`trusted = false`", OPENAI.trusted, True),
        ("private 64 MiB `/tmp`", Limits().tmp_mb, 64),
        ("memory (512 MiB)", Limits().memory_mb, 512),
        ("file size (16 MiB)", Limits().file_mb, 16),
        ("open files (64)", Limits().open_files, 64),
        ("processes (32)", Limits().processes, 32),
        ("after its time limit\n(10 s)", Code(checks="").timeout_s, 10.0),
    ],
)
def test_each_limit_the_security_section_states_is_the_default(
    said: str, value: object, default: object
) -> None:
    assert said in _security()
    assert value == default


def test_every_setting_it_names_exists() -> None:
    names = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", _security()))
    names |= set(re.findall(r"`\[server\] ([a-z_]+)`", _security()))
    fields = set(ServerConfig.__struct_fields__) | set(OpenAIBackendConfig.__struct_fields__)
    not_settings = {"too_many_connections", "shutting_down"}  # error codes
    assert names - not_settings <= fields, names - not_settings - fields
    assert {"api_keys", "cors_origins", "max_header_bytes", "shutdown_grace"} <= names

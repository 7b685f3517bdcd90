"""Where the router writes while serving: the data folder, and `[responses] path` under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import parse_config
from router.errors import ConfigError
from router.paths import data_dir


def test_data_dir_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_DATA_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "explicit"
    monkeypatch.delenv("ROUTER_DATA_DIR")
    assert data_dir() == tmp_path / "xdg" / "router"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "router"


def test_tests_never_write_into_the_real_data_dir() -> None:
    assert not str(data_dir()).startswith(str(Path.home() / ".local"))


def test_responses_settings_and_where_the_file_lives(tmp_path: Path) -> None:
    default = parse_config(b"", "r.toml").responses
    assert (default.store, default.max_age_days, default.max_megabytes) == (True, 30.0, 256.0)
    assert default.file() == data_dir() / "responses.sqlite3"
    chosen = parse_config(f'[responses]\npath = "{tmp_path}/r.db"\n'.encode(), "r.toml")
    assert chosen.responses.file() == tmp_path / "r.db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            b"[responses]\nmax_age_days = 0\n",
            "r.toml: responses.max_age_days: expected `float` > 0.0",
        ),
        (
            b"[responses]\nmax_megabytes = -1\n",
            "r.toml: responses.max_megabytes: expected `float` > 0.0",
        ),
        (b'[responses]\npath = ""\n', "r.toml: responses: path: must not be empty"),
        (b"[responses]\nstored = true\n", "r.toml: responses: unknown key `stored`"),
        (b'[responses]\nstore = "yes"\n', "r.toml: responses.store: expected `bool`, got `str`"),
    ],
)
def test_bad_responses_settings_are_one_line(text: bytes, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "r.toml")
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)

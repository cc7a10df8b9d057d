"""Settings load like Core Tools: a file's Values fill the environment but never override it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from localdev.host.settings import (HostConfig, SettingsError, apply_values, find_settings_file,
                                    read_values)


def _write_settings(path: Path, values: dict[str, object]) -> Path:
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return path


def test_local_settings_wins_over_example(tmp_path: Path) -> None:
    example = _write_settings(tmp_path / "local.settings.example.json", {"A": "example"})
    assert find_settings_file(tmp_path) == example
    local = _write_settings(tmp_path / "local.settings.json", {"A": "local"})
    assert find_settings_file(tmp_path) == local


def test_explicit_settings_file_wins_and_must_exist(tmp_path: Path) -> None:
    _write_settings(tmp_path / "local.settings.json", {"A": "local"})
    chosen = _write_settings(tmp_path / "other.json", {"A": "other"})
    assert find_settings_file(tmp_path, Path("other.json")) == chosen
    with pytest.raises(SettingsError, match="not found"):
        find_settings_file(tmp_path, Path("missing.json"))


def test_no_settings_file_is_fine(tmp_path: Path) -> None:
    assert find_settings_file(tmp_path) is None


def test_values_become_strings(tmp_path: Path) -> None:
    path = _write_settings(tmp_path / "s.json", {"S": "x", "N": 3, "B": True, "NONE": None})
    assert read_values(path) == {"S": "x", "N": "3", "B": "true"}


@pytest.mark.parametrize("content", ["not json", '{"Values": []}', "[]"])
def test_malformed_settings_are_reported(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(SettingsError):
        read_values(path)


def test_environment_wins_over_file_values() -> None:
    environ = {"ALREADY": "from-env", "EMPTY": ""}
    applied = apply_values({"ALREADY": "from-file", "EMPTY": "from-file", "NEW": "from-file"}, environ)
    assert environ == {"ALREADY": "from-env", "EMPTY": "", "NEW": "from-file"}
    assert applied == ["NEW"]


def test_host_json_route_prefix_and_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert HostConfig.load(tmp_path) == HostConfig(route_prefix="api", task_hub="TestHubName")
    (tmp_path / "host.json").write_text(json.dumps(
        {"version": "2.0", "extensions": {"http": {"routePrefix": "/v1/"}, "durableTask": {"hubName": "Hub"}}}))
    assert HostConfig.load(tmp_path) == HostConfig(route_prefix="v1", task_hub="Hub")
    (tmp_path / "host.json").write_text(json.dumps(
        {"extensions": {"http": {"routePrefix": ""}, "durableTask": {"hubName": "%MY_HUB%"}}}))
    monkeypatch.setenv("MY_HUB", "FromSetting")
    assert HostConfig.load(tmp_path) == HostConfig(route_prefix="", task_hub="FromSetting")


def test_host_section_of_local_settings(tmp_path: Path) -> None:
    from localdev.host.settings import LocalHostSection

    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {}, "Host": {"LocalHttpPort": "7072",
                                                       "CORS": "http://localhost:4280, http://a.test",
                                                       "CORSCredentials": True}}))
    section = LocalHostSection.read(path)
    assert section.local_http_port == 7072
    assert section.cors_origins == ("http://localhost:4280", "http://a.test")
    assert section.cors_credentials is True
    assert LocalHostSection.read(None) == LocalHostSection()


@pytest.mark.parametrize(("value", "seconds"), [("00:10:00", 600.0), ("01:00:00.5", 3600.5), ("1.00:00:00", 86400.0),
                                                ("-1", None), (None, None)])
def test_function_timeout_timespans(value: object, seconds: float | None) -> None:
    from localdev.host.settings import parse_timespan

    assert parse_timespan(value) == seconds


def test_bad_function_timeout_is_reported() -> None:
    from localdev.host.settings import parse_timespan

    with pytest.raises(SettingsError):
        parse_timespan("ten minutes")

"""App settings and host.json, read the way Core Tools and the Functions host read them.

Core Tools copies the `Values` of `local.settings.json` into the worker's environment, but a variable that is
already set in the environment wins: that is what lets tests and `make run` point the app at the emulators
without editing files. This host does the same, and falls back to `local.settings.example.json` so that a
fresh checkout runs without a copy step.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, MutableMapping

SETTINGS_FILE = "local.settings.json"
EXAMPLE_SETTINGS_FILE = "local.settings.example.json"
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_TASK_HUB = "TestHubName"


class SettingsError(ValueError):
    """A settings or host.json file that cannot be used."""


def find_settings_file(app_root: Path, explicit: Path | None = None) -> Path | None:
    """`--settings FILE` if given (it must exist), else local.settings.json, else the example file."""
    if explicit is not None:
        path = explicit if explicit.is_absolute() else app_root / explicit
        if not path.is_file():
            raise SettingsError(f"settings file not found: {path}")
        return path
    for name in (SETTINGS_FILE, EXAMPLE_SETTINGS_FILE):
        candidate = app_root / name
        if candidate.is_file():
            return candidate
    return None


def _read_document(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc


def read_values(path: Path) -> dict[str, str]:
    """The `Values` object of a local settings file, every value as a string (the worker sees strings)."""
    document = _read_document(path)
    values = document.get("Values", {}) if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise SettingsError(f"{path}: 'Values' must be an object")
    result: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            result[str(key)] = "true" if value else "false"
        else:
            result[str(key)] = str(value)
    return result


@dataclass(frozen=True)
class LocalHostSection:
    """The `Host` object of a local settings file, as Core Tools uses it."""

    local_http_port: int | None = None
    cors_origins: tuple[str, ...] = ()
    cors_credentials: bool = False

    @classmethod
    def read(cls, path: Path | None) -> "LocalHostSection":
        if path is None:
            return cls()
        document = _read_document(path)
        section = document.get("Host") if isinstance(document, dict) else None
        if not isinstance(section, dict):
            return cls()
        port = section.get("LocalHttpPort")
        origins = [o.strip() for o in str(section.get("CORS") or "").split(",") if o.strip()]
        return cls(local_http_port=int(port) if port not in (None, "") else None,
                   cors_origins=tuple(origins),
                   cors_credentials=str(section.get("CORSCredentials", "false")).lower() == "true")


def apply_values(values: Mapping[str, str], environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Copy values into the environment without overriding what is set; returns the names applied."""
    target = os.environ if environ is None else environ
    applied: list[str] = []
    for key, value in values.items():
        if key in target:
            continue
        target[key] = value
        applied.append(key)
    return applied


def parse_timespan(value: Any) -> float | None:
    """host.json's `functionTimeout` ("hh:mm:ss", "d.hh:mm:ss", "-1" for none) in seconds."""
    if value in (None, "", "-1", -1):
        return None
    text = str(value).strip()
    days = 0
    if "." in text.split(":")[0]:
        day_text, text = text.split(".", 1)
        days = int(day_text)
    parts = text.split(":")
    if len(parts) != 3:
        raise SettingsError(f"host.json functionTimeout {value!r} is not hh:mm:ss")
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError as exc:
        raise SettingsError(f"host.json functionTimeout {value!r} is not hh:mm:ss") from exc
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json this host honours."""

    route_prefix: str = DEFAULT_ROUTE_PREFIX
    task_hub: str = DEFAULT_TASK_HUB
    function_timeout: float | None = None  # seconds; None = unlimited ("-1"), as host.json allows

    @classmethod
    def load(cls, app_root: Path) -> "HostConfig":
        path = app_root / "host.json"
        if not path.is_file():
            return cls()
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SettingsError(f"cannot read {path}: {exc}") from exc
        extensions = document.get("extensions") or {}
        http = extensions.get("http") or {}
        prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
        durable = extensions.get("durableTask") or {}
        hub = str(durable.get("hubName") or DEFAULT_TASK_HUB)
        if len(hub) > 2 and hub.startswith("%") and hub.endswith("%"):
            # host.json may name an app setting (`%TASK_HUB%`), resolved after settings are applied.
            hub = os.environ.get(hub[1:-1], DEFAULT_TASK_HUB)
        return cls(route_prefix=str(prefix).strip("/"), task_hub=str(hub),
                   function_timeout=parse_timespan(document.get("functionTimeout")))

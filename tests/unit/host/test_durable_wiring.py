"""The host runs without the durable runtime when it is not there, and says so."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from localdev.host.durable_wiring import create_durable_hook


def test_missing_runtime_module_is_logged_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="localdev.host"):
        hook = create_durable_hook([], state_dir=tmp_path, base_url="http://127.0.0.1:1", task_hub="Hub",
                                   module_name="localdev.no_such_runtime")
    assert hook is None
    assert "durable endpoints are not served" in caplog.text


def test_runtime_supplies_client_binding_and_routes(tmp_path: Path) -> None:
    hook = create_durable_hook([], state_dir=tmp_path / "state", base_url="http://127.0.0.1:7999", task_hub="Hub")
    assert hook is not None
    binding = json.loads(hook.binding_value("durableClient"))
    assert binding["taskHubName"] == "Hub"
    assert binding["rpcBaseUrl"].startswith("http://127.0.0.1:7999/runtime/webhooks/durabletask")
    assert hook.routes()
    with pytest.raises(RuntimeError):
        hook.binding_value("blob")

"""Without Chromium the browser tests fail and say what to install; they never skip silently."""
from __future__ import annotations

import pytest

from tests.fixtures.stack import chromium_executable

pytestmark = pytest.mark.e2e


def test_missing_chromium_fails_with_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-such-chromium"))
    with pytest.raises(pytest.fail.Exception) as failure:
        chromium_executable()
    message = str(failure.value)
    assert "no-such-chromium" in message
    assert "apt-get install -y chromium" in message


def test_configured_chromium_is_used(monkeypatch):
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    assert chromium_executable() == "/usr/bin/chromium"

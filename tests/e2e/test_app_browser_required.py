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


def test_playwrights_own_chromium_is_found_without_a_system_one(monkeypatch, tmp_path):
    from tests.fixtures import stack

    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    monkeypatch.setattr(stack, "SYSTEM_CHROMIUM", str(tmp_path / "no-system-chromium"))
    monkeypatch.setenv("HOME", str(tmp_path))
    downloaded = tmp_path / ".cache" / "ms-playwright" / "chromium-1200" / "chrome-linux64" / "chrome"
    downloaded.parent.mkdir(parents=True)
    downloaded.write_text("#!/bin/sh\n")
    downloaded.chmod(0o755)
    assert chromium_executable() == str(downloaded)

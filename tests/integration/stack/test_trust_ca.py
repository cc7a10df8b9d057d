"""`make trust-ca` and the offer `make run` makes: a real NSS store (certutil), a fresh home folder per test."""
from __future__ import annotations

import io
import os
import pty
import shutil
import threading
from pathlib import Path

import pytest

from localdev import trust



def setup_module() -> None:
    if shutil.which("certutil") is None:
        pytest.fail("certutil is required (Debian/Ubuntu: apt-get install libnss3-tools; `make setup` installs it "
                    "as root)", pytrace=False)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def test_trusting_the_local_ca_is_seen_and_done_once(tmp_path: Path, home: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ca = trust.load_ca(tmp_path / "state")
    assert trust.trusted_by_browsers(ca, home) is False
    assert trust.trust(tmp_path / "state") == 0
    assert trust.trusted_by_browsers(ca, home) is True
    assert f"added '{ca.nickname}'" in capsys.readouterr().out
    assert trust.trust(tmp_path / "state") == 0
    assert "already trusted" in capsys.readouterr().out
    # Another CA (a regenerated one) is a new entry: not trusted until added.
    assert trust.trusted_by_browsers(trust.load_ca(tmp_path / "other"), home) is False


def test_without_a_terminal_make_run_only_says_how(tmp_path: Path, home: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    trust.offer_to_trust(tmp_path / "state", stdin=io.StringIO(""), stop=threading.Event(), home=home)
    assert "run `make trust-ca`" in capsys.readouterr().out
    assert trust.trusted_by_browsers(trust.load_ca(tmp_path / "state"), home) is False


@pytest.mark.parametrize(("answer", "trusted"), [("y\n", True), ("\n", False), ("no\n", False)])
def test_on_a_terminal_make_run_asks_and_trusts_on_yes(tmp_path: Path, home: Path, answer: str, trusted: bool,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    controller, terminal = pty.openpty()
    try:
        with os.fdopen(terminal, "r", closefd=False) as stdin:
            os.write(controller, answer.encode())
            trust.offer_to_trust(tmp_path / "state", stdin=stdin, stop=threading.Event(), home=home)
    finally:
        os.close(controller)
        os.close(terminal)
    out = capsys.readouterr().out
    assert "Trust it now" in out
    assert trust.trusted_by_browsers(trust.load_ca(tmp_path / "state"), home) is trusted


def test_an_already_trusted_ca_is_not_offered_again(tmp_path: Path, home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    trust.trust(tmp_path / "state")
    capsys.readouterr()
    stdin = io.StringIO("")
    trust.offer_to_trust(tmp_path / "state", stdin=stdin, stop=threading.Event(), home=home)
    assert capsys.readouterr().out == ""

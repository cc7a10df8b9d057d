"""A first sign-in in a browser that does not trust the local certificate authority yet: the page names the
fix (`make trust-ca`) instead of "check your connection", and after `make trust-ca` the same browser signs in."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fixtures.stack import CHROMIUM_ARGS, REPO_ROOT, LocalStack, SpaDriver, chromium_executable

pytestmark = pytest.mark.e2e


class Browser:
    """Chromium with its own home folder, so its certificate store (~/.pki/nssdb) is this test's alone. Unlike
    the other browser tests it does NOT ignore certificate errors."""

    def __init__(self, browser_type: Any, home: Path, stack: LocalStack, name: str) -> None:
        self.browser_type, self.home, self.stack, self.name = browser_type, home, stack, name
        self.context: Any = None

    def start(self) -> SpaDriver:
        # Chromium reads the store when it starts: a new launch after `make trust-ca`, as a person restarts it.
        self.close()
        self.context = self.browser_type.launch_persistent_context(
            str(self.home / "profile"), executable_path=chromium_executable(), args=CHROMIUM_ARGS,
            env={**os.environ, "HOME": str(self.home)})
        page = self.context.pages[0] if self.context.pages else self.context.new_page()
        return SpaDriver(page, self.stack, self.name)

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None


@pytest.fixture
def untrusting_browser(chromium: Any, local_stack: LocalStack, tmp_path: Path,
                       request: pytest.FixtureRequest) -> Iterator[Browser]:
    home = tmp_path / "home"
    home.mkdir()
    browser = Browser(chromium.browser_type, home, local_stack, request.node.name)
    try:
        yield browser
    finally:
        browser.close()


def test_an_untrusted_local_ca_is_named_and_make_trust_ca_fixes_it(untrusting_browser: Browser,
                                                                   local_stack: LocalStack) -> None:
    spa = untrusting_browser.start()
    spa.open()
    spa.button("Sign in").click()
    error = spa.testid("error")
    error.wait_for()
    spa.screenshot("untrusted-ca")
    text = error.inner_text()
    entra = local_stack.info.entra_url
    assert "This browser does not trust the local certificate authority" in text
    assert f"trust the local certificate authority: `make trust-ca`, or open {entra} once" in text
    assert "Check your connection" not in text
    assert spa.page.url.startswith(local_stack.app_url)  # the page stayed: nothing half-started

    state_dir = Path(local_stack.info.ca_bundle).parent.parent
    trusted = subprocess.run([sys.executable, "-m", "localdev", "trust-ca", "--state-dir", str(state_dir)],
                             cwd=REPO_ROOT, env={**os.environ, "HOME": str(untrusting_browser.home)},
                             capture_output=True, text=True, timeout=120)
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "added" in trusted.stdout

    spa = untrusting_browser.start()
    spa.sign_in("Daniel Reyes")
    profile = spa.get_profile()
    profile.wait_for()
    assert profile.get_by_text("daniel.reyes@larkspur.example").first.is_visible()
    assert spa.csp_violations() == []


def test_a_browser_that_trusts_the_local_ca_is_not_told_about_certificates(spa: SpaDriver) -> None:
    spa.open()
    finding = spa.page.evaluate("""async (authority) => {
        const m = await import("/js/reachability.js");
        return await m.diagnoseUnreachableSignIn(authority);
    }""", spa.stack.info.authority)
    assert finding == "unknown"

"""`python -m localdev run` as a person uses it: it prints where the app is and who can sign in, serves the
app and its API, and Ctrl-C, SIGTERM or even SIGKILL leaves nothing listening behind."""
from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from localdev.stack import free_port

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def listening(url: str) -> bool:
    match = re.match(r"https?://(?:localhost|127\.0\.0\.1):(\d+)", url)
    assert match, url
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", int(match.group(1)))) == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "killed"])
def test_run_prints_urls_and_users_serves_the_app_and_stops_everything(tmp_path, stop_signal):
    swa_port = free_port()
    home = tmp_path / "home"  # a user whose browsers do not trust the local CA yet
    home.mkdir()
    env = dict(os.environ, LOCALDEV_ENTRA_PORT="0", LOCALDEV_GRAPH_PORT="0", LOCALDEV_API_PORT="0",
               LOCALDEV_SWA_PORT=str(swa_port), PYTHONUNBUFFERED="1", HOME=str(home))
    process = subprocess.Popen([sys.executable, "-m", "localdev", "run", "--state-dir", str(tmp_path)],
                               cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: ([lines.put(l) for l in process.stdout], lines.put(None)), daemon=True).start()
    output = []
    try:
        deadline = time.monotonic() + 120
        while not any("Press Ctrl-C" in line for line in output):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "".join(output)
            output.append(line)
        text = "".join(output)
        assert re.search(r"Local stack is ready \(\d+\.\ds\)", text)
        app_url = re.search(r"App \(open this\)\s+(\S+)", text).group(1)
        api_url = re.search(r"Functions API\s+(\S+)", text).group(1)
        entra_url = re.search(r"Entra ID emulator\s+(\S+)", text).group(1)
        assert app_url == f"http://localhost:{swa_port}"
        assert re.search(r"Sam Whitfield\s+sam\.whitfield@larkspur\.example\s+\[no photo\]", text)
        assert re.search(r"Lena Hoffmann\s+lena\.hoffmann@larkspur\.example\s+\[needs MFA", text)
        assert "make trust-ca" in text
        # Not on a terminal, `make run` does not ask whether to trust the CA: it says how, once.
        while not any("do not trust the local certificate authority yet" in line for line in output):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "".join(output)
            output.append(line)
        assert "run `make trust-ca`" in output[-1] and "[y/N]" not in "".join(output)

        session = requests.Session()
        session.trust_env = False
        page = session.get(app_url + "/", timeout=10)
        assert page.status_code == 200 and "Get user's profile" in page.text
        config = session.get(app_url + "/api/config", timeout=10).json()
        assert config["authority"].startswith(entra_url)
        urls = [app_url, api_url, entra_url]
        assert all(listening(url) for url in urls)
    finally:
        if process.poll() is None:
            process.send_signal(stop_signal)
        code = process.wait(timeout=60)
    # Killed outright, the runner cannot clean up: the kernel's parent-death signal stops its children.
    assert code == (-signal.SIGKILL if stop_signal == signal.SIGKILL else 0)
    # Every part, including the SWA CLI's own server process, lets go of its port.
    deadline = time.monotonic() + 15
    while [url for url in urls if listening(url)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [url for url in urls if listening(url)] == []

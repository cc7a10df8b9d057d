"""The `python -m localdev emulators` process contract: JSON line, free ports, certificates, clean stop."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from tests.fixtures.emulator import REPO_ROOT, start_emulator, stop_emulator


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_fresh_state_dir_gets_certificates_and_the_process_stops_cleanly(tmp_path: Path, signum: int) -> None:
    emulator = start_emulator(state_dir=tmp_path / "state")
    assert emulator.process is not None
    try:
        certs = tmp_path / "state" / "certs"
        assert emulator.ca_bundle == str(certs / "ca.pem")
        server = x509.load_pem_x509_certificate((certs / "server.pem").read_bytes())
        names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in names.get_values_for_type(x509.DNSName)
        assert emulator.entra_url.startswith("https://localhost:") and emulator.graph_url.endswith("/v1.0")
        assert emulator.entra_url != emulator.graph_url.rsplit("/v1.0", 1)[0]
        assert emulator.config["ca_bundle"] == emulator.ca_bundle
        assert emulator.session.get(emulator.graph_url + "/me").status_code == 401  # Graph is mounted
        kid = emulator.admin("GET", "/_emulator/keys")["current"]
    finally:
        emulator.process.send_signal(signum)
        assert emulator.process.wait(timeout=15) == 0
        emulator.session.close()
    # A restart reuses the CA and the first signing key, so clients' trust and JWKS caches stay valid.
    ca_before = (tmp_path / "state" / "certs" / "ca.pem").read_bytes()
    again = start_emulator(state_dir=tmp_path / "state")
    try:
        assert (tmp_path / "state" / "certs" / "ca.pem").read_bytes() == ca_before
        assert again.admin("GET", "/_emulator/keys")["current"] == kid
    finally:
        assert again.process is not None
        stop_emulator(again.process)


def test_certs_command_is_idempotent(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "localdev", "certs", "--state-dir", str(tmp_path)]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, timeout=60)
    first = (tmp_path / "certs" / "server.pem").read_bytes()
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, timeout=60)
    assert (tmp_path / "certs" / "server.pem").read_bytes() == first
    ca = x509.load_pem_x509_certificate((tmp_path / "certs" / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate(first)
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)


def test_a_busy_port_fails_fast(tmp_path: Path) -> None:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "localdev", "emulators", "--entra-port", str(port),
                                 "--graph-port", "0", "--state-dir", str(tmp_path)], cwd=REPO_ROOT,
                                capture_output=True, timeout=60)
    assert result.returncode != 0 and result.stdout == b""
    assert b"in use" in result.stderr.lower() or b"address" in result.stderr.lower()


def test_token_lifetime_is_configurable(tmp_path: Path) -> None:
    emulator = start_emulator(state_dir=tmp_path, extra_args=["--token-lifetime-minutes", "5:6"])
    try:
        daemon = emulator.app("daemon")
        body = emulator.session.post(emulator.token_endpoint, data={
            "grant_type": "client_credentials", "client_id": daemon["client_id"],
            "client_secret": daemon["client_secret"], "scope": "https://graph.microsoft.com/.default"}).json()
        assert 300 <= body["expires_in"] <= 360 and body["ext_expires_in"] == body["expires_in"]
    finally:
        assert emulator.process is not None
        stop_emulator(emulator.process)

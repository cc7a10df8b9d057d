"""Local certificate authority: `python -m localdev certs`.

Creates, on first use, a CA and a server certificate for `localhost` and `127.0.0.1` under
`<state-dir>/certs/` (ca.pem, ca-key.pem, server.pem, server-key.pem) and reuses them afterwards.
Several processes may start at once against the same state dir (tests run in parallel), so creation
holds an exclusive file lock and every file is written atomically.
"""
from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import ipaddress
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_STATE_DIR = Path(".localdev")
CA_NAME = "localdev Root CA"


@dataclass(frozen=True)
class CertPaths:
    ca: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def cert_paths(state_dir: Path) -> CertPaths:
    certs = Path(state_dir).resolve() / "certs"
    return CertPaths(certs / "ca.pem", certs / "ca-key.pem", certs / "server.pem", certs / "server-key.pem")


@contextmanager
def locked(directory: Path, name: str = ".lock") -> Iterator[None]:
    """Exclusive advisory lock so concurrent first runs don't create two different CAs."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / name, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, data: bytes, private: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_server_key() -> ec.EllipticCurvePrivateKey:
    # ECDSA P-256 for the TLS server: every new connection costs the server one signature, about 0.05 ms of
    # CPU against 1.5 ms with RSA-2048, and the emulators serve all of a burst's handshakes on one event loop.
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "localdev")])


def _validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.timezone.utc)
    return now - dt.timedelta(days=1), now + dt.timedelta(days=days)


def self_signed(key: rsa.RSAPrivateKey, common_name: str, days: int = 825) -> x509.Certificate:
    """A plain self-signed leaf; used for signing-key and client-credential certificates."""
    not_before, not_after = _validity(days)
    return (x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def _make_ca(key: rsa.RSAPrivateKey) -> x509.Certificate:
    not_before, not_after = _validity(3650)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (x509.CertificateBuilder()
            .subject_name(_name(CA_NAME)).issuer_name(_name(CA_NAME))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))


def _make_server(ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey,
                 key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    # Browsers cap leaf validity at 398 days; stay below it so Chromium accepts the cert once trusted.
    not_before, not_after = _validity(397)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    return (x509.CertificateBuilder()
            .subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(san, critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))


def _server_cert_usable(paths: CertPaths) -> bool:
    if not (paths.server_cert.exists() and paths.server_key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(paths.ca.read_bytes())
    remaining = cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    return (cert.issuer == ca.subject and remaining > dt.timedelta(days=7)
            and isinstance(cert.public_key(), ec.EllipticCurvePublicKey))  # older checkouts made RSA ones


def ensure_certs(state_dir: Path = DEFAULT_STATE_DIR) -> CertPaths:
    """Create the CA and server certificate if missing (or the server cert is about to expire)."""
    paths = cert_paths(state_dir)
    if paths.ca.exists() and _server_cert_usable(paths):
        return paths
    with locked(paths.ca.parent):
        if not (paths.ca.exists() and paths.ca_key.exists()):
            ca_key = new_key()
            write_atomic(paths.ca_key, key_pem(ca_key), private=True)
            write_atomic(paths.ca, cert_pem(_make_ca(ca_key)))
            paths.server_cert.unlink(missing_ok=True)
        if not _server_cert_usable(paths):
            ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
            assert isinstance(ca_key, rsa.RSAPrivateKey)
            ca_cert = x509.load_pem_x509_certificate(paths.ca.read_bytes())
            server_key = new_server_key()
            write_atomic(paths.server_key, key_pem(server_key), private=True)
            write_atomic(paths.server_cert, cert_pem(_make_server(ca_cert, ca_key, server_key)))
    return paths


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev certs", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    paths = ensure_certs(args.state_dir)
    print(f"CA certificate: {paths.ca}\nserver certificate: {paths.server_cert}", file=sys.stdout)
    return 0

"""`python -m localdev trust-ca`: make browsers trust the local CA that signs the emulators' certificates.

Linux: adds `.localdev/certs/ca.pem` to the NSS database that Chromium and Chrome read (`~/.pki/nssdb`) and
to every Firefox profile found, with `certutil` from libnss3-tools (installed with apt-get when it is
missing and this runs as root; otherwise the exact command is printed). macOS: adds it to the login
keychain as a trusted root with `security add-trusted-cert`. Running it again changes nothing: the
certificate's nickname carries its fingerprint, and an entry that is already there is left alone.

Optional: without it, open https://localhost:9443/_emulator/config once and accept the warning.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import select
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from localdev.ca import CA_NAME, DEFAULT_STATE_DIR, ensure_certs

NSS_PACKAGE = "libnss3-tools"

if TYPE_CHECKING:
    import threading


@dataclass(frozen=True)
class LocalCa:
    path: Path
    der: bytes

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.der).hexdigest().upper()

    @property
    def nickname(self) -> str:
        # The fingerprint in the name makes "already trusted?" a lookup, and a regenerated CA a new entry.
        return f"{CA_NAME} {hashlib.sha256(self.der).hexdigest()[:12]}"


def load_ca(state_dir: Path) -> LocalCa:
    path = ensure_certs(state_dir).ca
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return LocalCa(path=path, der=cert.public_bytes(Encoding.DER))


def run(command: Sequence[str], *, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=check)


def show(command: Sequence[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)


# ------------------------------------------------------------------------------------------------ Linux

def ensure_certutil() -> str | None:
    """Path of certutil, installing libnss3-tools when possible; None (after saying what to do) otherwise."""
    found = shutil.which("certutil")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"trust-ca: installing {NSS_PACKAGE} (for certutil)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        update = subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, text=True)
        install = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", NSS_PACKAGE],
                                 env=env, capture_output=True, text=True)
        if install.returncode == 0:
            return shutil.which("certutil")
        print(f"trust-ca: apt-get could not install {NSS_PACKAGE}: {(install.stderr or update.stderr).strip()}",
              file=sys.stderr)
    return None


def nss_databases(home: Path, explicit: Path | None) -> list[Path]:
    if explicit is not None:
        return [explicit]
    databases = [home / ".pki" / "nssdb"]
    # Firefox keeps its own store per profile (cert9.db); include the profiles that exist.
    for root in (home / ".mozilla" / "firefox", home / "snap" / "firefox" / "common" / ".mozilla" / "firefox"):
        if root.is_dir():
            databases += sorted(p.parent for p in root.glob("*/cert9.db"))
    return databases


def trust_nss(ca: LocalCa, databases: Sequence[Path], certutil: str | None) -> int:
    commands_for_user = []
    status = 0
    added = False
    for database in databases:
        db = f"sql:{database}"
        create = [certutil or "certutil", "-d", db, "-N", "--empty-password"]
        add = [certutil or "certutil", "-d", db, "-A", "-t", "C,,", "-n", ca.nickname, "-i", str(ca.path)]
        if certutil is None:
            if not (database / "cert9.db").exists():
                commands_for_user.append(f"mkdir -p {shlex.quote(str(database))} && {show(create)}")
            commands_for_user.append(show(add))
            continue
        if not (database / "cert9.db").exists():
            database.mkdir(parents=True, exist_ok=True)
            result = run(create)
            if result.returncode != 0:
                print(f"trust-ca: could not create {database}: {result.stderr.strip()}", file=sys.stderr)
                status = 1
                continue
        if run([certutil, "-d", db, "-L", "-n", ca.nickname]).returncode == 0:
            print(f"trust-ca: already trusted in {database}")
            continue
        result = run(add)
        if result.returncode != 0:
            print(f"trust-ca: certutil failed for {database}: {result.stderr.strip()}", file=sys.stderr)
            status = 1
            continue
        print(f"trust-ca: added '{ca.nickname}' to {database}")
        added = True
    if commands_for_user:
        print(f"trust-ca: certutil is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y "
              f"{NSS_PACKAGE}; Fedora: sudo dnf install nss-tools), then run:", file=sys.stderr)
        for command in commands_for_user:
            print(f"  {command}", file=sys.stderr)
        status = 1
    if added:
        print("trust-ca: restart the browser for it to read the store again.")
    return status


# ------------------------------------------------------------------------------------------------ macOS

def trust_macos(ca: LocalCa) -> int:
    keychain = Path.home() / "Library" / "Keychains" / "login.keychain-db"
    if trusted_by_browsers(ca):
        print(f"trust-ca: already trusted in {keychain}")
        return 0
    command = ["security", "add-trusted-cert", "-r", "trustRoot", "-k", str(keychain), str(ca.path)]
    result = run(command)
    if result.returncode != 0:
        print(f"trust-ca: {show(command)} failed: {result.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"trust-ca: added the local CA to {keychain} as a trusted root")
    return 0


# ------------------------------------------------------------------------------------------- is it trusted

def trusted_by_browsers(ca: LocalCa, home: Path | None = None) -> bool | None:
    """Whether this user's browsers already trust the local CA: True, False, or None when this cannot be
    checked here (no certutil on Linux, another system). Linux: Chromium's store (`~/.pki/nssdb`), which
    `trust-ca` always writes; macOS: the login keychain. Reads only, never installs anything."""
    home = Path.home() if home is None else home
    system = platform.system()
    if system == "Darwin":
        keychain = home / "Library" / "Keychains" / "login.keychain-db"
        listed = run(["security", "find-certificate", "-a", "-Z", "-c", CA_NAME, str(keychain)])
        return ca.sha1 in listed.stdout.replace(" ", "").upper()
    if system != "Linux":
        return None
    database = home / ".pki" / "nssdb"
    if not (database / "cert9.db").exists():
        return False
    certutil = shutil.which("certutil")
    if certutil is None:
        return None
    return run([certutil, "-d", f"sql:{database}", "-L", "-n", ca.nickname]).returncode == 0


def offer_to_trust(state_dir: Path, *, stdin: IO[str], stop: threading.Event, home: Path | None = None) -> None:
    """`make run` once the stack is ready: when this user's browsers do not trust the local CA, ask (on a
    terminal) whether to trust it now; elsewhere only say how. Ctrl-C while asking stops the stack as usual."""
    ca = load_ca(state_dir)
    if trusted_by_browsers(ca, home) is not False:
        return
    if not stdin.isatty():
        print("note: this user's browsers do not trust the local certificate authority yet, so the sign-in page "
              "would fail: run `make trust-ca`.", flush=True)
        return
    print("This user's browsers do not trust the local certificate authority yet, so the sign-in page would "
          "fail. Trust it now (what `make trust-ca` does)? [y/N] ", end="", flush=True)
    while not stop.is_set():
        readable, _, _ = select.select([stdin], [], [], 0.5)
        if readable:
            answer = stdin.readline()
            break
    else:
        return
    if answer.strip().lower() in ("y", "yes"):
        trust(state_dir)
    else:
        print("Not now: run `make trust-ca` later, or open the Entra ID emulator's URL once and accept the warning.",
              flush=True)


# --------------------------------------------------------------------------------------------------- CLI

def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localdev trust-ca", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="folder holding certs/ca.pem (created if missing)")
    parser.add_argument("--nssdb", type=Path, help="Linux: only this NSS database folder (default ~/.pki/nssdb "
                                                   "and Firefox profiles)")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    return trust(args.state_dir, args.nssdb)


def trust(state_dir: Path, nssdb: Path | None = None) -> int:
    """`make trust-ca`: 0 once every store it knows of trusts the local CA."""
    ca = load_ca(state_dir)
    print(f"trust-ca: local CA {ca.path} (SHA-1 {ca.sha1})")
    system = platform.system()
    if system == "Darwin":
        return trust_macos(ca)
    if system == "Linux":
        return trust_nss(ca, nss_databases(Path.home(), nssdb), ensure_certutil())
    print(f"trust-ca: {system} is not handled automatically. Import {ca.path} as a trusted root certificate "
          f"authority (Windows: certutil -user -addstore Root {ca.path}), or accept the certificate warning at "
          f"https://localhost:9443/_emulator/config once.", file=sys.stderr)
    return 1

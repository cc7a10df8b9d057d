"""Azurite, the Azure Storage emulator (npm package `azurite`, a dev dependency), for `func start`.

Core Tools run the Durable Functions extension against `AzureWebJobsStorage`; locally that is
`UseDevelopmentStorage=true`, which names Azurite's well-known account on 127.0.0.1 ports 10000 (blob), 10001
(queue) and 10002 (table). On other ports (the tests use free ones) the same account is named with an explicit
connection string. The account and its key are the emulator's published, well-known values, not a secret
(https://learn.microsoft.com/azure/storage/common/storage-connect-azurite).
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"
DEFAULT_PORTS = (10000, 10001, 10002)
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class AzuritePorts:
    blob: int
    queue: int
    table: int

    def all(self) -> tuple[int, int, int]:
        return (self.blob, self.queue, self.table)

    def connection_string(self) -> str:
        """`AzureWebJobsStorage` for these ports: the shortcut on the default ones, explicit endpoints otherwise."""
        if self.all() == DEFAULT_PORTS:
            return "UseDevelopmentStorage=true"
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.blob}/{ACCOUNT};"
                f"QueueEndpoint=http://127.0.0.1:{self.queue}/{ACCOUNT};"
                f"TableEndpoint=http://127.0.0.1:{self.table}/{ACCOUNT};")


def command(binary: Path | str, location: Path, ports: AzuritePorts) -> list[str]:
    return [str(binary), "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--location", str(location),
            "--blobHost", "127.0.0.1", "--blobPort", str(ports.blob),
            "--queueHost", "127.0.0.1", "--queuePort", str(ports.queue),
            "--tableHost", "127.0.0.1", "--tablePort", str(ports.table)]


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until_listening(ports: AzuritePorts, timeout: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise AzuriteUnavailable("Azurite exited before it listened")
        if all(listening(port) for port in ports.all()):
            return
        time.sleep(0.15)
    raise AzuriteUnavailable(f"Azurite did not listen on ports {ports.all()} within {timeout:.0f}s")

"""`python -m localdev linked-backend`: the Static Web App's linked-backend hop on loopback.

`swa start --api-devserver-url` points at it, and it forwards to the Functions app (proxy.py says what it
changes on the way). Prints one JSON line once it listens:
`{"url", "backend", "issuer", "audience", "jwks"}`; `jwks` is the file the local host's App Service
authentication emulation reads the platform key from (LOCALDEV_SWA_PLATFORM_KEYS).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from localdev.settings import local_settings
from localdev.host.http_front import HostRunner
from localdev.linked_backend.keys import PlatformKey, PlatformKeyError
from localdev.linked_backend.proxy import LinkedBackendProxy

log = logging.getLogger("localdev.linked_backend")

DEFAULT_BACKEND = "http://127.0.0.1:7071"
DEFAULT_SITE_HOST = "localhost:4280"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localdev linked-backend", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, help=f"the Functions app (default {DEFAULT_BACKEND})")
    parser.add_argument("--site-host", default=DEFAULT_SITE_HOST,
                        help="host[:port] of the SWA CLI, the Static Web App's host name: the platform token's "
                             f"issuer is https://<site-host>/.auth (default {DEFAULT_SITE_HOST})")
    parser.add_argument("--state-dir", type=Path, default=Path(".localdev"),
                        help="where the platform key lives (<state-dir>/linked-backend/)")
    return parser.parse_args(argv)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(256)
    sock.setblocking(False)
    return sock


async def serve(args: argparse.Namespace) -> int:
    key = PlatformKey.load_or_create(args.state_dir)
    proxy = LinkedBackendProxy(args.backend, args.site_host, key)
    sock = _bind(args.port)
    runner = HostRunner(proxy.application(), handle_signals=False, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.SockSite(runner, sock, shutdown_timeout=5.0).start()
        print(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}", "backend": proxy.backend,
                          "issuer": proxy.issuer, "audience": proxy.audience, "jwks": str(key.jwks_path)}),
              flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(level=local_settings().log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 130
    except (PlatformKeyError, ValueError, OSError) as exc:
        print(f"localdev linked-backend: {exc}", file=sys.stderr)
        return 1

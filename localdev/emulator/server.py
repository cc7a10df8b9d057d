"""Run the Entra ID and Graph emulators on two HTTPS listeners bound to 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import ssl
import sys
from pathlib import Path
from typing import TextIO

from aiohttp import web

from localdev.ca import ensure_certs

from localdev.emulator.entra.app import build_entra_app
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import load_tenant

HOST = "127.0.0.1"


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def _ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


def _graph_app(state: EmulatorState) -> web.Application:
    from localdev.emulator.graph.service import build_graph_app
    return build_graph_app(state)


async def serve(entra_port: int, graph_port: int, state_dir: Path, tenant_file: Path | None,
                out: TextIO = sys.stdout, token_lifetime_minutes: tuple[int, int] | None = None) -> None:
    certs = ensure_certs(state_dir)
    tenant = load_tenant(tenant_file)
    if token_lifetime_minutes:
        tenant.lifetime_minutes = token_lifetime_minutes
    state = EmulatorState(tenant, state_dir, certs.ca)
    entra_sock, graph_sock = _bind(entra_port), _bind(graph_port)
    state.entra_url = f"https://localhost:{entra_sock.getsockname()[1]}"
    state.graph_url = f"https://localhost:{graph_sock.getsockname()[1]}/v1.0"
    context = _ssl_context(certs.server_cert, certs.server_key)
    runners: list[web.AppRunner] = []
    try:
        for app, sock in ((build_entra_app(state), entra_sock), (_graph_app(state), graph_sock)):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            runners.append(runner)
            await web.SockSite(runner, sock, ssl_context=context, backlog=512).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # Listening sockets accept as soon as they listen; the sites are now serving them.
        out.write(json.dumps({"entra_url": state.entra_url, "graph_url": state.graph_url,
                              "authority": state.authority, "tenant_id": state.tenant.tenant_id,
                              "ca_bundle": str(state.ca_bundle),
                              "config_url": f"{state.entra_url}/_emulator/config"}) + "\n")
        out.flush()
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        for sock in (entra_sock, graph_sock):
            sock.close()

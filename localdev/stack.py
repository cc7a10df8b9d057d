"""`python -m localdev run`: the whole local stack in the foreground, each hop as it is in Azure.

Starts, in order, the Entra ID + Graph emulators, a local Redis for the token cache (when installed), the
Functions app (the project's own host with App Service authentication emulation, or, only when asked with
`--functions core-tools`, `func start` with Azurite), the linked-backend emulation in front of it and the
Static Web Apps CLI serving `static_frontend/` with its API proxied through that emulation:

    browser -> SWA CLI -> linked-backend hop (platform token in Authorization) -> App Service auth -> function

Prints the URLs and the seeded users once everything answers, then waits. Ctrl-C or SIGTERM stops every child
(localdev/processes.py: process groups, parent-death signal, `guard` for the Node children and `func`).

The command line is localdev/stack_cli.py; the same `Stack` class starts the stack for the browser and
integration tests (tests/fixtures/stack.py) on free ports.
"""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from localdev import azurite, core_tools, redis_cache
from localdev import settings as local
from localdev.linked_backend.keys import JWKS_ENV, PlatformKey, PlatformKeyError
from localdev.processes import (Child, PortReservation, StackError, free_port, port_in_use, spawn, wait_first_line,
                                wait_http)

__all__ = ["Stack", "StackError", "StackInfo", "StackOptions", "free_port"]

REPO_ROOT = Path(__file__).resolve().parents[1]
FRONTEND = REPO_ROOT / "static_frontend"
SWA_BIN = REPO_ROOT / "node_modules" / ".bin" / "swa"
VENDOR_FILES = ("msal-browser.min.js", "msal-redirect-bridge.min.js")

DEFAULTS = {"entra_port": 9443, "graph_port": 9444, "api_port": 7071, "swa_port": 4280, "linked_backend_port": 0}
ENV_PORTS = local.PORTS
FUNCTIONS_CHOICES = ("local", "core-tools")
FUNCTIONS_ENV = local.FUNCTIONS
LOCAL_HOST_RUNTIME = "localdev host"


@dataclass
class StackInfo:
    """Where everything listens once the stack is ready."""

    app_url: str
    api_url: str
    entra_url: str
    graph_url: str
    authority: str
    tenant_id: str
    ca_bundle: str
    config_url: str
    emulator_config: dict[str, Any]
    functions_runtime: str
    ready_seconds: float
    token_cache: str = "memory"
    linked_backend_url: str = ""
    storage_connection: str | None = None  # AzureWebJobsStorage given to Core Tools (Azurite)


@dataclass
class StackOptions:
    entra_port: int = DEFAULTS["entra_port"]
    graph_port: int = DEFAULTS["graph_port"]
    api_port: int = DEFAULTS["api_port"]
    swa_port: int = DEFAULTS["swa_port"]
    linked_backend_port: int = DEFAULTS["linked_backend_port"]  # 0: a free port
    state_dir: Path = REPO_ROOT / ".localdev"
    functions: str = "local"  # local | core-tools
    token_cache: str = "auto"  # auto (redis when redis-server exists) | redis | memory
    storage_ports: tuple[int, int, int] = azurite.DEFAULT_PORTS  # Azurite's, with core-tools; 0s pick free ports
    tenant_file: Path | None = None
    verbose: bool = False
    timeout: float = 90.0
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    def __init__(self, options: StackOptions) -> None:
        if options.functions not in FUNCTIONS_CHOICES:
            raise StackError(f"--functions must be one of {', '.join(FUNCTIONS_CHOICES)}, not {options.functions!r}")
        self.options = options
        self.children: list[Child] = []
        self.info: StackInfo | None = None
        self.state_dir = Path(options.state_dir).resolve()
        self.log_dir = self.state_dir / "logs"
        self._token_cache_env: dict[str, str] = {}
        self._storage_connection: str | None = None

    # The environment every child inherits: no update checks or browser launches from the SWA CLI.
    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"NO_UPDATE_NOTIFIER": "1", "SWA_CLI_OPEN_BROWSER": "false", "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)})
        env.update(self.options.extra_env)
        return env

    def start(self) -> StackInfo:
        started = time.monotonic()
        reserved: PortReservation | None = None
        try:
            self._preflight()
            emulators = self._start_emulators()
            config = fetch_json(emulators["config_url"], emulators["ca_bundle"])
            self._token_cache_env = self._start_token_cache()
            reserved = None if self.options.swa_port else PortReservation()
            swa_port = self.options.swa_port or reserved.port
            # The Static Web App's host name: the platform token's issuer and the azureStaticWebApps client id.
            site_host = f"localhost:{swa_port}"
            try:
                key = PlatformKey.load_or_create(self.state_dir)
            except PlatformKeyError as exc:
                raise StackError(str(exc)) from None
            env = self._functions_env(emulators, config, site_host, key)
            if self.options.functions == "core-tools":
                api_url, runtime = self._start_core_tools(env), core_tools.RUNTIME_NAME
            else:
                api_url, runtime = self._start_local_host(env), LOCAL_HOST_RUNTIME
            hop_url = self._start_linked_backend(api_url, site_host)
            if reserved is not None:
                reserved.release()  # the CLI binds it next
            app_url = self._start_swa(hop_url, swa_port)
        except BaseException:
            if reserved is not None:
                reserved.release()
            self.stop()
            raise
        self.info = StackInfo(
            app_url=app_url, api_url=api_url, entra_url=emulators["entra_url"], graph_url=emulators["graph_url"],
            authority=emulators["authority"], tenant_id=emulators["tenant_id"], ca_bundle=emulators["ca_bundle"],
            config_url=emulators["config_url"], emulator_config=config, functions_runtime=runtime,
            ready_seconds=time.monotonic() - started, token_cache=self._token_cache_env.get("TOKEN_CACHE", "memory"),
            linked_backend_url=hop_url, storage_connection=self._storage_connection,
        )
        return self.info

    def stop(self) -> None:
        # Reverse order: the front door first, the identity provider last.
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def first_exited(self) -> Child | None:
        return next((c for c in self.children if not c.running), None)

    # ------------------------------------------------------------------ parts

    def _preflight(self) -> None:
        o = self.options
        ports = [("Entra ID emulator", o.entra_port), ("Graph emulator", o.graph_port), ("Functions", o.api_port),
                 ("Static Web Apps CLI", o.swa_port), ("linked-backend emulation", o.linked_backend_port)]
        if o.functions == "core-tools":
            ports += [(f"Azurite {service}", port) for service, port in zip(("blob", "queue", "table"),
                                                                             o.storage_ports)]
        for label, port in ports:
            if port and port_in_use(port):
                raise StackError(f"port {port} ({label}) is already in use: stop what uses it or pick another "
                                 f"port (python -m localdev run --help)")
        if not SWA_BIN.exists():
            raise StackError(f"the Static Web Apps CLI is not installed ({SWA_BIN} is missing): run `make setup`")
        if o.functions == "core-tools":
            if core_tools.func_executable() is None:
                raise StackError("--functions core-tools: Azure Functions Core Tools (`func`) is not on PATH; "
                                 "install them, or run without --functions to use the local host")
            if not azurite.AZURITE_BIN.exists():
                raise StackError(f"--functions core-tools needs Azurite ({azurite.AZURITE_BIN} is missing): "
                                 f"run `make setup`")
        elif core_tools.func_executable() is not None:
            print("note: Azure Functions Core Tools are on PATH; the stack uses the local host unless asked "
                  "(--functions core-tools, LOCALDEV_FUNCTIONS=core-tools or `make run FUNCTIONS=core-tools`)",
                  file=sys.stderr)
        vendor = FRONTEND / "vendor"
        if not all((vendor / name).is_file() for name in VENDOR_FILES):
            # The MSAL.js bundles are copied from node_modules, never committed; copying is cheap and offline.
            result = subprocess.run(["node", str(FRONTEND / "scripts" / "vendor.mjs")], cwd=str(REPO_ROOT),
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise StackError(f"could not copy MSAL.js into static_frontend/vendor/: {result.stderr.strip()} "
                                 f"(run `make setup`)")

    def _start_emulators(self) -> dict[str, Any]:
        o = self.options
        command = [sys.executable, "-m", "localdev", "emulators", "--entra-port", str(o.entra_port),
                   "--graph-port", str(o.graph_port), "--state-dir", str(self.state_dir)]
        if o.tenant_file:
            command += ["--tenant-file", str(o.tenant_file)]
        child = spawn("emulators", command, env=self._base_env(), log_dir=self.log_dir, capture_first_line=True)
        self.children.append(child)
        return wait_first_line(child, o.timeout)

    def _functions_env(self, emulators: Mapping[str, Any], config: Mapping[str, Any], site_host: str,
                       key: PlatformKey) -> dict[str, str]:
        apps = {app.get("name"): app for app in config.get("apps", [])}
        try:
            api, spa = apps["api"], apps["spa"]
        except KeyError as exc:
            raise StackError(f"the emulator's /_emulator/config has no {exc.args[0]!r} app") from exc
        env = self._base_env()
        env.update({
            "AUTHORITY_HOST": emulators["entra_url"].rstrip("/"),
            "GRAPH_BASE_URL": config.get("graph_base_url") or emulators["graph_url"],
            "CA_BUNDLE": emulators["ca_bundle"],
            "TENANT_ID": emulators["tenant_id"],
            "API_CLIENT_ID": api["client_id"],
            "SPA_CLIENT_ID": spa["client_id"],
            "CLIENT_SECRET": api.get("client_secret") or "",
            "PYTHON_SCRIPT_FILE_NAME": "main.py",
            "DIAGNOSTICS_ENABLED": os.environ.get("DIAGNOSTICS_ENABLED", local.LOCAL_DIAGNOSTICS_DEFAULT),
            # App Service authentication's azureStaticWebApps provider: this site, this hop's key.
            "SWA_CLIENT_ID": site_host,
            JWKS_ENV: str(key.jwks_path),
        })
        env.update(self._token_cache_env)
        return env

    def _start_token_cache(self) -> dict[str, str]:
        """A local Redis for the shared token cache, so report jobs survive a Functions host restart."""
        o = self.options
        binary = redis_cache.redis_server_binary()
        if o.token_cache == "memory" or (o.token_cache == "auto" and binary is None):
            if o.token_cache == "auto":
                print("note: redis-server is not installed, so the token cache is in memory: a report job that "
                      "is running when the Functions host restarts will ask the user to sign in again "
                      "(run `make setup` to install Redis)", file=sys.stderr)
            return {"TOKEN_CACHE": "memory"}
        if binary is None:
            raise StackError("--token-cache redis: redis-server is not on PATH (run `make setup`)")
        port = free_port()
        child = spawn("redis", redis_cache.redis_command(binary, port, self.state_dir / "redis"),
                      env=self._base_env(), log_dir=self.log_dir)
        self.children.append(child)
        try:
            redis_cache.wait_for_ping(port, o.timeout)
        except redis_cache.RedisUnavailable as exc:
            raise StackError(f"{exc}. Its log ({child.log_path}):\n{child.log_tail()}") from None
        return {"TOKEN_CACHE": "redis", "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                "TOKEN_CACHE_KEYS": redis_cache.token_cache_keys(self.state_dir)}

    def _start_local_host(self, env: dict[str, str]) -> str:
        o = self.options
        command = [sys.executable, "-m", "localdev", "host", "--port", str(o.api_port), "--app-root", str(REPO_ROOT),
                   "--state-dir", str(self.state_dir / "durable")]
        child = spawn("functions", command, env=env, log_dir=self.log_dir, capture_first_line=True)
        self.children.append(child)
        return wait_first_line(child, o.timeout)["url"].rstrip("/")

    def _start_azurite(self) -> str:
        """Azurite for `AzureWebJobsStorage`; returns the connection string that names it."""
        o = self.options
        ports = azurite.AzuritePorts(*(port or free_port() for port in o.storage_ports))
        location = self.state_dir / "azurite"
        location.mkdir(parents=True, exist_ok=True)
        child = spawn("azurite", azurite.command(azurite.AZURITE_BIN, location, ports), env=self._base_env(),
                      log_dir=self.log_dir, guarded=True)
        self.children.append(child)
        try:
            azurite.wait_until_listening(ports, o.timeout, lambda: child.running)
        except azurite.AzuriteUnavailable as exc:
            raise StackError(f"{exc}. Its log ({child.log_path}):\n{child.log_tail()}") from None
        self._storage_connection = ports.connection_string()
        return self._storage_connection

    def _start_core_tools(self, env: dict[str, str]) -> str:
        """`func start`, only when asked for (core_tools.py says what it gets), with Azurite started first."""
        o = self.options
        executable = core_tools.func_executable()
        if executable is None:
            raise StackError("--functions core-tools: Azure Functions Core Tools (`func`) is not on PATH")
        storage = self._start_azurite()
        port = o.api_port or free_port()
        child = spawn("functions", core_tools.command(executable, port), env=core_tools.core_tools_env(env, storage),
                      log_dir=self.log_dir, echo=o.verbose, guarded=True)
        self.children.append(child)
        url = f"http://127.0.0.1:{port}"
        wait_http(child, f"{url}/api/config", o.timeout, ok=lambda status: status == 200)
        return url

    def _start_linked_backend(self, api_url: str, site_host: str) -> str:
        """The Static Web App's hop in front of the Functions app (localdev/linked_backend/)."""
        o = self.options
        command = [sys.executable, "-m", "localdev", "linked-backend", "--port", str(o.linked_backend_port),
                   "--backend", api_url, "--site-host", site_host, "--state-dir", str(self.state_dir)]
        child = spawn("linked-backend", command, env=self._base_env(), log_dir=self.log_dir, capture_first_line=True)
        self.children.append(child)
        return wait_first_line(child, o.timeout)["url"].rstrip("/")

    def _start_swa(self, api_url: str, port: int) -> str:
        o = self.options
        command = [
            str(SWA_BIN), "start", str(FRONTEND),
            "--api-devserver-url", api_url,
            "--swa-config-location", str(FRONTEND),
            "--port", str(port),
            # Loopback only; the browser still uses http://localhost:<port>, the registered redirect URI.
            "--host", "127.0.0.1",
            # Read no swa-cli.config.json: that file serves `swa deploy`, and its options would merge into
            # this run (the CLI applies the first configuration it finds).
            "--config", str(self.log_dir / "swa-cli.none.json"),
        ]
        child = spawn("swa", command, env=self._base_env(), log_dir=self.log_dir, echo=o.verbose, guarded=True)
        self.children.append(child)
        app_url = f"http://localhost:{port}"
        probe = f"http://127.0.0.1:{port}"
        wait_http(child, f"{probe}/", o.timeout, ok=lambda status: status == 200)
        # Through the proxy as well: the SPA's first request is /api/config.
        wait_http(child, f"{probe}/api/config", o.timeout, ok=lambda status: status == 200)
        return app_url


def fetch_json(url: str, ca_bundle: str, timeout: float = 10.0) -> dict[str, Any]:
    # urllib with an explicit context: REQUESTS_CA_BUNDLE may point elsewhere, and only this CA signs the emulator.
    context = ssl.create_default_context(cafile=ca_bundle)
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        return json.loads(response.read().decode("utf-8"))

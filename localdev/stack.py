"""`python -m localdev run`: the whole local stack in the foreground.

Starts, in order, the Entra ID + Graph emulators, the Functions app (`func start` when Azure Functions Core
Tools are installed, else the project's own host) and the Static Web Apps CLI serving `static_frontend/`
with its API proxied to the Functions app. Prints the URLs and the seeded users once everything answers,
then waits. Ctrl-C or SIGTERM stops every child: each runs in its own process group, which is signalled as
a whole (the SWA CLI and `func` start children of their own), and on Linux each child also gets SIGTERM
from the kernel if this process dies without cleaning up; the SWA CLI and `func` run under `guard`, which
then takes their whole group down.

The same `Stack` class starts the stack for the browser tests (tests/fixtures/stack.py) on free ports.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from localdev import redis_cache

REPO_ROOT = Path(__file__).resolve().parents[1]
FRONTEND = REPO_ROOT / "static_frontend"
SEED_FILE = REPO_ROOT / "localdev" / "emulator" / "seed" / "tenant.json"
SWA_BIN = REPO_ROOT / "node_modules" / ".bin" / "swa"
VENDOR_FILES = ("msal-browser.min.js", "msal-redirect-bridge.min.js")

DEFAULTS = {"entra_port": 9443, "graph_port": 9444, "api_port": 7071, "swa_port": 4280}
ENV_PORTS = {"entra_port": "LOCALDEV_ENTRA_PORT", "graph_port": "LOCALDEV_GRAPH_PORT",
             "api_port": "LOCALDEV_API_PORT", "swa_port": "LOCALDEV_SWA_PORT"}


class StackError(RuntimeError):
    """A part of the stack could not start; the message says which and what to do."""


# --------------------------------------------------------------------------------------------- children

@dataclass
class Child:
    """One child process in its own process group, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    first_line: "threading.Event" = field(default_factory=threading.Event)
    line: str = ""

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the whole group, then SIGKILL to whatever is left."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Grandchildren may outlive the leader (node spawns workers): sweep the group either way.
        _signal_group(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=5)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _load_pdeathsig() -> Callable[[], None] | None:
    """prctl(PR_SET_PDEATHSIG, SIGTERM), resolved in the parent: nothing may be imported after fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, int(signal.SIGTERM))


_SET_PDEATHSIG = _load_pdeathsig()


def _child_setup() -> None:
    """Runs in the child before exec: its own process group, and SIGTERM when the stack runner dies."""
    os.setsid()
    if _SET_PDEATHSIG is not None:
        _SET_PDEATHSIG()


def guard(command: Sequence[str]) -> int:
    """Runs `command` inside this process group and takes the whole group down with it.

    The SWA CLI and Core Tools start worker processes that outlive them when they are killed, and the
    kernel's parent-death signal reaches only a direct child. So the stack starts them through this guard
    (`python -m localdev.stack guard CMD...`): when the guard is told to stop, or its parent dies, or the
    command ends, every process in the group is signalled.
    """
    child = subprocess.Popen(list(command))

    def take_group_down(_signum: int = 0, _frame: Any = None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group signal reaches this process too
        _signal_group(os.getpgid(0), signal.SIGTERM)

    signal.signal(signal.SIGTERM, take_group_down)
    signal.signal(signal.SIGINT, take_group_down)
    code = child.wait()
    take_group_down()
    return code


def spawn(name: str, command: Sequence[str], *, env: Mapping[str, str], log_dir: Path,
          capture_first_line: bool = False, echo: bool = False, guarded: bool = False) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    if guarded:
        command = [sys.executable, "-m", "localdev.stack", "guard", *command]
    log_path.write_bytes(b"")
    # Append mode: with capture_first_line the child writes stderr straight into the same file.
    log_file = open(log_path, "ab")
    process = subprocess.Popen(
        list(command), cwd=str(REPO_ROOT), env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if not capture_first_line else log_file,
        preexec_fn=_child_setup,
    )
    child = Child(name=name, process=process, log_path=log_path)

    def pump() -> None:
        # stdout goes to the log; with capture_first_line the first stdout line is the readiness JSON.
        assert process.stdout is not None
        for raw in process.stdout:
            if capture_first_line and not child.first_line.is_set():
                child.line = raw.decode("utf-8", "replace").strip()
                child.first_line.set()
            log_file.write(raw)
            log_file.flush()
            if echo:
                sys.stdout.write(f"[{name}] {raw.decode('utf-8', 'replace')}")
                sys.stdout.flush()
        child.first_line.set()
        log_file.close()

    threading.Thread(target=pump, name=f"{name}-output", daemon=True).start()
    return child


def wait_first_line(child: Child, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not child.first_line.wait(0.1):
        if time.monotonic() > deadline:
            raise StackError(f"{child.name} did not report ready within {timeout:.0f}s. Its log "
                             f"({child.log_path}):\n{child.log_tail()}")
    if not child.line:
        time.sleep(0.2)  # let the log catch the exit message
        raise StackError(f"{child.name} exited (code {child.process.poll()}) before it was ready. Its log "
                         f"({child.log_path}):\n{child.log_tail()}")
    try:
        return json.loads(child.line)
    except ValueError as exc:
        raise StackError(f"{child.name} printed {child.line!r} instead of its JSON ready line") from exc


def wait_http(child: Child, url: str, timeout: float, *, ok: Callable[[int], bool] = lambda s: s < 500) -> None:
    """Polls `url` until it answers with an acceptable status (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if not child.running:
            raise StackError(f"{child.name} exited (code {child.process.returncode}). Its log "
                             f"({child.log_path}):\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if ok(response.status):
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if ok(exc.code):
                return
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.15)
    raise StackError(f"{child.name} did not answer {url} within {timeout:.0f}s ({last_error}). Its log "
                     f"({child.log_path}):\n{child.log_tail()}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# ----------------------------------------------------------------------------------------------- stack

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


@dataclass
class StackOptions:
    entra_port: int = DEFAULTS["entra_port"]
    graph_port: int = DEFAULTS["graph_port"]
    api_port: int = DEFAULTS["api_port"]
    swa_port: int = DEFAULTS["swa_port"]
    state_dir: Path = REPO_ROOT / ".localdev"
    functions: str = "auto"  # auto | func | local
    token_cache: str = "auto"  # auto (redis when redis-server exists) | redis | memory
    tenant_file: Path | None = None
    verbose: bool = False
    timeout: float = 90.0
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.children: list[Child] = []
        self.info: StackInfo | None = None
        self.log_dir = Path(options.state_dir).resolve() / "logs"
        self._token_cache_env: dict[str, str] = {}

    # The environment every child inherits: no update checks or browser launches from the SWA CLI.
    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"NO_UPDATE_NOTIFIER": "1", "SWA_CLI_OPEN_BROWSER": "false", "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)})
        env.update(self.options.extra_env)
        return env

    def start(self) -> StackInfo:
        started = time.monotonic()
        try:
            self._preflight()
            emulators = self._start_emulators()
            config = fetch_json(emulators["config_url"], emulators["ca_bundle"])
            self._token_cache_env = self._start_token_cache()
            api_url, runtime = self._start_functions(emulators, config)
            app_url = self._start_swa(api_url)
        except BaseException:
            self.stop()
            raise
        self.info = StackInfo(
            app_url=app_url, api_url=api_url, entra_url=emulators["entra_url"], graph_url=emulators["graph_url"],
            authority=emulators["authority"], tenant_id=emulators["tenant_id"], ca_bundle=emulators["ca_bundle"],
            config_url=emulators["config_url"], emulator_config=config, functions_runtime=runtime,
            ready_seconds=time.monotonic() - started, token_cache=self._token_cache_env.get("TOKEN_CACHE", "memory"),
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
        for label, port in (("Entra ID emulator", o.entra_port), ("Graph emulator", o.graph_port),
                            ("Functions", o.api_port), ("Static Web Apps CLI", o.swa_port)):
            if port and port_in_use(port):
                raise StackError(f"port {port} ({label}) is already in use: stop what uses it or pick another "
                                 f"port (python -m localdev run --help)")
        if not SWA_BIN.exists():
            raise StackError(f"the Static Web Apps CLI is not installed ({SWA_BIN} is missing): run `make setup`")
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
                   "--graph-port", str(o.graph_port), "--state-dir", str(Path(o.state_dir).resolve())]
        if o.tenant_file:
            command += ["--tenant-file", str(o.tenant_file)]
        child = spawn("emulators", command, env=self._base_env(), log_dir=self.log_dir, capture_first_line=True)
        self.children.append(child)
        return wait_first_line(child, o.timeout)

    def _functions_env(self, emulators: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
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
            "DIAGNOSTICS_ENABLED": os.environ.get("DIAGNOSTICS_ENABLED", "true"),
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
        state_dir = Path(o.state_dir).resolve()
        port = free_port()
        child = spawn("redis", redis_cache.redis_command(binary, port, state_dir / "redis"), env=self._base_env(),
                      log_dir=self.log_dir)
        self.children.append(child)
        try:
            redis_cache.wait_for_ping(port, o.timeout)
        except redis_cache.RedisUnavailable as exc:
            raise StackError(f"{exc}. Its log ({child.log_path}):\n{child.log_tail()}") from None
        return {"TOKEN_CACHE": "redis", "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                "TOKEN_CACHE_KEYS": redis_cache.token_cache_keys(state_dir)}

    def _start_functions(self, emulators: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[str, str]:
        o = self.options
        env = self._functions_env(emulators, config)
        use_func = o.functions == "func" or (o.functions == "auto" and shutil.which("func") is not None)
        if use_func:
            return self._start_core_tools(env), "func"
        command = [sys.executable, "-m", "localdev", "host", "--port", str(o.api_port), "--app-root", str(REPO_ROOT),
                   "--state-dir", str(Path(o.state_dir).resolve() / "durable")]
        child = spawn("functions", command, env=env, log_dir=self.log_dir, capture_first_line=True)
        self.children.append(child)
        ready = wait_first_line(child, o.timeout)
        return ready["url"].rstrip("/"), "localdev host"

    def _start_core_tools(self, env: dict[str, str]) -> str:
        """`func start` (Azure Functions Core Tools). Durable Functions need a storage emulator: Azurite."""
        o = self.options
        if shutil.which("func") is None:
            raise StackError("--functions func: Azure Functions Core Tools (`func`) is not on PATH")
        env.setdefault("AzureWebJobsStorage", "UseDevelopmentStorage=true")
        azurite = shutil.which("azurite")
        if azurite:
            location = Path(o.state_dir).resolve() / "azurite"
            location.mkdir(parents=True, exist_ok=True)
            self.children.append(spawn("azurite", [azurite, "--silent", "--location", str(location),
                                                   "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1",
                                                   "--tableHost", "127.0.0.1"], env=env, log_dir=self.log_dir,
                                                  guarded=True))
        else:
            print("note: Azurite is not on PATH; the profile report (Durable Functions) needs it with `func start` "
                  "(npm install -g azurite)", file=sys.stderr)
        child = spawn("functions", ["func", "start", "--port", str(o.api_port)], env=env, log_dir=self.log_dir,
                      echo=o.verbose, guarded=True)
        self.children.append(child)
        url = f"http://127.0.0.1:{o.api_port}"
        wait_http(child, f"{url}/api/config", o.timeout, ok=lambda status: status == 200)
        return url

    def _start_swa(self, api_url: str) -> str:
        o = self.options
        port = o.swa_port or free_port()
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


# ------------------------------------------------------------------------------------------ reporting

def seeded_users(config: Mapping[str, Any], seed_file: Path = SEED_FILE) -> list[dict[str, Any]]:
    """Users with what a tester needs to know: which has no photo, which must do MFA."""
    seed: dict[str, Any] = {}
    try:
        seed = json.loads(seed_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    by_upn = {u.get("userPrincipalName", "").lower(): u for u in seed.get("users", [])}
    mfa = {upn.lower() for policy in seed.get("conditionalAccessPolicies", [])
           if "mfa" in policy.get("grantControls", []) for upn in policy.get("users", [])}
    users = []
    for user in config.get("users", []):
        upn = user.get("upn") or user.get("userPrincipalName") or ""
        seeded = by_upn.get(upn.lower(), {})
        notes = []
        if not user.get("photo", seeded.get("photo", True)):
            notes.append("no photo")
        if user.get("mfa") or upn.lower() in mfa:
            notes.append("needs MFA (Conditional Access)")
        users.append({"displayName": user.get("displayName") or seeded.get("displayName") or upn, "upn": upn,
                      "jobTitle": seeded.get("jobTitle", ""), "notes": notes})
    return users


def banner(info: StackInfo, seed_file: Path = SEED_FILE) -> str:
    users = seeded_users(info.emulator_config, seed_file)
    width = max((len(u["displayName"]) for u in users), default=10)
    lines = [
        "",
        "Local stack is ready" + f" ({info.ready_seconds:.1f}s)",
        "",
        f"  App (open this)      {info.app_url}",
        f"  Functions API        {info.api_url}/api/  ({info.functions_runtime})",
        f"  Entra ID emulator    {info.entra_url}   authority {info.authority}",
        f"  Graph emulator       {info.graph_url}",
        f"  Emulator admin API   {info.config_url}",
        f"  Token cache          {info.token_cache}" + (" (local Redis, encrypted, under .localdev/redis)"
                                                          if info.token_cache == "redis" else ""),
        "",
        "Seeded users (click one on the sign-in page; no password needed):",
    ]
    for user in users:
        note = f"  [{', '.join(user['notes'])}]" if user["notes"] else ""
        lines.append(f"  {user['displayName']:<{width}}  {user['upn']}{note}")
    lines += [
        "",
        "The emulators use a local certificate authority. Trust it once so the browser accepts",
        f"{info.entra_url}: run `make trust-ca` (Chromium/Firefox NSS store on Linux, keychain on macOS),",
        f"or open {info.entra_url}/_emulator/config once and accept the certificate warning.",
        f"CA certificate: {info.ca_bundle}",
        "",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- CLI

def _port_default(key: str) -> int:
    value = os.environ.get(ENV_PORTS[key])
    return int(value) if value else DEFAULTS[key]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localdev run", description=__doc__.splitlines()[0],
        epilog="Ports can also be set with LOCALDEV_ENTRA_PORT, LOCALDEV_GRAPH_PORT, LOCALDEV_API_PORT and "
               "LOCALDEV_SWA_PORT. The seeded SPA registration lists http://localhost:4280/ as its redirect URI; "
               "the emulator, like Entra ID, accepts any port for http://localhost redirect URIs.")
    parser.add_argument("--entra-port", type=int, default=_port_default("entra_port"))
    parser.add_argument("--graph-port", type=int, default=_port_default("graph_port"))
    parser.add_argument("--api-port", type=int, default=_port_default("api_port"),
                        help="Functions port (0 picks a free one with the local host)")
    parser.add_argument("--swa-port", type=int, default=_port_default("swa_port"), help="the app's port")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".localdev",
                        help="certificates, emulator state, durable history and logs")
    parser.add_argument("--functions", choices=("auto", "func", "local"), default="auto",
                        help="auto: `func start` if Core Tools are on PATH, else the local host")
    parser.add_argument("--token-cache", choices=("auto", "redis", "memory"), default="auto",
                        help="auto: a local Redis (encrypted, persistent) when redis-server is installed")
    parser.add_argument("--tenant-file", type=Path, help="seed tenant for the emulators")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds each part may take to start")
    parser.add_argument("--verbose", action="store_true", help="echo the Functions and SWA CLI output")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    stack = Stack(StackOptions(entra_port=args.entra_port, graph_port=args.graph_port, api_port=args.api_port,
                               swa_port=args.swa_port, state_dir=args.state_dir, functions=args.functions,
                               token_cache=args.token_cache,
                               tenant_file=args.tenant_file, verbose=args.verbose, timeout=args.timeout))
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.set()
        # Interrupt a start still in progress; once running, the wait loop below notices the flag.
        if stack.info is None:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("Starting the local stack (emulators, Functions, Static Web Apps CLI)...", flush=True)
    try:
        info = stack.start()
    except KeyboardInterrupt:
        print("\nStopped before the stack was ready.", file=sys.stderr)
        return 130
    except StackError as exc:
        print(f"localdev run: {exc}", file=sys.stderr)
        return 1
    print(banner(info, args.tenant_file or SEED_FILE), flush=True)
    print(f"Logs: {stack.log_dir}", flush=True)
    exit_code = 0
    try:
        while not stopping.wait(0.5):
            exited = stack.first_exited()
            if exited is not None:
                print(f"localdev run: {exited.name} exited (code {exited.process.returncode}); stopping the "
                      f"stack. Last output:\n{exited.log_tail()}", file=sys.stderr)
                exit_code = 1
                break
    except KeyboardInterrupt:
        pass
    finally:
        # Stop first: printing can fail (a closed pipe) and must not leave the children running.
        stack.stop()
        try:
            print("Stopped the local stack.", flush=True)
        except OSError:
            pass
    return exit_code


if __name__ == "__main__":  # `python -m localdev.stack guard CMD...` (see guard); `python -m localdev run` otherwise
    sys.exit(guard(sys.argv[2:]) if sys.argv[1:2] == ["guard"] else main(sys.argv[1:]))

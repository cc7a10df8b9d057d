"""`python -m localdev host`: run the function app without Azure Functions Core Tools.

Loads settings like Core Tools, imports the app like the Python worker, serves its HTTP triggers, puts App
Service authentication (configured from the same authsettings file infra deploys) in front, runs durable
orchestrations through `localdev.durable` when the app has any, and timer triggers on their schedules
(`timers.py`; `POST /admin/functions/{name}` runs one now). Prints one JSON line once it listens:
`{"url": ..., "functions": [...], "auth": bool, "durable": bool}`.

With `--no-auth` (or LOCALDEV_EASYAUTH=off) nothing stands in front of the functions and client-supplied
`X-MS-*` headers pass through unchanged, which lets a developer fake a principal on purpose; with the emulation
on they are always stripped.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from localdev import settings as local
from localdev.durable.contract import WEBHOOK_PREFIX
from localdev.host.app_loader import AppLoadError, LoadedApp, load_app
from localdev.host.durable_wiring import DurableHook, create_durable_hook
from localdev.host.first_process import FirstProcessProxy
from localdev.host.http_front import HostRunner
from localdev.host.invoker import Invoker
from localdev.host.metering import InvocationMeter, MetricsListener
from localdev.host.server import FunctionRoutes, build_application
from localdev.host.timers import ADMIN_FUNCTIONS_PREFIX, ScheduleError, TimerScheduler, describe_timer_function
from localdev.host.cors import Cors
from localdev.host.settings import (HostConfig, LocalHostSection, SettingsError, apply_values, find_settings_file,
                                    read_values)
from localdev.host.workers import (THREAD_COUNT_SETTING, WorkerProcesses, bind, exit_when_stdin_closes,
                                   process_count, thread_count, worker_command)

log = logging.getLogger("localdev.host")

EASYAUTH_SWITCH = local.EASYAUTH
DEFAULT_PORT = 7071
DEFAULT_AUTH_SETTINGS = Path("infra/auth/authsettings.json")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localdev host", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (0 picks a free one; default: the settings "
                                                 "file's Host.LocalHttpPort, else 7071)")
    parser.add_argument("--app-root", type=Path, default=Path.cwd(), help="folder with host.json and the entry file")
    parser.add_argument("--settings", type=Path, help="local settings file (default local.settings.json, "
                                                      "else local.settings.example.json)")
    parser.add_argument("--no-auth", action="store_true",
                        help=f"turn App Service authentication emulation off (also {EASYAUTH_SWITCH}=off)")
    parser.add_argument("--auth-settings", type=Path,
                        help=f"authsettingsV2 properties JSON (default <app-root>/{DEFAULT_AUTH_SETTINGS})")
    parser.add_argument("--state-dir", type=Path, help="durable state folder (default <app-root>/.localdev/durable)")
    parser.add_argument("--workers", type=int,
                        help=f"threads for synchronous functions (default {THREAD_COUNT_SETTING}, else 64)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--metrics", action="store_true",
                        help=f"measure each invocation's own CPU and wall time, served on a separate loopback "
                             f"port (also {local.HOST_METRICS}=on)")
    # Set by the first process for the other worker processes it starts (workers.py); not for people.
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--first-url", help=argparse.SUPPRESS)
    parser.add_argument("--durable-binding", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def auth_enabled(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> bool:
    return not args.no_auth and local.local_settings(environ).easyauth_on


def _describe(loaded: LoadedApp, routes: FunctionRoutes, base_url: str) -> list[dict[str, Any]]:
    described: list[dict[str, Any]] = []
    http_names = {f.name: f for f in loaded.http_functions}
    for function in loaded.functions:
        name = function.get_function_name()
        trigger = function.get_trigger()
        entry: dict[str, Any] = {"name": name, "trigger": trigger.type if trigger else None}
        http = http_names.get(name or "")
        if http is not None:
            entry["url"] = base_url + routes.public_path(http)
            entry["methods"] = list(http.methods) if http.methods else None
        described.append(entry)
    return described


async def serve(args: argparse.Namespace) -> int:
    app_root: Path = args.app_root.resolve()
    # The worker runs with the app root as its working directory; relative settings (CA_BUNDLE=.localdev/...)
    # resolve against it.
    os.chdir(app_root)
    settings_file = find_settings_file(app_root, args.settings)
    if settings_file is not None:
        apply_values(read_values(settings_file))
        log.info("settings from %s", settings_file)
    host_section = LocalHostSection.read(settings_file)
    # The local host turns diagnostics on unless the environment says otherwise (off by default in Azure).
    os.environ.setdefault("DIAGNOSTICS_ENABLED", local.LOCAL_DIAGNOSTICS_DEFAULT)
    host_config = HostConfig.load(app_root)
    loaded = load_app(app_root)

    worker_index = args.worker_index
    processes = 1 if worker_index else process_count(os.environ)
    # Binding before building the app tells us the real port (for --port 0), which the durable runtime
    # needs as its base URL before any route exists.
    sock = bind(args.port if args.port is not None else host_section.local_http_port or DEFAULT_PORT,
                shared=processes > 1 or worker_index > 0)
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    # App Service sets the site's primary host name; the platform token of a linked Static Web App names it.
    os.environ["WEBSITE_HOSTNAME"] = f"localhost:{port}"
    routes = FunctionRoutes(host_config.route_prefix, loaded.http_functions)
    meter = InvocationMeter() if args.metrics or local.local_settings(os.environ).host_metrics else None
    threads = thread_count(args.workers, os.environ)
    invoker = Invoker(max_workers=threads, function_directory=str(app_root),
                      timeout=host_config.function_timeout, meter=meter)

    timer_functions = [t for t in (describe_timer_function(f) for f in loaded.functions) if t is not None]
    # The first process alone runs the durable runtime and the timer schedules; the others forward to it.
    forwarded = ((WEBHOOK_PREFIX,) if loaded.uses_durable else ()) + \
        ((ADMIN_FUNCTIONS_PREFIX,) if timer_functions else ())
    proxy = FirstProcessProxy(args.first_url, forwarded, args.durable_binding) \
        if worker_index and args.first_url and forwarded else None
    durable: DurableHook | None = None
    if loaded.uses_durable and not worker_index:
        state_dir = args.state_dir or app_root / ".localdev" / "durable"
        durable = create_durable_hook(loaded.functions, state_dir=state_dir, base_url=base_url,
                                      task_hub=host_config.task_hub)
    binding_source = durable.binding_value if durable is not None else \
        proxy.binding_value if proxy is not None and loaded.uses_durable else None
    if binding_source is not None:
        invoker.set_binding_source(binding_source)
    timers = TimerScheduler(timer_functions, binding_values=binding_source,
                            timeout=host_config.function_timeout) if timer_functions and not worker_index else None

    middlewares = []
    if host_section.cors_origins:
        # Outermost, as on Azure: preflights are answered before authentication.
        middlewares.append(Cors(host_section.cors_origins, credentials=host_section.cors_credentials).middleware)
    extra_routes: list[web.AbstractRouteDef] = []
    easy_auth = None
    auth_file: Path | None = None
    if auth_enabled(args, os.environ):
        from localdev.host.easyauth import EasyAuth  # only when used: pulls in PyJWT

        auth_file = (args.auth_settings or app_root / DEFAULT_AUTH_SETTINGS).resolve()
        if not auth_file.is_file():
            raise SettingsError(f"auth settings {auth_file} not found: pass --auth-settings FILE, or --no-auth "
                                f"to run without App Service authentication")
        # The runtime's own endpoints: in Azure the host's internal endpoint and its keys protect them.
        bypass = ((WEBHOOK_PREFIX,) if loaded.uses_durable else ()) + \
            ((ADMIN_FUNCTIONS_PREFIX,) if timer_functions else ())
        easy_auth = EasyAuth.from_file(auth_file, os.environ, bypass_prefixes=bypass)
        middlewares.append(easy_auth.middleware)
        extra_routes += easy_auth.routes()
    elif not worker_index:
        log.warning("App Service authentication emulation is OFF: requests reach functions unauthenticated "
                    "and client-supplied X-MS-* headers pass through unchanged")

    if durable is not None:
        extra_routes += durable.routes()
    if proxy is not None:
        extra_routes += proxy.routes()
    if timers is not None:
        extra_routes += timers.routes()

    app = build_application(routes, invoker, middlewares=middlewares, extra_routes=extra_routes)
    # Kestrel's request limits; parser errors and the host's own failures answered as problem+json.
    runner = HostRunner(app, access_log=log if args.access_log else None, handle_signals=False,
                           shutdown_timeout=5.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            os._exit(130)  # a second Ctrl-C while draining: the user wants out now
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    if worker_index:
        exit_when_stdin_closes(stop.set, loop)
    metrics = MetricsListener(meter) if meter is not None else None
    others: WorkerProcesses | None = None
    try:
        if metrics is not None:
            await metrics.start()
        # The runtime starts before the first request can reach a durable client binding.
        if durable is not None:
            await durable.start()
        if proxy is not None:
            await proxy.start()
        if processes > 1:
            others = WorkerProcesses(worker_command(
                _worker_options(args, app_root, port, threads, auth_file, meter is not None),
                *await _first_process_endpoint(runner, durable, timers)), processes)
            # The others import the app and warm up while this one does.
            started = asyncio.create_task(others.start())
            await _warm_up(loaded, host_config.function_timeout)
            await started
        else:
            await _warm_up(loaded, host_config.function_timeout)
        await web.SockSite(runner, sock, shutdown_timeout=5.0).start()
        if timers is not None:  # after the site: a timer function may call the host (the durable webhooks)
            await timers.start()
        process: dict[str, Any] = {"pid": os.getpid()}
        if metrics is not None:
            process["metrics_url"] = metrics.url
        if worker_index:
            print(json.dumps(process), flush=True)  # to the first process, which reports for all
        else:
            auth_on = easy_auth is not None and easy_auth.settings.enabled
            print(json.dumps({"url": base_url, "functions": _describe(loaded, routes, base_url),
                              "auth": auth_on, "durable": durable is not None,
                              "processes": [process, *(others.ready_lines if others else [])]}), flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        # The other worker processes first (their durable calls come here); then the timers; then stop taking
        # requests and let in-flight ones finish; then the durable runtime, which leaves unfinished work in its
        # store to resume on the next start.
        if others is not None:
            await others.stop()
        if timers is not None:
            await timers.stop()
        await runner.cleanup()
        if proxy is not None:
            await proxy.stop()
        if durable is not None:
            await durable.stop()
        if loaded.uses_durable:
            await _close_durable_client_session()
        if easy_auth is not None:
            await easy_auth.close()
        if metrics is not None:
            await metrics.close()
        invoker.shutdown()
    return 0


def _worker_options(args: argparse.Namespace, app_root: Path, port: int, threads: int, auth_file: Path | None,
                    metrics: bool) -> list[str]:
    """This host's options for another worker process, paths absolute (this process works in the app root)."""
    options = ["--port", str(port), "--app-root", str(app_root), "--workers", str(threads)]
    if args.settings is not None:
        options += ["--settings", str(find_settings_file(app_root, args.settings))]
    if auth_file is not None:
        options += ["--auth-settings", str(auth_file)]
    else:
        options.append("--no-auth")
    if args.access_log:
        options.append("--access-log")
    if metrics:
        options.append("--metrics")
    return options


async def _first_process_endpoint(runner: HostRunner, durable: DurableHook | None, timers: TimerScheduler | None
                                 ) -> tuple[str | None, str | None]:
    """A private loopback port of this process, which the other worker processes forward the durable API and
    the timer admin endpoint to, and the durable client binding JSON they hand their functions."""
    if durable is None and timers is None:
        return None, None
    private = bind(0, shared=False)
    await web.SockSite(runner, private, shutdown_timeout=5.0).start()
    binding = durable.binding_value("durableClient") if durable is not None else None
    return f"http://127.0.0.1:{private.getsockname()[1]}", binding


async def _close_durable_client_session() -> None:
    """The durable SDK keeps one aiohttp session per process and never closes it ("process shutdown will clean
    up"); with several worker processes its kept-alive connection may outlive the server side and make asyncio
    log an unclosed session at exit. Close it if the SDK has one (a private helper: looked up, never required)."""
    module = sys.modules.get("azure.durable_functions.models.utils.http_utils")
    close = getattr(module, "_close_session", None)
    if close is not None:
        try:
            await close()
        except Exception:  # noqa: BLE001 - shutting down: nothing to report to anyone
            pass


async def _warm_up(loaded: LoadedApp, timeout: float | None) -> None:
    """Run the app's warmup functions before taking traffic, as Azure does when it adds an instance (there,
    only on scale-out; here on every start). A failing warm-up is logged: requests then initialise lazily."""
    for handler in loaded.warmup_handlers:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.to_thread(handler, None), timeout or 30.0)
        except Exception as exc:  # noqa: BLE001 - the app must start anyway
            log.warning("warmup function %s failed (%s)", getattr(handler, "__name__", handler), type(exc).__name__)
        else:
            log.info("warmup function %s took %.0f ms", getattr(handler, "__name__", handler),
                     (time.perf_counter() - started) * 1000)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=local.local_settings().log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        code = asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 130
    except (AppLoadError, SettingsError, ScheduleError, OSError) as exc:
        print(f"localdev host: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        # Auth settings problems (placeholders without values, bad JSON) surface as ValueError.
        print(f"localdev host: {exc}", file=sys.stderr)
        return 1
    _exit_despite_stuck_functions(code)
    return code


def _exit_despite_stuck_functions(code: int) -> None:
    """A synchronous function still running (threads cannot be cancelled) would hold interpreter exit forever."""
    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if busy:
        log.warning("%d function thread(s) still running at shutdown; exiting without waiting", len(busy))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

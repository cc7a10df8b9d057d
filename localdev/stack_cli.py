"""`python -m localdev run`'s command line: options, the banner, and the wait until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from localdev.settings import local_settings
from localdev.processes import StackError
from localdev.stack import DEFAULTS, ENV_PORTS, FUNCTIONS_CHOICES, FUNCTIONS_ENV, REPO_ROOT, Stack, StackOptions
from localdev.stack import __doc__ as STACK_DOC
from localdev.stack_report import SEED_FILE, banner
from localdev.trust import load_ca, offer_to_trust, trusted_by_browsers


def _port_default(key: str) -> int:
    value = local_settings().ports[key]
    return value if value is not None else DEFAULTS[key]


def _functions_default() -> str:
    return local_settings().functions  # argparse refuses a value outside FUNCTIONS_CHOICES only when given on the line


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localdev run", description=(STACK_DOC or "").splitlines()[0],
        epilog="Ports can also be set with LOCALDEV_ENTRA_PORT, LOCALDEV_GRAPH_PORT, LOCALDEV_API_PORT, "
               "LOCALDEV_SWA_PORT and LOCALDEV_LINKED_BACKEND_PORT. The seeded SPA registration lists "
               "http://localhost:4280/ as its redirect URI; the emulator, like Entra ID, accepts any port for "
               "http://localhost redirect URIs.")
    parser.add_argument("--entra-port", type=int, default=_port_default("entra_port"))
    parser.add_argument("--graph-port", type=int, default=_port_default("graph_port"))
    parser.add_argument("--api-port", type=int, default=_port_default("api_port"),
                        help="Functions port (0 picks a free one with the local host)")
    parser.add_argument("--swa-port", type=int, default=_port_default("swa_port"), help="the app's port")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".localdev",
                        help="certificates, emulator state, durable history and logs")
    parser.add_argument("--linked-backend-port", type=int, default=_port_default("linked_backend_port"),
                        help="the linked-backend emulation's port (default 0: a free one)")
    parser.add_argument("--functions", choices=FUNCTIONS_CHOICES, default=_functions_default(),
                        help="local (default): the project's host with App Service authentication emulation; "
                             "core-tools: `func start` with Azurite (also LOCALDEV_FUNCTIONS=core-tools, or "
                             "`make run FUNCTIONS=core-tools`)")
    parser.add_argument("--token-cache", choices=("auto", "redis", "memory"), default="auto",
                        help="auto: a local Redis (encrypted, persistent) when redis-server is installed")
    parser.add_argument("--tenant-file", type=Path, help="seed tenant for the emulators")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds each part may take to start")
    parser.add_argument("--verbose", action="store_true", help="echo the Functions and SWA CLI output")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    try:
        stack = Stack(StackOptions(entra_port=args.entra_port, graph_port=args.graph_port, api_port=args.api_port,
                                   swa_port=args.swa_port, linked_backend_port=args.linked_backend_port,
                                   state_dir=args.state_dir, functions=args.functions, token_cache=args.token_cache,
                                   tenant_file=args.tenant_file, verbose=args.verbose, timeout=args.timeout))
    except StackError as exc:
        print(f"localdev run: {exc} (from {FUNCTIONS_ENV}?)", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.set()
        # Interrupt a start still in progress; once running, the wait loop below notices the flag.
        if stack.info is None:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Starting the local stack (emulators, Functions: {args.functions}, linked-backend emulation, Static "
          f"Web Apps CLI)...", flush=True)
    try:
        info = stack.start()
    except KeyboardInterrupt:
        print("\nStopped before the stack was ready.", file=sys.stderr)
        return 130
    except StackError as exc:
        print(f"localdev run: {exc}", file=sys.stderr)
        return 1
    print(banner(info, args.tenant_file or SEED_FILE, ca_trusted=trusted_by_browsers(load_ca(stack.state_dir))),
          flush=True)
    print(f"Logs: {stack.log_dir}", flush=True)
    exit_code = 0
    try:
        offer_to_trust(stack.state_dir, stdin=sys.stdin, stop=stopping)
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


if __name__ == "__main__":  # `python -m localdev run` is the usual way in
    sys.exit(main(sys.argv[1:]))

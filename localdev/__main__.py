"""`python -m localdev <command>`: one entry point for every local stand-in.

Subcommands are imported lazily so that `python -m localdev emulators` does not pay for the Functions host.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "emulators": ("localdev.emulator.cli", "Entra ID + Microsoft Graph emulators (HTTPS, loopback)"),
    "host": ("localdev.host.cli", "the Functions app with App Service auth emulation and the Durable runner"),
    "linked-backend": ("localdev.linked_backend.cli", "the Static Web App's linked-backend hop (platform token, "
                                                      "forwarding headers) in front of the Functions app"),
    "run": ("localdev.stack_cli", "the whole local stack: emulators, Functions, linked-backend hop, SWA CLI"),
    "certs": ("localdev.ca", "create the local CA and server certificate under .localdev/ if missing"),
    "trust-ca": ("localdev.trust", "add the local CA to the browser trust store (Linux NSS, macOS keychain)"),
}


def usage() -> str:
    lines = ["usage: python -m localdev <command> [options]", "", "commands:"]
    lines += [f"  {name:<15} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(usage(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

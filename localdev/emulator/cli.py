"""`python -m localdev emulators`: the Entra ID and Microsoft Graph emulators (HTTPS, loopback)."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from localdev.emulator.server import serve


def _lifetime(value: str) -> tuple[int, int]:
    low, _, high = value.partition(":")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError("use minutes, e.g. 60:90 or 5") from None
    if bounds[0] < 1 or bounds[1] < bounds[0]:
        raise argparse.ArgumentTypeError("need 1 <= MIN <= MAX")
    return bounds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev emulators",
                                     description="Entra ID and Microsoft Graph emulators on 127.0.0.1 (HTTPS).")
    parser.add_argument("--entra-port", type=int, default=9443, help="0 picks a free port")
    parser.add_argument("--graph-port", type=int, default=9444, help="0 picks a free port")
    parser.add_argument("--state-dir", type=Path, default=Path(".localdev"),
                        help="certificates and signing keys live here (created on first run)")
    parser.add_argument("--tenant-file", type=Path, default=None, help="seed tenant JSON (default: the bundled seed)")
    parser.add_argument("--token-lifetime-minutes", type=_lifetime, default=None, metavar="MIN[:MAX]",
                        help="access token lifetime range (default: the seed's, 60:90 as in Entra ID)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.entra_port, args.graph_port, args.state_dir, args.tenant_file,
                          token_lifetime_minutes=args.token_lifetime_minutes))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # typically a port that is already in use
        print(f"emulators: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0

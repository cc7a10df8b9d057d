"""What `python -m localdev run` prints once the stack is ready: where everything is and who can sign in."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = REPO_ROOT / "localdev" / "emulator" / "seed" / "tenant.json"


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


def banner(info: Any, seed_file: Path = SEED_FILE, *, ca_trusted: bool | None = None) -> str:
    users = seeded_users(info.emulator_config, seed_file)
    width = max((len(u["displayName"]) for u in users), default=10)
    lines = [
        "",
        "Local stack is ready" + f" ({info.ready_seconds:.1f}s)",
        "",
        f"  App (open this)      {info.app_url}",
        f"  Functions API        {info.api_url}/api/  ({info.functions_runtime}; direct callers send "
        f"Authorization)",
        f"  Linked backend       {info.linked_backend_url}  (the Static Web App's hop: platform token in "
        f"Authorization)",
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
    if ca_trusted:
        lines += ["", f"This user's browsers trust the local certificate authority ({info.ca_bundle})."]
    else:
        lines += [
            "",
            "The emulators use a local certificate authority. Trust it once so the browser accepts",
            f"{info.entra_url}: run `make trust-ca` (Chromium/Firefox NSS store on Linux, keychain on macOS),",
            f"or open {info.entra_url}/_emulator/config once and accept the certificate warning.",
            f"CA certificate: {info.ca_bundle}",
        ]
    lines += ["", "Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)

"""Writes local.settings.json for running the local stack against a real Microsoft Entra tenant.

Input: the output of `azd env get-values` after `azd provision` (ENTRA_ONLY=true is enough), on stdin or
from a file. The settings start from local.settings.example.json and replace everything that points at
the emulators: the tenant, both client ids, ALLOWED_CLIENT_APPS (the real SPA app, else every real token is
refused with invalid_token), AUTHORITY_HOST, GRAPH_BASE_URL, the Graph scopes the deployment consented to,
the admin-consent reply URL of the local SPA origin; CA_BUNDLE and the emulator's client secret go.

The API app has no client secret in Azure (a federated credential of the function app's managed identity),
so none exists for local use: create one with `az ad app credential reset --id <API_CLIENT_ID> --append`
and either paste it as CLIENT_SECRET or export CLIENT_SECRET before running this script. The secret is
written to the settings file only (mode 0600) and never printed.

    azd env get-values | .venv/bin/python scripts/real_tenant_settings.py
    .venv/bin/python scripts/real_tenant_settings.py --from azd-values.txt --output - > local.settings.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Mapping, TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "local.settings.example.json"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# azd output -> local setting. All of them are outputs of infra/main.bicep.
FROM_AZD = {
    "AZURE_TENANT_ID": "TENANT_ID",
    "API_CLIENT_ID": "API_CLIENT_ID",
    "SPA_CLIENT_ID": "SPA_CLIENT_ID",
    "AUTHORITY_HOST": "AUTHORITY_HOST",
    "GRAPH_BASE_URL": "GRAPH_BASE_URL",
    "GRAPH_SCOPES": "GRAPH_SCOPES",
    "REPORT_GRAPH_SCOPES": "REPORT_GRAPH_SCOPES",
    "LOCAL_ADMIN_CONSENT_REDIRECT_URI": "ADMIN_CONSENT_REDIRECT_URI",
}
GUID_VALUES = ("AZURE_TENANT_ID", "API_CLIENT_ID", "SPA_CLIENT_ID")
HTTPS_VALUES = ("AUTHORITY_HOST", "GRAPH_BASE_URL")
# Emulator-only settings that must not reach a real tenant.
DROPPED = ("CA_BUNDLE", "CLIENT_SECRET")


class SettingsError(Exception):
    """The azd values cannot make a working settings file; the message says what to do."""


def parse_env_values(text: str) -> dict[str, str]:
    """Reads `azd env get-values` output: KEY="value" lines (dotenv quoting), comments and blanks ignored."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise SettingsError(f"line {number} is not KEY=value: is this the output of `azd env get-values`?")
        values[key] = _unquote(value.strip(), number)
    return values


def _unquote(value: str, number: int) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if not value.startswith('"'):
        return value
    if len(value) < 2 or not value.endswith('"'):
        raise SettingsError(f"line {number} has an unterminated quoted value")
    out, chars, i = [], value[1:-1], 0
    while i < len(chars):
        if chars[i] == "\\" and i + 1 < len(chars):
            out.append({"n": "\n", "r": "\r", "t": "\t"}.get(chars[i + 1], chars[i + 1]))
            i += 2
        else:
            out.append(chars[i])
            i += 1
    return "".join(out)


def build_settings(azd: Mapping[str, str], example: Mapping, client_secret: str | None) -> dict:
    missing = [name for name in FROM_AZD if not azd.get(name, "").strip()]
    if missing:
        raise SettingsError(
            f"the azd environment has no {', '.join(missing)}. Provision with the current templates first "
            "(`azd env set ENTRA_ONLY true` creates only the app registrations), then run this again.")
    for name in GUID_VALUES:
        if not GUID.match(azd[name].strip()):
            raise SettingsError(f"{name} is not a GUID")
    for name in HTTPS_VALUES:
        if not azd[name].strip().startswith("https://"):
            raise SettingsError(f"{name} is not an https URL")

    settings = json.loads(json.dumps(example))  # a deep copy that stays JSON
    values = {k: v for k, v in settings.get("Values", {}).items() if k not in DROPPED}
    for azd_name, setting in FROM_AZD.items():
        values[setting] = azd[azd_name].strip()
    values["AUTHORITY_HOST"] = values["AUTHORITY_HOST"].rstrip("/")
    # App Service authentication and the function accept tokens issued to these client apps only.
    values["ALLOWED_CLIENT_APPS"] = values["SPA_CLIENT_ID"]
    if client_secret:
        values["CLIENT_SECRET"] = client_secret
    settings["Values"] = values
    return settings


def next_steps(azd: Mapping[str, str], has_secret: bool, written_to: str) -> str:
    api = azd.get("API_CLIENT_ID", "<API_CLIENT_ID>")
    spa = azd.get("SPA_CLIENT_ID", "<SPA_CLIENT_ID>")
    lines = [f"Wrote {written_to} for tenant {azd.get('AZURE_TENANT_ID')} (API app {api}, SPA app {spa})."]
    step = 1
    if not has_secret:
        lines += [
            f"{step}. Give the API app a client secret for local use (infra creates only a federated credential,",
            "   which works in Azure only; --append keeps the credentials the app already has):",
            f"     az ad app credential reset --id {api} --append --display-name local-dev --years 1 "
            "--query password -o tsv",
            "   Put the value in local.settings.json as CLIENT_SECRET, or export CLIENT_SECRET and run this",
            "   script again with --force.",
        ]
        step += 1
    if azd.get("ADMIN_CONSENT_GRANTED", "").lower() != "true":
        lines += [
            f"{step}. An administrator consents for both apps (GroupMember.Read.All always needs it):",
            f"     az ad app permission admin-consent --id {api}",
            f"     az ad app permission admin-consent --id {spa}",
        ]
        step += 1
    lines += [
        f"{step}. Start the function app and the front end (the emulators are not needed):",
        "     .venv/bin/python -m localdev host",
        "     npx swa start static_frontend --api-devserver-url http://localhost:7071 "
        "--swa-config-location static_frontend",
        "   and open http://localhost:4280/.",
    ]
    return "\n".join(lines)


def write(settings: dict, output: str, force: bool, stdout: TextIO) -> str:
    text = json.dumps(settings, indent=2) + "\n"
    if output == "-":
        stdout.write(text)
        return "standard output"
    path = Path(output)
    if path.exists() and not force:
        raise SettingsError(f"{path} exists; pass --force to replace it (it may hold your CLIENT_SECRET)")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return str(path)


def main(argv: list[str] | None = None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
         stderr: TextIO = sys.stderr, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", default="-",
                        help="file with `azd env get-values` output (default: standard input)")
    parser.add_argument("--output", default="local.settings.json", help="settings file to write, - for stdout")
    parser.add_argument("--force", action="store_true", help="replace an existing settings file")
    parser.add_argument("--example", type=Path, default=EXAMPLE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        text = stdin.read() if args.source == "-" else Path(args.source).read_text(encoding="utf-8")
        azd = parse_env_values(text)
        secret = environ.get("CLIENT_SECRET") or None
        settings = build_settings(azd, json.loads(args.example.read_text(encoding="utf-8")), secret)
        written_to = write(settings, args.output, args.force, stdout)
    except (SettingsError, OSError) as error:
        stderr.write(f"real_tenant_settings: {error}\n")
        return 2
    stderr.write(next_steps(azd, bool(secret), written_to) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

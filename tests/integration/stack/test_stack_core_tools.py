"""`python -m localdev run --functions core-tools`: `func start` behind the same linked-backend emulation, with
Azurite for AzureWebJobsStorage, started and stopped with the stack.

Core Tools cannot be installed here, so a stand-in `func`, written by the test onto PATH, checks the arguments
and environment `make run` gives it, proves the storage settings reach Azurite by creating a table with them
(Shared Key auth, which Azurite verifies), records what it found and then serves the app with the local host
without App Service authentication, as `func start` would. Azurite itself is the real npm package.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from localdev import core_tools
from localdev.stack import Stack, StackError, StackInfo, StackOptions, free_port
from localdev.stack_cli import parse_args
from tests.fixtures import azurite as azurite_client
from tests.fixtures.emulator import Emulator

REPO_ROOT = Path(__file__).resolve().parents[3]
TABLE = "standinfunc"

STAND_IN = '''#!{python}
"""A stand-in for Azure Functions Core Tools' `func`, written by tests/integration/stack/test_stack_core_tools.py."""
import json, os, re, shutil, sys
sys.path.insert(0, {repo!r})
from tests.fixtures import azurite

problems = []
args = sys.argv[1:]
if len(args) != 3 or args[:2] != ["start", "--port"] or not re.fullmatch(r"[0-9]+", args[2]):
    problems.append(f"arguments {{args}}, expected start --port <port>")
if os.getcwd() != {repo!r}:
    problems.append(f"working directory {{os.getcwd()}}")
path = os.environ.get("PATH", "").split(os.pathsep)
if path[0] != {venv_bin!r}:
    problems.append(f"PATH starts with {{path[0]}}, not the virtualenv's bin")
python = shutil.which("python")
if python is None or os.path.dirname(python) != {venv_bin!r}:
    problems.append(f"`python` on PATH is {{python}}, not the virtualenv's")
expected = {{"FUNCTIONS_WORKER_RUNTIME": "python", "PYTHON_SCRIPT_FILE_NAME": "main.py",
            "VIRTUAL_ENV": os.path.dirname({venv_bin!r})}}
for name, value in expected.items():
    if os.environ.get(name) != value:
        problems.append(f"{{name}}={{os.environ.get(name)!r}}")
if "EnableWorkerIndexing" not in os.environ.get("AzureWebJobsFeatureFlags", ""):
    problems.append("AzureWebJobsFeatureFlags lacks EnableWorkerIndexing")
for name in ("API_CLIENT_ID", "TENANT_ID", "AUTHORITY_HOST", "CLIENT_SECRET", "SWA_CLIENT_ID"):
    if not os.environ.get(name):
        problems.append(f"{{name}} is not set")
storage = os.environ.get("AzureWebJobsStorage", "")
try:
    created = azurite.create_table(storage, {table!r})
except Exception as exc:  # noqa: BLE001 - reported to the test
    created = f"{{type(exc).__name__}}: {{exc}}"
if created not in (201, 409):
    problems.append(f"creating a table with AzureWebJobsStorage answered {{created}}")
with open({report!r}, "w") as handle:
    json.dump({{"args": args, "storage": storage, "created": created, "problems": problems}}, handle)
if problems:
    sys.exit(3)
os.execv(sys.executable, [sys.executable, "-m", "localdev", "host", "--port", args[2], "--no-auth",
                          "--app-root", os.getcwd(), "--state-dir", {state!r}])
'''


def write_stand_in(directory: Path, report: Path, state: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "func"
    script.write_text(STAND_IN.format(python=sys.executable, repo=str(REPO_ROOT), table=TABLE, report=str(report),
                                      state=str(state), venv_bin=str(core_tools.virtualenv_bin())))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def storage_ports(connection_string: str) -> list[int]:
    fields = azurite_client.parse(connection_string)
    return [urlsplit(fields[name]).port for name in ("BlobEndpoint", "QueueEndpoint", "TableEndpoint")]


@pytest.fixture
def func_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    report = tmp_path / "func-report.json"
    write_stand_in(tmp_path / "bin", report, tmp_path / "durable")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    return report, tmp_path


@pytest.fixture
def core_tools_stack(func_on_path: tuple[Path, Path]) -> Iterator[tuple[Stack, StackInfo, dict[str, Any]]]:
    report, tmp_path = func_on_path
    running = Stack(StackOptions(entra_port=0, graph_port=0, api_port=0, swa_port=free_port(),
                                 state_dir=tmp_path / "state", functions="core-tools", storage_ports=(0, 0, 0),
                                 token_cache="memory", timeout=120))
    try:
        info = running.start()
    finally:
        found = json.loads(report.read_text()) if report.exists() else {"problems": ["func never ran"]}
    try:
        yield running, info, found
    finally:
        running.stop()


def test_core_tools_get_their_arguments_environment_and_azurite(core_tools_stack, http: requests.Session) -> None:
    running, info, found = core_tools_stack
    assert found["problems"] == []
    assert info.functions_runtime == "Azure Functions Core Tools"
    # The storage settings func got name the Azurite the stack started, and work there.
    assert found["storage"] == info.storage_connection
    assert found["created"] == 201
    assert TABLE in azurite_client.list_tables(info.storage_connection)

    # The same linked-backend emulation is in front: the user's token in X-User-Authorization only.
    emulator = Emulator(entra_url=info.entra_url, graph_url=info.graph_url, authority=info.authority,
                        tenant_id=info.tenant_id, ca_bundle=info.ca_bundle, config=info.emulator_config)
    token = emulator.mint(user="sam.whitfield@larkspur.example", client_id=emulator.app("spa")["client_id"],
                          audience=emulator.app("api")["client_id"], scopes=["user_impersonation"])
    profile = http.get(f"{info.app_url}/api/get-profile", headers={"X-User-Authorization": f"Bearer {token}"},
                       timeout=30)
    assert profile.status_code == 200, profile.text

    ports = storage_ports(info.storage_connection)
    assert all(listening(port) for port in ports)
    running.stop()
    deadline = time.monotonic() + 15
    while any(listening(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [port for port in ports if listening(port)] == [], "Azurite outlived the stack"
    assert not listening(urlsplit(info.api_url).port)


def test_the_default_ports_use_the_development_storage_shortcut() -> None:
    from localdev.azurite import DEFAULT_PORTS, AzuritePorts

    assert AzuritePorts(*DEFAULT_PORTS).connection_string() == "UseDevelopmentStorage=true"
    assert storage_ports("UseDevelopmentStorage=true") == list(DEFAULT_PORTS)


def test_core_tools_are_never_chosen_because_func_is_on_path(func_on_path, monkeypatch, capsys) -> None:
    report, _ = func_on_path
    monkeypatch.delenv("LOCALDEV_FUNCTIONS", raising=False)
    assert core_tools.func_executable() is not None
    assert parse_args([]).functions == "local"
    Stack(StackOptions(entra_port=0, graph_port=0, api_port=0, swa_port=0))._preflight()
    assert "--functions core-tools" in capsys.readouterr().err
    assert not report.exists()
    # Asked for, by option or by environment variable (the Makefile's FUNCTIONS passes the option).
    assert parse_args(["--functions", "core-tools"]).functions == "core-tools"
    monkeypatch.setenv("LOCALDEV_FUNCTIONS", "core-tools")
    assert parse_args([]).functions == "core-tools"


def test_core_tools_without_func_on_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match="Core Tools .* not on PATH"):
        Stack(StackOptions(entra_port=0, graph_port=0, api_port=0, swa_port=0, functions="core-tools",
                           storage_ports=(0, 0, 0)))._preflight()
    with pytest.raises(StackError, match="--functions must be one of local, core-tools"):
        Stack(StackOptions(functions="auto"))


def test_make_run_passes_the_functions_choice_on() -> None:
    import subprocess

    dry_run = subprocess.run(["make", "-n", "run", "FUNCTIONS=core-tools"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert "-m localdev run --functions core-tools" in dry_run
    default = subprocess.run(["make", "-n", "run"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert "--functions" not in default.splitlines()[-1]

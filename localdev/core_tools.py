"""`func start` (Azure Functions Core Tools) for `python -m localdev run --functions core-tools`.

Core Tools are used only when asked for (never because `func` happens to be on PATH). What `func start` needs
here besides the app settings the local host also gets:

- the virtualenv's `bin` first on PATH: the Python worker runs the `python` it finds there, which must be the
  one with requirements.txt installed (as an activated virtualenv would provide);
- `FUNCTIONS_WORKER_RUNTIME=python`, `PYTHON_SCRIPT_FILE_NAME=main.py` (docs/architecture.md, "Platform
  facts") and `AzureWebJobsFeatureFlags=EnableWorkerIndexing` (the v2 programming model on hosts that do not
  enable it by default);
- `AzureWebJobsStorage` pointing at the Azurite the stack starts (azurite.py). Environment variables win over
  `local.settings.json`, so that file may stay as copied from the example.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Mapping

RUNTIME_NAME = "Azure Functions Core Tools"


def virtualenv_bin() -> Path:
    """The `bin` (Scripts on Windows) folder of the interpreter running the stack: the project's virtualenv."""
    return Path(sys.prefix) / ("Scripts" if os.name == "nt" else "bin")


def func_executable(path: str | None = None) -> str | None:
    return shutil.which("func", path=path)


def core_tools_env(base: Mapping[str, str], storage_connection: str) -> dict[str, str]:
    env = dict(base)
    venv_bin = virtualenv_bin()
    env["PATH"] = os.pathsep.join(p for p in (str(venv_bin), env.get("PATH", "")) if p)
    env["VIRTUAL_ENV"] = str(venv_bin.parent)
    env.update({
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "PYTHON_SCRIPT_FILE_NAME": "main.py",
        "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
        "AzureWebJobsStorage": storage_connection,
    })
    return env


def command(executable: str, port: int) -> list[str]:
    return [executable, "start", "--port", str(port)]

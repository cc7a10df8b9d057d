"""The loader finds the app the way the Python worker does: by entry file name, then the FunctionApp."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from localdev.host.app_loader import AppLoadError, load_app

APP_SOURCE = '''
import azure.functions as func
import azure.durable_functions as df

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="jobs/{id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client) -> func.HttpResponse:
    return func.HttpResponse("ok")

@app.route(route="plain")
def plain(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse("ok")

@app.orchestration_trigger(context_name="context")
def orchestrator(context):
    return None
'''


# Top-level module names the test apps use. The suite has often imported the product's own `function_app`
# package (or another test's app) already; each load here must import like a fresh worker process.
APP_MODULE_NAMES = ("function_app", "main", "entry")


@pytest.fixture(autouse=True)
def _fresh_interpreter_state():
    """Each test imports as a fresh worker would, and leaves sys.modules and sys.path as they were.

    The loader registers the entry file under its stem (`function_app.py` as `function_app`) and puts the app
    root on sys.path, as the worker does in its own process. Restoring only the names a test added is not
    enough: a test app imported as `function_app` replaces the product's package, which stays replaced for
    every later test (and a later `from function_app import app` gets that already-indexed test app).
    """
    modules = dict(sys.modules)
    path = list(sys.path)
    for name in list(sys.modules):
        if name.partition(".")[0] in APP_MODULE_NAMES:
            del sys.modules[name]
    try:
        yield
    finally:
        for name in set(sys.modules) - modules.keys():
            del sys.modules[name]
        for name, module in modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
        sys.path[:] = path


def test_loads_entry_file_named_by_setting_and_indexes_functions(tmp_path: Path) -> None:
    (tmp_path / "entry.py").write_text(APP_SOURCE)
    loaded = load_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "entry.py"})
    assert {f.get_function_name() for f in loaded.functions} == {"status", "plain", "orchestrator"}
    assert loaded.uses_durable
    http = {h.name: h for h in loaded.http_functions}
    assert http["status"].route == "jobs/{id}"
    assert http["status"].methods == ("GET",)
    assert http["status"].is_async
    assert http["status"].input_bindings == (("client", "durableClient"),)
    assert http["status"].auth_level == "anonymous"
    # No route given: the function name is the route; no methods: any method.
    assert http["plain"].route == "plain" and http["plain"].methods is None
    assert http["plain"].wants_context and not http["plain"].is_async


def test_default_entry_file_is_function_app_py(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(APP_SOURCE)
    assert len(load_app(tmp_path, {}).functions) == 3


def test_entry_file_wins_over_a_package_of_the_same_name(tmp_path: Path) -> None:
    # A `function_app/` package would shadow `function_app.py` for a module import; the worker (and this
    # loader) import by file, so naming the entry file main.py and the package function_app works.
    package = tmp_path / "function_app"
    package.mkdir()
    (package / "__init__.py").write_text(APP_SOURCE)
    (tmp_path / "main.py").write_text("from function_app import app\n")
    loaded = load_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "main.py"})
    assert len(loaded.http_functions) == 2


def test_missing_entry_file(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="main.py not found"):
        load_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "main.py"})


def test_app_found_under_another_name(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(
        "import azure.functions as func\nmy_app = func.FunctionApp()\n"
        "@my_app.route(route='x')\ndef x(req):\n    return 'x'\n")
    assert [h.name for h in load_app(tmp_path, {}).http_functions] == ["x"]


def test_module_without_app(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("value = 1\n")
    with pytest.raises(AppLoadError, match="no FunctionApp"):
        load_app(tmp_path, {})


def test_two_apps_are_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(
        "import azure.functions as func\na = func.FunctionApp()\nb = func.FunctionApp()\n")
    with pytest.raises(AppLoadError, match="more than one"):
        load_app(tmp_path, {})


def test_import_failure_is_reported_as_load_error(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("raise RuntimeError('broken at import')\n")
    with pytest.raises(AppLoadError, match="RuntimeError: broken at import"):
        load_app(tmp_path, {})


def test_an_app_indexed_before_in_this_process_is_named_as_such(tmp_path: Path) -> None:
    # The worker indexes once per process. A second index of the same FunctionApp object (its module cached in
    # sys.modules) would fail in azure-functions with a misleading "not a unique function name".
    package = tmp_path / "function_app"
    package.mkdir()
    (package / "__init__.py").write_text(APP_SOURCE)
    (tmp_path / "main.py").write_text("from function_app import app\n")
    load_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "main.py"})
    with pytest.raises(AppLoadError, match="already indexed in this process"):
        load_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "main.py"})


def test_a_failed_import_restores_the_module_it_displaced(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("raise RuntimeError('broken at import')\n")
    sentinel = type(sys)("function_app")
    sys.modules["function_app"] = sentinel
    with pytest.raises(AppLoadError):
        load_app(tmp_path, {})
    assert sys.modules["function_app"] is sentinel


def test_the_product_package_is_not_visible_to_loaded_test_apps() -> None:
    # The isolation this file relies on: whatever the suite imported before, an app module name is free.
    assert not any(name.partition(".")[0] in APP_MODULE_NAMES for name in sys.modules)

"""Import the function app the way the Python worker indexes it (v2 programming model).

The worker puts the app root first on `sys.path`, checks that the file named by `PYTHON_SCRIPT_FILE_NAME`
(default `function_app.py`) exists, imports it by file name, and indexes the single `FunctionRegister`
instance (a `func.FunctionApp` or a durable `DFApp`) it finds in the module. Importing by file rather than by
module name matters in this project: a `function_app/` package would shadow a `function_app.py` module,
which is why the entry file is `main.py`.
"""
from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from azure.functions.decorators.core import BindingDirection
from azure.functions.decorators.function_app import Function, FunctionRegister

log = logging.getLogger("localdev.host")

DEFAULT_SCRIPT_FILE = "function_app.py"
SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
DURABLE_BINDING_TYPES = frozenset({"orchestrationTrigger", "activityTrigger", "entityTrigger", "durableClient"})


class AppLoadError(RuntimeError):
    """The app cannot be indexed; the message says what to fix."""


@dataclass(frozen=True)
class HttpFunction:
    """An HTTP-triggered function, with what the host needs to route and invoke it."""

    name: str
    route: str
    methods: tuple[str, ...] | None
    auth_level: str
    trigger_name: str
    handler: Callable[..., Any]
    is_async: bool
    input_bindings: tuple[tuple[str, str], ...]  # (parameter name, binding type) besides the trigger
    wants_context: bool


@dataclass(frozen=True)
class LoadedApp:
    script_path: Path
    app: FunctionRegister
    functions: list[Function]
    http_functions: list[HttpFunction]

    @property
    def warmup_handlers(self) -> list[Callable[..., Any]]:
        """Functions with a warmup trigger: Azure runs them on a new instance before it takes traffic."""
        return [f.get_user_function() for f in self.functions
                if (trigger := f.get_trigger()) is not None and trigger.type == "warmupTrigger"]

    @property
    def uses_durable(self) -> bool:
        return any(b.type in DURABLE_BINDING_TYPES for f in self.functions for b in f.get_bindings())


def script_file_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(SCRIPT_FILE_SETTING) or DEFAULT_SCRIPT_FILE


def _import_by_file(path: Path) -> Any:
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    displaced = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        if displaced is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = displaced
        raise
    return module


def find_app(module: Any) -> FunctionRegister:
    """`app` when it is a function app; otherwise the one FunctionRegister instance in the module."""
    named = getattr(module, "app", None)
    if isinstance(named, FunctionRegister):
        return named
    found = {id(v): v for v in vars(module).values() if isinstance(v, FunctionRegister)}
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise AppLoadError(f"{module.__file__} defines no FunctionApp instance")
    raise AppLoadError(f"{module.__file__} defines more than one FunctionApp instance")


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


def _is_input(binding: Any) -> bool:
    # Bindings keep their direction as the enum's raw value (0), not as the enum member.
    direction = getattr(binding, "direction", None)
    return getattr(direction, "value", direction) == BindingDirection.IN.value


def describe_http_function(function: Function) -> HttpFunction | None:
    trigger = function.get_trigger()
    if trigger is None or trigger.type != "httpTrigger":
        return None
    handler = function.get_user_function()
    methods = getattr(trigger, "methods", None)
    method_names = tuple(_enum_value(m).upper() for m in methods) if methods else None
    parameters = inspect.signature(handler).parameters
    inputs = tuple(
        (b.name, b.type)
        for b in function.get_bindings()
        if b is not trigger and _is_input(b) and b.name in parameters
    )
    return HttpFunction(
        name=function.get_function_name() or handler.__name__,
        route=str(getattr(trigger, "route", None) or function.get_function_name()),
        methods=method_names,
        auth_level=_enum_value(getattr(trigger, "auth_level", None) or "function").lower(),
        trigger_name=trigger.name,
        handler=handler,
        is_async=inspect.iscoroutinefunction(handler),
        input_bindings=inputs,
        wants_context="context" in parameters,
    )


def load_app(app_root: Path, environ: dict[str, str] | None = None) -> LoadedApp:
    """Import the entry file under `app_root` and index its functions."""
    app_root = app_root.resolve()
    script = app_root / script_file_name(environ)
    if not script.is_file():
        raise AppLoadError(
            f"{script.name} not found in {app_root} (set {SCRIPT_FILE_SETTING} to the app's entry file)"
        )
    root = str(app_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = _import_by_file(script)
    except Exception as exc:
        # As the worker does, the import failure is reported with its traceback and the app does not start.
        log.error("importing %s failed", script, exc_info=True)
        raise AppLoadError(f"importing {script.name} failed: {type(exc).__name__}: {exc}") from exc
    app = find_app(module)
    if getattr(app, "functions_bindings", None):
        # azure-functions records names while indexing and refuses them the second time, with a misleading
        # "does not have a unique function name"; the worker indexes once per process, and so must we.
        raise AppLoadError(f"the FunctionApp in {script.name} was already indexed in this process (its module "
                           f"was imported before); load the app in a fresh process")
    try:
        functions = app.get_functions()
    except ValueError as exc:
        raise AppLoadError(f"function indexing failed: {exc}") from exc
    http_functions = [h for h in (describe_http_function(f) for f in functions) if h is not None]
    return LoadedApp(script_path=script, app=app, functions=functions, http_functions=http_functions)

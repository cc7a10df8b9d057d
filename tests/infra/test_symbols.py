"""What the Bicep compiler would reject, checked offline: expressions that use undeclared symbols, and module
outputs that the module does not declare."""
from __future__ import annotations

import re

import pytest

from tests.infra.bicep_model import (
    bicep_files,
    declared_symbols,
    identifier_uses,
    modules,
    outputs,
    parse,
    rel,
    root_references,
)


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_expressions_use_declared_symbols_only(path):
    document = parse(path)
    used = root_references({k: v for k, v in document.items() if k in
                            ("parameters", "variables", "resources", "modules", "outputs")})
    bare, lambda_params = identifier_uses(path)
    undeclared = (used | bare) - declared_symbols(path) - lambda_params
    assert not undeclared, f"{rel(path)} uses undeclared symbols {sorted(undeclared)}"


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_module_outputs_used_are_declared_by_the_module(path):
    declared = {name: set(outputs(module.target)) for name, module in modules(path).items()}
    text = re.sub(r"//.*", "", path.read_text())
    for module_name, output in re.findall(r"\b(\w+)!?\.outputs\.(\w+)", text):
        assert module_name in declared, f"{rel(path)}: {module_name} is not a module"
        assert output in declared[module_name], \
            f"{rel(path)}: module {module_name} has no output {output} (it has {sorted(declared[module_name])})"


def test_bare_identifiers_are_told_apart_from_literals():
    main = [p for p in bicep_files() if rel(p) == "infra/main.bicep"][0]
    bare, _ = identifier_uses(main)
    # `scope: rg` and `dependsOn: [apiExposure]` are identifiers; 'azd-service-name' values are literals.
    assert {"rg", "apiExposure", "environmentName", "location", "tags"} <= bare
    assert not {"westeurope", "centralus", "subscription"} & bare


def test_the_symbol_check_sees_references():
    # Guard against a check that passes because it finds nothing.
    main = [p for p in bicep_files() if rel(p) == "infra/main.bicep"][0]
    document = parse(main)
    used = root_references(document["modules"])
    assert {"identity", "web", "appRegistrations", "storage", "monitoring", "api",
            "abbrs", "resourceToken"} <= used

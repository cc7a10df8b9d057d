"""No secret is written into the infrastructure, its outputs, or the files azd and the SWA CLI read."""
from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep_model import (
    INFRA,
    REPO_ROOT,
    bicep_files,
    decorator_types,
    outputs,
    parameters,
    rel,
    strings,
)

CONFIG_FILES = [
    INFRA / "main.parameters.json",
    INFRA / "bicepconfig.json",
    INFRA / "abbreviations.json",
    INFRA / "auth" / "authsettings.json",
    REPO_ROOT / "azure.yaml",
    REPO_ROOT / "swa-cli.config.json",
    INFRA / "hooks" / "postprovision.sh",
    INFRA / "hooks" / "postprovision.ps1",
    INFRA / "hooks" / "preprovision.sh",
    INFRA / "hooks" / "preprovision.ps1",
    INFRA / "entra" / "graph-permissions.json",
    REPO_ROOT / "scripts" / "real_tenant_settings.py",
]

SECRET_PATTERNS = [
    re.compile(r"AccountKey=", re.I),
    re.compile(r"SharedAccessSignature|[?&]sig=", re.I),
    re.compile(r"InstrumentationKey=[0-9a-f-]{36}", re.I),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\b[A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{31,34}\b"),  # Entra client secret shape
    re.compile(r"(password|secret|apiKey|deploymentToken)['\"]?\s*[:=]\s*['\"][^'\"$\s{][^'\"]{5,}['\"]", re.I),
]
SECRET_NAME = re.compile(r"(?<!resource)(secret|password|key|token)s?$", re.I)


@pytest.mark.parametrize("path", bicep_files() + CONFIG_FILES, ids=rel)
def test_no_literal_secrets(path):
    text = path.read_text()
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{rel(path)} matches {pattern.pattern}"


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_no_key_listing_functions(path):
    text = path.read_text()
    assert not re.search(r"\blist(Keys|Secrets|ConnectionStrings|AccountSas|ServiceSas)\s*\(", text), \
        f"{rel(path)} reads keys; every client authenticates with Microsoft Entra ID"


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_secret_looking_parameters_are_secure_and_have_no_default_value(path):
    for name, param in parameters(path).items():
        if SECRET_NAME.search(name) and param["type"] == "string":
            assert "secure" in decorator_types(param), f"{rel(path)}: {name} is not @secure()"
            assert param.get("default") in (None, ""), f"{rel(path)}: {name} has a default value"


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_outputs_carry_no_secure_parameter(path):
    secure = {name for name, p in parameters(path).items() if "secure" in decorator_types(p)}
    for name, output in outputs(path).items():
        used = set()
        for text in strings(output["value"]):
            used.update(re.findall(r"[A-Za-z_]\w*", text))
        assert not (used & secure), f"{rel(path)}: output {name} exposes {used & secure}"
        assert not SECRET_NAME.search(name), f"{rel(path)}: output {name} looks like a secret"


def test_the_parameters_file_takes_the_cache_keys_from_the_environment():
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert values["tokenCacheKeys"]["value"] == "${TOKEN_CACHE_KEYS=}"


def test_hooks_never_fetch_the_static_web_app_deployment_token():
    for hook in (INFRA / "hooks").iterdir():
        text = hook.read_text()
        assert "secrets list" not in text and "listSecrets" not in text and "apiKey" not in text

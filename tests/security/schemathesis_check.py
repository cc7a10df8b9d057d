"""The OpenAPI description against the running app, with schemathesis (run by `make fuzz`).

Starts the emulators and the local host (App Service authentication on), checks that the app serves its
description at `GET /api/openapi.json` (and that it is the one in function_app/openapi.json), then lets
schemathesis generate requests for every operation. A header hook gives half of the requests the user's
valid token in both headers the SPA sends, so the authenticated paths (Graph, OBO, the report job) are
exercised too; the other half go with whatever schemathesis generated. Every response must be no 5xx and
conform to the description (status, content type, headers, body schema).

    from tests.security.schemathesis_check import run
    report = run(max_examples=200)
"""
from __future__ import annotations

import json
import tempfile
import traceback
from pathlib import Path
from typing import Any

import requests
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.emulator import start_emulator, stop_emulator
from tests.fixtures.host import emulator_app_env, start_host
from tests.security.support import MIRA, session, spa_headers, user_token

SPEC_PATH = Path(__file__).resolve().parents[2] / "function_app" / "openapi.json"


def _served(http: requests.Session, base_url: str) -> dict[str, Any]:
    response = http.get(f"{base_url}/api/openapi.json", timeout=30)
    served = {"status": response.status_code, "matches_file": False}
    if response.status_code == 200:
        try:
            served["matches_file"] = response.json() == json.loads(SPEC_PATH.read_text())
        except ValueError:
            pass
    return served


def run(max_examples: int = 100) -> dict[str, Any]:
    emulator = start_emulator()
    host = None
    http = session()
    report: dict[str, Any] = {"operations": {}, "cases": 0}
    try:
        state_dir = Path(tempfile.mkdtemp(prefix="schemathesis-durable-"))
        host = start_host(env=emulator_app_env(emulator), state_dir=state_dir)
        report["served"] = _served(http, host.url)
        token = user_token(emulator, MIRA)
        schema = schemathesis.openapi.from_path(SPEC_PATH)
        for result in schema.get_all_operations():
            operation = result.ok()
            counts = {"cases": 0, "authenticated": 0, "statuses": {}}
            strategy = operation.as_strategy()
            try:  # requests outside the description too, where there is anything to get wrong (path ids)
                strategy = st.one_of(strategy, operation.as_strategy(GenerationMode.NEGATIVE))
            except Exception:  # noqa: BLE001 - nothing negative to generate for this operation
                pass
            failure: str | None = None

            @settings(max_examples=max_examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy, authenticated=st.booleans())
            def check(case: Any, authenticated: bool) -> None:
                # The header hook: the user's real token, as the SPA sends it.
                headers = spa_headers(token) if authenticated else None
                response = case.call_and_validate(base_url=host.url, session=http, headers=headers, timeout=60)
                counts["cases"] += 1
                counts["authenticated"] += int(authenticated)
                key = str(response.status_code)
                counts["statuses"][key] = counts["statuses"].get(key, 0) + 1
                assert response.status_code < 500, response.text[:300]

            try:
                check()
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - reported per operation
                failure = "".join(traceback.format_exception_only(type(error), error)).strip()[:2000]
            report["operations"][operation.label] = {**counts, "failure": failure}
            report["cases"] += counts["cases"]
    finally:
        http.close()
        if host is not None:
            host.stop()
        emulator.session.close()
        if emulator.process is not None:
            stop_emulator(emulator.process)
    report["ok"] = (report.get("served", {}).get("matches_file") is True
                    and all(op["failure"] is None for op in report["operations"].values()))
    return report


if __name__ == "__main__":
    print(json.dumps(run(20), indent=2))

"""Secrets the redaction rules must blank, and correlation ids a caller may choose.

One set of rules (function_app/redaction.py) serves the app's log record factory and the local durable
runner's persisted failure text; these cases apply them the way both do, in-process. Correlation ids are also
sent through the local host in test_hostile_tokens.py."""
from __future__ import annotations

import logging
import uuid

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from function_app import logging_setup
from function_app.logging_setup import install_redaction, log_event, request_correlation_id
from function_app.redaction import REDACTED, redact
from tests.unit.function_app.support import mint

# A JWE in compact form with direct encryption (`alg: dir`): five parts, the encrypted key empty.
JWE = ("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXYxMjM0NTY3ODkw.Y2lwaGVydGV4dC1vZi10aGUtdG9rZW4"
       ".dGFnMTIzNDU2Nzg5MGFi")
JWE_WITH_KEY = ("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.ZW5jcnlwdGVkLWtleQ.aXYxMjM0NTY3ODkw"
                ".Y2lwaGVydGV4dC1vZi10aGUtdG9rZW4.dGFnMTIzNDU2Nzg5MGFi")


@pytest.mark.parametrize(("text", "secret"), [
    ("connecting to rediss://0b6c7d3e-1111:hunter2-redis@cache.example:10000/0", "hunter2-redis"),
    ("redis://:p@ss@word@127.0.0.1:6379/0 refused", "ss@word"),
    ("CLIENT_SECRET abc~DEF.123_xyz", "abc~DEF.123_xyz"),
    ("CLIENT_SECRET\tabc~DEF.123_xyz", "abc~DEF.123_xyz"),
    ("env: CLIENT_SECRET=Zq8~x.Yy", "Zq8~x.Yy"),
    ("TOKEN_CACHE_KEYS=k1:AAAAAAAAAAAAAAAAAAAAAA==,k2:QkJCQkJCQkJCQkJCQkJCQg==", "QkJCQkJCQkJCQkJCQkJCQg=="),
    ("TOKEN_CACHE_KEYS k1:AAAAAAAAAAAAAAAAAAAAAA==,k2:QkJCQkJCQkJCQkJCQkJCQg==", "QkJCQkJCQkJCQkJCQkJCQg=="),
    ("X-IDENTITY-HEADER: 5b1c0c7e-identity-header-value", "5b1c0c7e-identity-header-value"),
    ("headers={'X-IDENTITY-HEADER': 'abc def 123'}", "def 123"),
    ('password="correct horse battery staple" user=mira', "horse battery staple"),
    ("password='correct horse battery staple'", "horse battery staple"),
    ('{"password": "correct horse battery staple"}', "horse battery staple"),
    ('event=x detail="password=\\"correct horse battery\\""', "horse battery"),
    ('{"client_secret": "two words"}', "words"),
    (f"token: {JWE}", "Y2lwaGVydGV4dC1vZi10aGUtdG9rZW4"),
    (f"token: {JWE_WITH_KEY}", "ZW5jcnlwdGVkLWtleQ"),
    ("client_assertion=eyJhbGciOiJSUzI1NiJ9.e30.c2ln&grant_type=x", "c2ln"),
    ("AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net", "c2VjcmV0LWtleQ=="),
])
def test_secrets_the_old_rules_missed_are_redacted(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned, cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize("text", [
    "TOKEN_CACHE_KEYS is required when TOKEN_CACHE=redis.",
    "Set exactly one API credential; found CLIENT_SECRET, MANAGED_IDENTITY_CLIENT_ID.",
    "connecting to rediss://0b6c7d3e-1111@cache.example:10000/0",
    "GET https://graph.microsoft.com:443/v1.0/me?$select=id",
    "the password must be rotated",
])
def test_prose_and_urls_without_credentials_are_kept(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_idempotent_and_keeps_the_rest_of_a_form() -> None:
    once = redact("client_secret=abc&grant_type=client_credentials&scope=x")
    assert once == "client_secret=[redacted]&grant_type=client_credentials&scope=x"
    assert redact(once) == once


def test_log_lines_are_redacted_through_the_one_module(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    caplog.set_level(logging.INFO)
    log_event("settings_dump", detail="CLIENT_SECRET Zq8~x.Yy TOKEN_CACHE_KEYS=k1:QkJCQkJCQkJCQkJCQkJCQg==",
              url="rediss://u:hunter2@cache:10000/0", token=JWE)
    assert caplog.records
    for secret in ("Zq8~x.Yy", "QkJCQkJCQkJCQkJCQkJCQg==", "hunter2", "Y2lwaGVydGV4dC1vZi10aGUtdG9rZW4"):
        assert secret not in caplog.text
    assert logging_setup.redact is redact  # the logging module uses the shared rules, not a copy


def test_the_durable_runner_uses_the_same_rules() -> None:
    from localdev.durable import engine, runtime

    assert runtime.redact is redact and engine.redact is redact
    assert mint() not in runtime.redact(f"failed with {mint()}")


# -- correlation ids ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "adopted"), [
    ("3F2504E0-4F89-41D3-9A0C-0305E82C3301", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
    ("3f2504e04f8941d39a0c0305e82c3301", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
    ("req-42.a_b", "req-42.a_b"),
    ("x" * 64, "x" * 64),
])
def test_guid_or_short_safe_correlation_ids_are_adopted(value: str, adopted: str) -> None:
    assert request_correlation_id({"x-correlation-id": value}) == adopted


@pytest.mark.parametrize("value", ["x" * 65, "a b", "a=b", 'a"b', "a\\b", "id\u2028x", "caf\u00e9", "a\tb",
                                   "3f2504e0-4f89-41d3-9a0c-0305e82c3301\n", "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}"])
def test_other_correlation_ids_are_replaced_by_a_new_guid(value: str) -> None:
    cid = request_correlation_id({"x-correlation-id": value})
    assert cid != value and str(uuid.UUID(cid)) == cid


def test_the_second_header_is_used_when_the_first_is_unusable() -> None:
    assert request_correlation_id({"x-correlation-id": "no good", "x-ms-client-request-id": "req-7"}) == "req-7"


@pytest.mark.parametrize("value", ["Bearer", "bearer", "client_secret", "TOKEN_CACHE_KEYS", "X-IDENTITY-HEADER",
                                   "identity_header", "AzureWebJobsStorage", "redis_password"])
def test_ids_the_redaction_rules_would_take_for_a_credential_name_are_replaced(value: str) -> None:
    # Adopted, `correlation_id=Bearer function=get_profile` would log as `... Bearer [redacted]`: a caller
    # could blank the field after the id in every line of its request.
    cid = request_correlation_id({"x-correlation-id": value})
    assert str(uuid.UUID(cid)) == cid


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True),
                 st.sampled_from(["Bearer", "BEARER", "client_secret", "password", "sig", "design", "eyJhbGci",
                                  "token_cache_keys", "assertion", "refresh_token", "pwd"])))
def test_whatever_id_is_adopted_every_field_of_its_lines_is_logged_as_written(value: str) -> None:
    install_redaction()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging_setup.logger.addHandler(handler)
    previous = logging_setup.logger.level
    logging_setup.logger.setLevel(logging.INFO)
    try:
        with logging_setup.correlation_scope(request_correlation_id({"x-correlation-id": value})) as cid:
            log_event("request", function="get_profile", status=200)
    finally:
        logging_setup.logger.removeHandler(handler)
        logging_setup.logger.setLevel(previous)
    assert [r.getMessage() for r in records] == [f"event=request correlation_id={cid} function=get_profile status=200"]

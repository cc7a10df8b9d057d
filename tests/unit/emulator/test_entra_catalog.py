"""The Entra emulator's AADSTS catalogue, kept grouped by `error` and status: every code under one group only,
and each code answers with Entra's error and status."""
from __future__ import annotations

from collections import Counter

from localdev.emulator.entra.errors import _MESSAGES_BY_ERROR, CATALOG, OAuthError, missing_parameter


def test_no_code_stands_in_two_groups() -> None:
    # A code in two groups would silently take the later one's error and status.
    counts = Counter(code for messages in _MESSAGES_BY_ERROR.values() for code in messages)
    assert [code for code, n in counts.items() if n > 1] == []
    assert len(CATALOG) == sum(counts.values())


def test_codes_answer_with_entras_error_and_status() -> None:
    expected = {50013: ("invalid_grant", 400), 700025: ("invalid_client", 401), 90002: ("invalid_tenant", 400),
                90033: ("temporarily_unavailable", 503), 70003: ("unsupported_grant_type", 400),
                65004: ("access_denied", 400), 700054: ("unsupported_response_type", 400)}
    for code, (error, status) in expected.items():
        raised = OAuthError(code)
        assert (raised.error, raised.status) == (error, status), code
        assert raised.message == CATALOG[code].message


def test_a_missing_parameter_is_named() -> None:
    error = missing_parameter("code")
    assert (error.code, error.error, error.status) == (900144, "invalid_request", 400)
    assert error.message == "The request body must contain the following parameter: 'code'."
    assert missing_parameter("assertion", 90014).code == 90014

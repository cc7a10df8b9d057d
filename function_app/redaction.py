"""Blank credentials out of text before it is logged or stored: the code base's one set of redaction rules.

Used by the function app's log record factory (`logging_setup.install_redaction`) and by the local durable
runner for failure text it persists in orchestration history. It is defence in depth: the code never puts a
token or secret in a message on purpose, so the rules aim at what a library or an exception might quote:

- JWTs and JWEs (compact forms start with the base64url of `{"`, `eyJ`; a JWE has five parts, its second one
  empty for direct encryption);
- `Bearer <token>`;
- the password of a URL's user information (`rediss://user:secret@host`), the user name kept;
- credential parameters and settings (`client_secret=...`, `"password": "two words"`, `CLIENT_SECRET value`,
  `TOKEN_CACHE_KEYS=kid:key,kid2:key2`, `X-IDENTITY-HEADER: ...`): a quoted value is blanked whole, spaces
  included; an unquoted one up to the next separator (for settings whose values are lists, the next space).
"""
from __future__ import annotations

import re

REDACTED = "[redacted]"

_B64URL = r"[A-Za-z0-9_-]"
_JOSE_RE = re.compile(rf"eyJ{_B64URL}{{5,}}\.{_B64URL}*\.{_B64URL}*(?:\.{_B64URL}*\.{_B64URL}+)?")
_BEARER_RE = re.compile(r"(?i)\b(bearer[ \t]+)[A-Za-z0-9\-._~+/]+=*")
# scheme://user:password@host: greedy up to the authority's last `@`, so an unescaped `@` in it leaks nothing.
_URL_PASSWORD_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)([^\s/]+)(@)")

# Settings and headers that hold a credential, and whose values may contain `,`/`:` (TOKEN_CACHE_KEYS is
# `kid:key,kid:key`). Besides `=`/`:`, a plain space separates them from their value in some dumps.
_SECRET_SETTINGS = (r"client_secret|microsoft_provider_authentication_secret|token_cache_keys|x-identity-header|"
                    r"identity_header|client_certificate_password|redis_password|azurewebjobsstorage")
# Parameter names (OAuth form fields, JSON members, keyword arguments) that hold a credential.
_SECRET_PARAMS = (r"client_assertion|assertion|refresh_token|access_token|id_token|client_info|code_verifier|"
                  r"password|passwd|pwd|secret|sig|accountkey|sharedaccesskey")
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\\\"(?:[^\"\\]|\\[^\"])*\\\""
_NOT_DONE = r"(?!\[redacted\])"
_SETTING_RE = re.compile(
    rf"(?i)(?<![A-Za-z0-9_-])((?:{_SECRET_SETTINGS})[\"']?(?:[ \t]*[=:][ \t]*|[ \t]+)){_NOT_DONE}"
    rf"({_QUOTED}|[^\s\"'&]+)")
_PARAM_RE = re.compile(
    rf"(?i)(?<![A-Za-z0-9])((?:{_SECRET_PARAMS})(?:\\?[\"'])?[ \t]*[=:][ \t]*){_NOT_DONE}"
    rf"({_QUOTED}|[^\s&\"',;}}\]]+)")
# After a space, an ordinary word is prose ("CLIENT_SECRET is required"), not a value: keep it.
_PROSE_WORD_RE = re.compile(r"\(?[A-Za-z]{1,12}[.,;:)]?")


def _blank(value: str) -> str:
    """The redacted form of a value, keeping the quotes around it so the text stays well-formed."""
    for quote in ('\\"', '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            return quote + REDACTED + quote
    return REDACTED


def _setting(match: re.Match[str]) -> str:
    prefix, value = match.group(1), match.group(2)
    if prefix[-1] in " \t" and ":" not in prefix and "=" not in prefix and _PROSE_WORD_RE.fullmatch(value):
        return match.group(0)
    return prefix + _blank(value)


# Every match of the patterns above contains one of these (lower-cased), so a line with none of them has
# nothing to redact. Only for ASCII text, where lower() and the patterns' case-insensitivity agree exactly.
_MARKERS = ("eyj", "bearer", "://", "secret", "token_cache_keys", "identity", "password", "azurewebjobsstorage",
            "assertion", "_token", "client_info", "code_verifier", "passwd", "pwd", "sig", "accountkey",
            "accesskey")


def redact(text: str) -> str:
    if text.isascii():
        lowered = text.lower()
        if not any(marker in lowered for marker in _MARKERS):
            return text  # most log lines: five regex scans saved
    return _apply_patterns(text)


def _apply_patterns(text: str) -> str:
    text = _JOSE_RE.sub(REDACTED, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _URL_PASSWORD_RE.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _SETTING_RE.sub(_setting, text)
    return _PARAM_RE.sub(lambda m: m.group(1) + _blank(m.group(2)), text)

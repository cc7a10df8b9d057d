"""Strict decoding of a JWT's header and payload, before any JWT library reads them.

Two JSON parsers can disagree about the same bytes (a parser differential), and then what the signature
covers is not what the validator checked. PyJWT hands each segment to `json.loads`, which takes the last of
two duplicate member names, reads `NaN`/`Infinity`, turns `1e400` into infinity and auto-detects UTF-16 and
UTF-32 input. RFC 7519 section 7.2 and RFC 8725 section 3.11 ask a validator to refuse what a strict reader
would, so this module accepts a segment only when it is:

- base64url without padding (RFC 7515 section 2), of bounded size;
- strict UTF-8 with no byte order mark (RFC 8259 section 8.1): UTF-16/32 and lone surrogates are refused;
- one JSON object with no duplicate member name at any depth, no `NaN`/`Infinity`, no number that overflows a
  double, no escaped lone surrogate, and nesting no deeper than `MAX_DEPTH`.

Time claims (`exp`, `nbf`, `iat`) must be finite JSON numbers (RFC 7519 NumericDate); `iat` may be absent.
Both the product's validator (`validate.py`) and the local App Service authentication emulation use this.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32
TIME_CLAIMS = ("exp", "nbf", "iat")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class SegmentError(ValueError):
    """A header or payload a strict reader refuses; the message says why (never quoting the token)."""


@dataclass(frozen=True)
class Segments:
    header: dict[str, Any]
    payload: dict[str, Any]


def _refuse_constant(name: str) -> Any:
    raise SegmentError(f"the JSON holds {name}, which is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise SegmentError("the JSON holds a number too large for a double")
    return value


def _bounded_int(text: str) -> int:
    # Python ints never overflow, but every other JSON reader turns these into doubles: refuse what a double
    # cannot hold, as for floats.
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise SegmentError("the JSON holds a number too large for a double") from None
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise SegmentError("a JSON object names the same member twice")
        result[name] = value
    return result


def _check_structure(value: Any, level: int = 1) -> None:
    """Nesting depth, and no lone surrogate (`"\\ud800"` is valid JSON syntax but not Unicode text, RFC 7493)."""
    if level > MAX_DEPTH:
        raise SegmentError(f"the JSON nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SegmentError("the JSON holds a lone surrogate") from None
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_structure(name, level)
            _check_structure(item, level + 1)
    elif isinstance(value, list):
        for item in value:
            _check_structure(item, level + 1)


def decode_segment(segment: str, what: str) -> dict[str, Any]:
    """One base64url segment as a JSON object, or `SegmentError`."""
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise SegmentError(f"the {what} is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise SegmentError(f"the {what} is not unpadded base64url") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raise SegmentError(f"the {what} starts with a byte order mark")
    try:
        text = raw.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise SegmentError(f"the {what} is not UTF-8") from None
    # The C scanner recurses once per level: refuse deep nesting by counting brackets first, without recursion.
    if text.count("[") + text.count("{") > 4 * MAX_DEPTH and _nesting_exceeds(text):
        raise SegmentError(f"the {what} nests deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant,
                           parse_float=_finite_float, parse_int=_bounded_int)
    except SegmentError as error:
        raise SegmentError(f"the {what} is not strict JSON: {error}") from None
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; so is an int over 4,300 digits
        raise SegmentError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise SegmentError(f"the {what} is not a JSON object")
    try:
        _check_structure(value)
    except SegmentError as error:
        raise SegmentError(f"the {what} is not strict JSON: {error}") from None
    return value


def _nesting_exceeds(text: str) -> bool:
    """Bracket depth outside strings, without parsing (so without recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def is_numeric_date(value: Any) -> bool:
    """RFC 7519 NumericDate: a finite JSON number (a bool is not one, nor is a numeric string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def decode_compact(token: str) -> Segments:
    """The header and payload of a compact JWS (`header.payload.signature`), read strictly.

    The signature is not checked here; the caller verifies it afterwards over exactly these bytes."""
    parts = token.split(".")
    if len(parts) != 3:
        raise SegmentError("the token is not a compact JWS (three dot-separated parts)")
    header = decode_segment(parts[0], "header")
    payload = decode_segment(parts[1], "payload")
    for name in TIME_CLAIMS:
        if name in payload and not is_numeric_date(payload[name]):
            raise SegmentError(f"the '{name}' claim is not a NumericDate")
    return Segments(header=header, payload=payload)

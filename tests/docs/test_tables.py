"""The README's and docs' tables against the code: every setting the app reads, every error code the API and
the local host answer with, and nothing the code does not know."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from function_app import errors
from function_app.settings import KNOWN_SETTINGS
from localdev.host.problems import HOST_CODES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or a higher level (a `#` line
    inside a fenced code block is not a heading)."""
    lines = text.splitlines()
    fenced, start, level, out = False, None, 0, []
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading_match = None if fenced else re.match(r"^(#+) (.*?)\s*$", line)
        if start is None:
            if heading_match and heading_match.group(2) == heading:
                start, level = True, len(heading_match.group(1))
            continue
        if heading_match and len(heading_match.group(1)) <= level:
            break
        out.append(line)
    assert start, f"no section {heading!r}"
    return "\n".join(out)


def first_cells(text: str) -> list[str]:
    """The first cell of every table row (header and separator rows excluded)."""
    cells = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*:?-", line):
            cells.append(line.split("|")[1])
    return cells[1:] if cells else cells


def names_in_first_column(text: str) -> set[str]:
    return {name for cell in first_cells(text) for name in NAME.findall(cell)}


def api_error_codes() -> dict[str, int]:
    codes = {}
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.ApiError) and "code" in vars(cls):
            codes[cls.code] = cls.status
    return codes


def test_the_architecture_settings_table_is_exactly_the_settings_the_app_knows() -> None:
    documented = names_in_first_column(section(ARCHITECTURE, "Settings (environment / app settings)"))
    lower_case_aliases = {"https_proxy", "no_proxy"}
    assert documented - lower_case_aliases == set(KNOWN_SETTINGS), (
        f"undocumented: {sorted(set(KNOWN_SETTINGS) - documented)}; "
        f"not settings: {sorted(documented - set(KNOWN_SETTINGS) - lower_case_aliases)}")


def test_the_readme_settings_table_names_only_real_settings_and_every_credential() -> None:
    documented = names_in_first_column(section(README, "Configuration"))
    assert documented <= set(KNOWN_SETTINGS), sorted(documented - set(KNOWN_SETTINGS))
    for credential in ("CLIENT_SECRET", "MANAGED_IDENTITY_CLIENT_ID", "CLIENT_CERTIFICATE_PATH",
                       "CLIENT_CERTIFICATE_THUMBPRINT", "CLIENT_CERTIFICATE_PASSWORD"):
        assert credential in documented


def test_the_readme_error_table_lists_every_code_with_its_status() -> None:
    table = section(README, "HTTP API")
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) >= 2 and NAME.search(cells[0]) and re.search(r"\d{3}", cells[1]):
            for code in NAME.findall(cells[0]):
                rows[code] = {int(s) for s in re.findall(r"\d{3}", cells[1])}
    expected = {**HOST_CODES, **api_error_codes()}
    missing = sorted(set(expected) - set(rows))
    assert not missing, f"codes the README's error table does not list: {missing}"
    wrong = {code: (status, rows[code]) for code, status in expected.items() if status not in rows[code]}
    assert not wrong, f"statuses that disagree (code: (actual, documented)): {wrong}"
    assert set(rows) <= set(expected), sorted(set(rows) - set(expected))


def test_every_code_the_local_stand_ins_answer_with_is_declared() -> None:
    """Literal codes passed to the problem helpers of the host and the linked-backend emulation, and the host's
    status-to-code table, are all in HOST_CODES."""
    used: set[str] = set()
    for path in [*(ROOT / "localdev" / "host").glob("*.py"), *(ROOT / "localdev" / "linked_backend").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "problem_response", "problem", "Rejection", "forbidden") and len(node.args) >= 2:
                code = node.args[1]
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    used.add(code.value)
    from localdev.host.http_front import _CODES

    used |= set(_CODES.values())
    assert used, "the scan found no codes: the helper names changed?"
    assert used <= set(HOST_CODES), sorted(used - set(HOST_CODES))

"""Route templates match as the Functions host (ASP.NET Core routing) matches them."""
from __future__ import annotations

import pytest

from localdev.host.routing import RouteTemplate, RouteTemplateError, Router


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("get-profile", "get-profile", {}),
        ("get-profile", "GET-Profile", {}),
        ("get-profile", "get-profile/", {}),
        ("get-profile", "get-profile/photo", None),
        ("jobs/{id}", "jobs/abc", {"id": "abc"}),
        ("jobs/{id}", "JOBS/AbC", {"id": "AbC"}),  # values keep their case
        ("jobs/{id}", "jobs", None),
        ("jobs/{id}", "jobs/a/b", None),
        ("jobs/{id?}", "jobs", {}),
        ("jobs/{id?}", "jobs/7", {"id": "7"}),
        ("jobs/{id=latest}", "jobs", {"id": "latest"}),
        ("jobs/{id:int}", "jobs/12", {"id": "12"}),
        ("jobs/{id:int}", "jobs/-3", {"id": "-3"}),
        ("jobs/{id:int}", "jobs/x1", None),
        ("jobs/{id:int}", "jobs/99999999999", None),
        ("jobs/{id:long}", "jobs/99999999999", {"id": "99999999999"}),
        ("jobs/{id:int?}", "jobs", {}),
        ("jobs/{id:guid}", "jobs/6f1c2a52-5c35-4d3e-9a53-8c2f1f0f6a11", {"id": "6f1c2a52-5c35-4d3e-9a53-8c2f1f0f6a11"}),
        ("jobs/{id:guid}", "jobs/not-a-guid", None),
        ("jobs/{flag:bool}", "jobs/True", {"flag": "True"}),
        ("jobs/{name:alpha}", "jobs/abc", {"name": "abc"}),
        ("jobs/{name:alpha}", "jobs/abc1", None),
        ("jobs/{name:minlength(3)}", "jobs/ab", None),
        ("jobs/{name:maxlength(3)}", "jobs/abcd", None),
        ("jobs/{name:length(2,3)}", "jobs/abc", {"name": "abc"}),
        ("jobs/{n:range(1,5)}", "jobs/5", {"n": "5"}),
        ("jobs/{n:range(1,5)}", "jobs/6", None),
        ("jobs/{n:min(10)}", "jobs/9", None),
        ("jobs/{n:int:max(10)}", "jobs/10", {"n": "10"}),
        ("jobs/{code:regex(^[a-z]{{2}}\\d$)}", "jobs/ab1", {"code": "ab1"}),
        ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("files/{*path}", "files", {}),
        ("a/{x}/b/{y}", "a/1/b/2", {"x": "1", "y": "2"}),
        ("items/{name}", "items/hello%20world", {"name": "hello world"}),
    ],
)
def test_template_match(template: str, path: str, expected: dict[str, str] | None) -> None:
    router: Router[str] = Router()
    router.add(template, None, "target")
    resolved = router.resolve(path, "GET")
    if expected is None:
        assert resolved is None
    else:
        assert resolved is not None and not isinstance(resolved, frozenset)
        assert resolved.params == expected


@pytest.mark.parametrize("template", ["a/{*rest}/b", "a/{x}/{x}", "a/{x:nonsense}", "a/pre{x}", "a//b"])
def test_invalid_templates_are_rejected(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate.parse(template)


def test_literal_beats_constrained_beats_plain_beats_catch_all_whatever_the_order() -> None:
    router: Router[str] = Router()
    router.add("jobs/{*rest}", None, "catch-all")
    router.add("jobs/{id}", None, "plain")
    router.add("jobs/{id:int}", None, "int")
    router.add("jobs/profile-report", None, "literal")

    def target(path: str) -> str:
        resolved = router.resolve(path, "GET")
        assert resolved is not None and not isinstance(resolved, frozenset)
        return resolved.target

    assert target("jobs/profile-report") == "literal"
    assert target("jobs/12") == "int"
    assert target("jobs/abc") == "plain"
    assert target("jobs/a/b") == "catch-all"


def test_method_mismatch_reports_allowed_methods() -> None:
    router: Router[str] = Router()
    router.add("jobs/profile-report", ["post"], "start")
    router.add("jobs/{id}", ["GET"], "status")
    assert router.resolve("jobs/profile-report", "DELETE") == frozenset({"POST", "GET"})
    resolved = router.resolve("jobs/123", "get")
    assert resolved is not None and not isinstance(resolved, frozenset) and resolved.target == "status"
    # Another template with the right method wins over a more specific one with the wrong method.
    router.add("jobs/{name}", ["PUT"], "put")
    resolved = router.resolve("jobs/profile-report", "PUT")
    assert resolved is not None and not isinstance(resolved, frozenset) and resolved.target == "put"


def test_no_methods_means_any_method() -> None:
    router: Router[str] = Router()
    router.add("anything", None, "t")
    for method in ("GET", "POST", "DELETE", "PATCH"):
        assert router.resolve("anything", method) is not None


def test_empty_template_matches_root() -> None:
    router: Router[str] = Router()
    router.add("", None, "root")
    assert router.resolve("/", "GET") is not None
    assert router.resolve("x", "GET") is None

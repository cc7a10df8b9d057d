"""The emulator's HTML pages: account picker, MFA approval, consent, errors and sign-out.

Plain server-rendered forms (no script), with a language, one heading per page, and buttons whose
accessible names are what browser tests look for (the user's displayName, "Approve sign-in", "Accept").
"""
from __future__ import annotations

from html import escape
from typing import Any, Iterable

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f2f2f2;margin:0;color:#1b1b1b}
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:1.5rem;margin-top:0}ul{list-style:none;padding:0}li{margin:.5rem 0}
button{font:inherit;padding:.6rem 1rem;border:1px solid #0067b8;background:#0067b8;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0067b8}.account button{width:100%;text-align:left}
button:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px}.hint{color:#505050;font-size:.9rem}
.banner{font-size:.8rem;color:#505050}
"""


def page(title: str, body: str, status_note: str = "Local Entra ID emulator") -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f'<main><p class="banner">{escape(status_note)}</p>{body}</main></body></html>')


def _hidden(ctx: str) -> str:
    return f'<input type="hidden" name="ctx" value="{escape(ctx)}">'


def sign_in_page(action: str, ctx: str, app_name: str, users: Iterable[dict[str, Any]],
                 login_hint: str | None) -> str:
    items = []
    for index, user in enumerate(users):
        hinted = login_hint and login_hint.lower() == user["userPrincipalName"].lower()
        items.append(
            f'<li class="account"><button type="submit" name="user" value="{escape(user["id"])}" '
            f'aria-describedby="upn-{index}"{" autofocus" if hinted else ""}>{escape(user["displayName"])}'
            f'</button> <span class="hint" id="upn-{index}">{escape(user["userPrincipalName"])}</span></li>')
    body = (f"<h1>Pick an account</h1><p>to continue to {escape(app_name)}</p>"
            f'<form method="post" action="{escape(action)}">{_hidden(ctx)}'
            f'<input type="hidden" name="action" value="signin">'
            f'<ul aria-label="Accounts">{"".join(items)}</ul></form>')
    return page("Sign in to your account", body)


def mfa_page(action: str, ctx: str, user: dict[str, Any]) -> str:
    body = (f"<h1>Approve sign-in request</h1><p>{escape(user['displayName'])} "
            f"({escape(user['userPrincipalName'])}): your organisation requires a second factor. "
            "Approve the request to continue.</p>"
            f'<form method="post" action="{escape(action)}">{_hidden(ctx)}'
            '<button type="submit" name="action" value="approve">Approve sign-in</button> '
            '<button type="submit" class="secondary" name="action" value="deny">Deny</button></form>')
    return page("Approve sign-in request", body)


def consent_page(action: str, ctx: str, app_name: str, user: dict[str, Any] | None,
                 permissions: list[tuple[str, str]], admin: bool = False) -> str:
    items = "".join(f"<li><strong>{escape(name)}</strong> <span class=\"hint\">({escape(resource)})</span></li>"
                    for resource, name in permissions)
    who = "your organisation" if admin else escape(user["userPrincipalName"]) if user else "you"
    body = (f"<h1>Permissions requested</h1><p>{escape(app_name)} would like to access, on behalf of {who}:</p>"
            f'<ul aria-label="Permissions">{items}</ul>'
            f'<form method="post" action="{escape(action)}">{_hidden(ctx)}'
            '<button type="submit" name="action" value="accept">Accept</button> '
            '<button type="submit" class="secondary" name="action" value="cancel">Cancel</button></form>')
    return page("Permissions requested", body)


def error_page(code: int, message: str, description: str) -> str:
    body = ("<h1>Sorry, but we're having trouble signing you in.</h1>"
            f'<p role="alert">AADSTS{code}: {escape(message)}</p>'
            f'<pre class="hint">{escape(description)}</pre>')
    return page("Sign in error", body)


def form_post_page(target: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    body = (f'<h1>Continuing</h1><form method="post" action="{escape(target)}" id="response">{inputs}'
            '<button type="submit">Continue</button></form>'
            '<script>document.getElementById("response").submit()</script>')
    return page("Working...", body)


def signed_out_page() -> str:
    return page("Signed out", "<h1>You signed out of your account</h1><p>It's a good idea to close all browser "
                              "windows.</p>")

"""The product back end: one Durable Functions app with the HTTP API and the report blueprints.

Importing this package does no network I/O and reads no settings; everything is built on first use or by the
warmup function (MSAL does discovery at construction, so it is built lazily: docs/architecture.md,
"Platform facts").
"""
from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from .http_api import bp as http_bp
from .logging_setup import install_redaction
from .report import bp as report_bp
from .warmup import bp as warmup_bp

install_redaction()

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(http_bp)
app.register_functions(report_bp)
app.register_functions(warmup_bp)

"""On-Behalf-Of: Graph tokens for the signed-in user, cached so that they honour Conditional Access.

Modules, one job each:
- `cache_policy`: what a cached token is bound to and for how long (the token cache contract);
- `client`: `OboClient`, interactive requests (one exchange per caller token);
- `sessions`: `LongRunningSessions`, the report job's explicit session;
- `msal_apps`: building MSAL applications (shared HTTP client and discovery cache, CP1);
- `msal_http`: the HTTP session under MSAL and the per-thread response recorder;
- `aadsts`: token-endpoint errors mapped onto the API's errors.
The API app's credential is `function_app.credentials`; `function_app.services` wires these together.
"""
from __future__ import annotations

from .aadsts import map_msal_error
from .client import OboClient
from .msal_apps import MsalApps
from .sessions import LongRunningSessions

__all__ = ["LongRunningSessions", "MsalApps", "OboClient", "map_msal_error"]

"""Microsoft Graph v1.0 emulator: `build_graph_app(state)` serves the reads the product makes, under `/v1.0`.

Every request goes through one handler (cheaper than middlewares, and it keeps the order Graph applies
visible): count it, apply an injected fault, check the token, resolve the URL, check the permission, answer.
Every response, error or not, carries `request-id` and `client-request-id`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from localdev.emulator.graph import directory
from localdev.emulator.graph.auth import Caller, TokenVerifier, require
from localdev.emulator.graph.errors import (
    GraphError,
    bad_request,
    envelope,
    fault_error,
    method_not_allowed,
    resource_not_found,
    unknown_segment,
)
from localdev.emulator.graph.paging import SkipTokens, page, parse_top
from localdev.emulator.graph.permissions import (
    READ_MEMBERSHIPS,
    READ_PHOTO_OTHERS,
    READ_PHOTO_SELF,
    READ_SELF,
    READ_USERS,
    Permissions,
)
from localdev.emulator.graph.photos import PhotoStore

log = logging.getLogger(__name__)

METADATA = "https://graph.microsoft.com/v1.0/$metadata"
JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
# Graph's own marker of which front end served the call; clients log it, none parse it.
DIAGNOSTIC = json.dumps({"ServerInfo": {"DataCenter": "Local", "Slice": "E", "Ring": "0", "ScaleUnit": "000",
                                        "RoleInstance": "localhost"}})
_ENTITY_ONLY_OPTIONS = frozenset({"$top", "$skip", "$filter", "$orderby", "$count", "$skiptoken"})
_COLLECTION_OPTIONS = frozenset({"$select", "$top", "$skiptoken"})
_NOT_A_COLLECTION = (
    "The query specified in the URI is not valid. The requested resource is not a collection. Query options "
    "$filter, $orderby, $count, $skip, and $top can be applied only on collections."
)


class Fault(Protocol):
    status: int | None
    aadsts: int | None
    latency_ms: int
    retry_after: int | None


class GraphState(Protocol):
    """What the emulator process hands the Graph app (see localdev/emulator for the real one)."""

    tenant: directory.Tenant
    graph_app_id: str
    graph_resource: str
    entra_url: str

    @property
    def faults(self) -> Any: ...

    @property
    def metrics(self) -> Any: ...

    def public_keys(self) -> list[tuple[str, RSAPublicKey]]: ...

    def revocation_cutoff(self, user_oid: str | None) -> int | None: ...


def build_graph_app(state: GraphState, *, photo_dir: Path | None = None) -> web.Application:
    """The Graph listener's application. Generated photos are kept under `photo_dir` (default: the state's
    `state_dir`/graph-photos when it has one) so restarts do not redraw them."""
    if photo_dir is None and getattr(state, "state_dir", None) is not None:
        photo_dir = Path(state.state_dir) / "graph-photos"  # type: ignore[attr-defined]
    service = GraphService(state, PhotoStore(photo_dir))
    app = web.Application()
    app[GRAPH_SERVICE] = service
    app.router.add_route("*", "/{tail:.*}", service.handle)
    return app


class GraphService:
    def __init__(self, state: GraphState, photos: PhotoStore) -> None:
        self._state = state
        self._verifier = TokenVerifier(state, state.tenant.tenant_id)
        self._photos = photos
        self._skip_tokens = SkipTokens()
        # Serialized default profile per user id; the user dict is kept to notice a reloaded tenant.
        self._profiles: dict[str, tuple[dict[str, Any], bytes]] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        self._state.metrics.record_graph(request.path)
        try:
            if request.method == "OPTIONS":
                response: web.StreamResponse = _preflight(request)
            else:
                response = await self._answer(request)
        except GraphError as error:
            response = _error_response(error, request_id, client_request_id)
        except Exception:  # noqa: BLE001 - Graph never answers with a stack trace; neither does its stand-in
            log.exception("Graph emulator failed on %s %s", request.method, request.path)
            error = GraphError(500, "generalException", "An unspecified error has occurred.")
            response = _error_response(error, request_id, client_request_id)
        response.headers["request-id"] = request_id
        response.headers["client-request-id"] = client_request_id
        response.headers["x-ms-ags-diagnostic"] = DIAGNOSTIC
        origin = request.headers.get("Origin")
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "request-id, client-request-id, Retry-After, ETag"
            response.headers["Vary"] = "Origin"
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        fault = self._state.faults.take("graph", request.path)
        if fault is not None:
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.status is not None and fault.status >= 400:
                raise fault_error(fault.status, fault.retry_after)
            if getattr(fault, "body", None) == "malformed":
                # A truncated document: what a client sees when a connection drops mid-body.
                return web.Response(status=fault.status or 200, body=b'{"@odata.context":"' + METADATA.encode(),
                                    headers={"Content-Type": JSON_TYPE})
        caller = self._verifier.verify(request.headers.get("Authorization"))
        if request.method not in ("GET", "HEAD"):
            raise method_not_allowed()
        return await self._route(request, caller)

    async def _route(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        version, _, rest = request.path.lstrip("/").partition("/")
        if version != "v1.0":
            raise bad_request(f"Invalid version: {version}")
        segments = [segment for segment in rest.split("/") if segment]
        if not segments:
            return _json({"@odata.context": METADATA, "value": [
                {"name": "users", "kind": "EntitySet", "url": "users"},
                {"name": "me", "kind": "Singleton", "url": "me"},
            ]})
        head = segments[0].lower()
        if head == "me":
            if not caller.delegated:
                raise bad_request("/me request is only valid with delegated authentication flow.")
            key, navigation = str(caller.oid), segments[1:]
            user = self._state.tenant.find_user(key)
            is_self = True
        elif head == "users":
            if len(segments) == 1:
                return self._list_users(request, caller)
            key, navigation = segments[1], segments[2:]
            user = self._state.tenant.find_user(key)
            is_self = user is not None and caller.delegated and str(user["id"]).lower() == str(caller.oid).lower()
        else:
            raise unknown_segment(segments[0])
        return await self._user_resource(request, caller, key, user, is_self, navigation)

    async def _user_resource(self, request: web.Request, caller: Caller, key: str, user: dict[str, Any] | None,
                             is_self: bool, navigation: list[str]) -> web.StreamResponse:
        name = navigation[0].lower() if navigation else ""
        if name == "photo" and len(navigation) <= 2:
            if len(navigation) == 2 and navigation[1] != "$value":
                raise unknown_segment(navigation[1])
            return await self._photo(caller, key, user, is_self, raw=len(navigation) == 2)
        if len(navigation) > 1:
            raise unknown_segment(navigation[1])
        if name == "":
            return self._profile(request, caller, key, user, is_self)
        if name == "manager":
            return self._manager(request, caller, key, user)
        if name == "directreports":
            return self._direct_reports(request, caller, key, user)
        if name in ("transitivememberof", "memberof"):
            return self._memberships(request, caller, key, user, transitive=name == "transitivememberof")
        raise unknown_segment(navigation[0])

    def _manager(self, request: web.Request, caller: Caller, key: str, user: dict[str, Any] | None) -> web.Response:
        _authorize(caller, READ_USERS, request, collection=False)
        manager = directory.manager_of(self._state.tenant, _existing(user, key))
        if manager is None:
            raise resource_not_found("manager")
        select = directory.parse_select(_option(request, "$select"), "user")
        body = {"@odata.context": f"{METADATA}#directoryObjects/$entity", "@odata.type": directory.USER_TYPE}
        return _json({**body, **directory.project_user(manager, select)})

    def _direct_reports(self, request: web.Request, caller: Caller, key: str,
                        user: dict[str, Any] | None) -> web.Response:
        _authorize(caller, READ_USERS, request, collection=True)
        reports = directory.direct_reports(self._state.tenant, _existing(user, key))
        select = directory.parse_select(_option(request, "$select"), "user")
        items = [{"@odata.type": directory.USER_TYPE, **directory.project_user(u, select)} for u in reports]
        return self._collection(request, caller, f"{METADATA}#directoryObjects", items)

    def _memberships(self, request: web.Request, caller: Caller, key: str, user: dict[str, Any] | None, *,
                     transitive: bool) -> web.Response:
        _authorize(caller, READ_MEMBERSHIPS, request, collection=True)
        tenant = self._state.tenant
        found = _existing(user, key)
        groups = directory.transitive_member_of(tenant, found) if transitive else directory.member_of(tenant, found)
        select = directory.parse_select(_option(request, "$select"), "group")
        domain = directory.tenant_domain(tenant)
        items = [directory.project_group(group, select, domain) for group in groups]
        return self._collection(request, caller, f"{METADATA}#directoryObjects", items)

    def _profile(self, request: web.Request, caller: Caller, key: str, user: dict[str, Any] | None,
                 is_self: bool) -> web.Response:
        _authorize(caller, READ_SELF if is_self else READ_USERS, request, collection=False)
        found = _existing(user, key)
        select = directory.parse_select(_option(request, "$select"), "user")
        if select is None:
            return _json_bytes(self._default_profile(found))
        context = f"{METADATA}#users({','.join(select)})/$entity"
        return _json({"@odata.context": context, **directory.project_user(found, select)})

    def _default_profile(self, user: dict[str, Any]) -> bytes:
        user_id = str(user["id"])
        cached = self._profiles.get(user_id)
        if cached is not None and cached[0] is user:
            return cached[1]
        body = _dumps({"@odata.context": f"{METADATA}#users/$entity", **directory.project_user(user, None)})
        self._profiles[user_id] = (user, body)
        return body

    async def _photo(self, caller: Caller, key: str, user: dict[str, Any] | None, is_self: bool,
                     raw: bool) -> web.Response:
        require(caller, READ_PHOTO_SELF if is_self else READ_PHOTO_OTHERS)
        found = _existing(user, key)
        photo = self._photos.cached(found)
        if photo is None and self._photos.has_photo(found):
            # Drawing takes milliseconds of CPU: keep it off the event loop.
            photo = await asyncio.get_running_loop().run_in_executor(None, self._photos.get, found)
        if photo is None:
            raise GraphError(404, "ImageNotFound", "The photo wasn't found.")
        if raw:
            return web.Response(body=photo.data, headers={"Content-Type": photo.content_type, "ETag": photo.etag})
        return _json({
            "@odata.context": f"{METADATA}#users('{found['id']}')/photo/$entity",
            "@odata.mediaContentType": photo.content_type,
            "@odata.mediaEtag": photo.etag,
            "id": f"{photo.width}X{photo.height}",
            "height": photo.height,
            "width": photo.width,
        })

    def _list_users(self, request: web.Request, caller: Caller) -> web.Response:
        _authorize(caller, READ_USERS, request, collection=True)
        select = directory.parse_select(_option(request, "$select"), "user")
        context = f"{METADATA}#users({','.join(select)})" if select else f"{METADATA}#users"
        items = [directory.project_user(user, select) for user in self._state.tenant.users]
        return self._collection(request, caller, context, items)

    def _collection(self, request: web.Request, caller: Caller, context: str,
                    items: list[dict[str, Any]]) -> web.Response:
        size = parse_top(_option(request, "$top"))
        scope = f"{caller.key}|{request.path.lower()}"
        token = _option(request, "$skiptoken")
        offset = self._skip_tokens.offset(token, scope) if token is not None else 0
        chunk = page(items, offset, size)
        body: dict[str, Any] = {"@odata.context": context}
        if chunk.next_offset is not None:
            query = {k: v for k, v in request.query.items() if k.lower() != "$skiptoken"}
            query["$skiptoken"] = self._skip_tokens.issue(scope, chunk.next_offset)
            body["@odata.nextLink"] = str(request.url.with_query(query))
        body["value"] = list(chunk.items)
        return _json(body)


GRAPH_SERVICE = web.AppKey("graph_service", GraphService)


def _authorize(caller: Caller, permissions: Permissions, request: web.Request, *, collection: bool) -> None:
    require(caller, permissions)
    allowed = _COLLECTION_OPTIONS if collection else frozenset({"$select"})
    for name in request.query:
        lowered = name.lower()
        if not lowered.startswith("$") or lowered in allowed:
            continue
        if not collection and lowered in _ENTITY_ONLY_OPTIONS:
            raise bad_request(_NOT_A_COLLECTION)
        raise bad_request("Unsupported Query.", code="Request_UnsupportedQuery")


def _option(request: web.Request, name: str) -> str | None:
    """A system query option; Graph accepts their names in any case."""
    value = request.query.get(name)
    if value is not None:
        return value
    for key, candidate in request.query.items():
        if key.lower() == name:
            return candidate
    return None


def _existing(user: dict[str, Any] | None, key: str) -> dict[str, Any]:
    if user is None:
        raise resource_not_found(key)
    return user


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _json(body: dict[str, Any]) -> web.Response:
    return _json_bytes(_dumps(body))


def _json_bytes(body: bytes) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": JSON_TYPE, "OData-Version": "4.0"})


def _error_response(error: GraphError, request_id: str, client_request_id: str) -> web.Response:
    return web.Response(
        status=error.status,
        body=envelope(error, request_id, client_request_id),
        headers={"Content-Type": "application/json", **error.headers},
    )


def _preflight(request: web.Request) -> web.Response:
    requested = request.headers.get("Access-Control-Request-Headers", "authorization, client-request-id")
    return web.Response(status=200, headers={
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": requested,
        "Access-Control-Max-Age": "3600",
    })

"""A small function app the host tests run: sync and async functions, route parameters, methods."""
import asyncio
import base64
import json
import threading
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _json(payload: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


@app.route(route="echo", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return _json({
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "headers": {k: v for k, v in req.headers.items()},
        "body": req.get_body().decode("utf-8"),
    })


@app.route(route="items/{id:int}", methods=["GET"])
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"kind": "item", "id": req.route_params["id"]})


@app.route(route="items/latest", methods=["GET"])
def latest_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"kind": "latest"})


@app.route(route="items/{id:int}", methods=["DELETE"])
async def delete_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


@app.route(route="files/{name}/{version?}", methods=["GET"])
async def get_file(req: func.HttpRequest) -> func.HttpResponse:
    return _json(dict(req.route_params))


@app.function_name("whoami")
@app.route(route="whoami", methods=["GET"])
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    encoded = req.headers.get("x-ms-client-principal")
    principal = json.loads(base64.b64decode(encoded)) if encoded else None
    return _json({
        "principal": principal,
        "id": req.headers.get("x-ms-client-principal-id"),
        "name": req.headers.get("x-ms-client-principal-name"),
        "idp": req.headers.get("x-ms-client-principal-idp"),
        "token_store": req.headers.get("x-ms-token-aad-access-token"),
    })


@app.route(route="public/ping", methods=["GET"])
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"pong": True, "principal_id": req.headers.get("x-ms-client-principal-id")})


@app.route(route="slow", methods=["GET"])
def slow(req: func.HttpRequest) -> func.HttpResponse:
    seconds = float(req.params.get("seconds", "0.5"))
    time.sleep(seconds)
    return _json({"thread": threading.current_thread().name})


@app.route(route="async-slow", methods=["GET"])
async def async_slow(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(float(req.params.get("seconds", "0.5")))
    return _json({"slept": True})


@app.route(route="text", methods=["GET"])
def text(req: func.HttpRequest) -> str:
    return "plain text"


@app.route(route="binary", methods=["GET"])
def binary(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(body=bytes(range(256)), mimetype="image/png",
                             headers={"Cache-Control": "no-store", "X-Custom": "yes"})


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret internal detail")


@app.route(route="async-boom", methods=["GET"])
async def async_boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("another secret detail")


@app.route(route="context", methods=["GET"])
def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json({"function_name": context.function_name, "invocation_id": context.invocation_id})


@app.route(route="settings/{name}", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    import os
    return _json({"value": os.environ.get(req.route_params["name"])})


@app.route(route="config", methods=["GET"])
def config(req: func.HttpRequest) -> func.HttpResponse:
    """Listed in the auth settings' excludedPaths: reachable without a token."""
    return _json({"public": True, "principal_id": req.headers.get("x-ms-client-principal-id")})

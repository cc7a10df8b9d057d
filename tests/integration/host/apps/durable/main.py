"""A small durable app for the host tests: an HTTP starter, a status endpoint, an orchestrator, an activity."""
import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="greetings", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_greetings(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("greetings", client_input=req.get_json())
    return func.HttpResponse(json.dumps({"id": instance_id}), status_code=202, mimetype="application/json")


@app.route(route="greetings/{id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def greetings_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    status = await client.get_status(req.route_params["id"])
    if status is None or status.runtime_status is None:
        return func.HttpResponse(status_code=404)
    body = {"runtimeStatus": status.runtime_status.value, "output": status.output}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def greetings(context: df.DurableOrchestrationContext):
    names = context.get_input()
    results = []
    for name in names:
        results.append((yield context.call_activity("say_hello", name)))
    return results


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}"

"""A v2-model app with a warmup function: it records when it ran, and the HTTP function reports it."""
import os
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
_state = {"warmed_at": None}


@app.function_name("warmup")
@app.warm_up_trigger("warmup_context")
def warmup(warmup_context) -> None:
    time.sleep(float(os.environ.get("WARMUP_TEST_SECONDS", "0.3")))
    if os.environ.get("WARMUP_TEST_FAIL"):
        raise RuntimeError("warm-up failed on purpose")
    _state["warmed_at"] = time.time()


@app.route(route="warmed", methods=["GET"])
def warmed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(_state["warmed_at"]))

"""A v2-model app with timer functions: each run is counted, and an HTTP function reports the counts."""
import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
_runs = {"every_second": 0, "yearly": 0, "from_setting": 0}


@app.function_name("every_second")
@app.timer_trigger(arg_name="timer", schedule="* * * * * *")
def every_second(timer: func.TimerRequest) -> None:
    _runs["every_second"] += 1


@app.function_name("yearly")
@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
async def yearly(timer: func.TimerRequest) -> None:
    _runs["yearly"] += 1


@app.function_name("from_setting")
@app.timer_trigger(arg_name="timer", schedule="%TIMER_TEST_SCHEDULE%")
def from_setting(timer: func.TimerRequest) -> None:
    _runs["from_setting"] += 1


@app.route(route="runs", methods=["GET"])
def runs(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(_runs), mimetype="application/json")

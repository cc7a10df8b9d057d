"""Report data retention: a timer function purges finished report jobs from the task hub.

A finished job's history holds the report (names, UPNs, manager chain, group lists), so it must not stay in
the task hub forever. Every `PURGE_SCHEDULE` (15 minutes) this function calls the Durable client's documented
purge API, `purge_instance_history_by`, for instances in a final state (Completed, Failed, Terminated) created
more than `REPORT_RETENTION_HOURS` (default 24) ago. Running and pending jobs are never touched; a job runs at
most `model.MAX_RUN_SECONDS`, so its data is gone at most retention + 15 minutes after it was started. The same
API call works against the local durable runner, which implements the purge webhook like the extension
(docs/architecture.md, "Report data retention").
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from .. import logging_setup, services
from ..errors import ApiError
from .blueprint import bp

PURGE_SCHEDULE = "0 */15 * * * *"  # NCRONTAB: second 0 of every 15th minute
PURGE_FUNCTION_NAME = "purge_report_history"
FINAL_STATUSES = (OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed,
                  OrchestrationRuntimeStatus.Terminated)
# The API requires a lower bound on the creation time; nothing in the task hub is older than this.
EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)


def purge_cutoff(now: datetime, retention_seconds: float) -> datetime:
    """Instances created before this are past the retention period."""
    return now - timedelta(seconds=retention_seconds)


@bp.function_name(PURGE_FUNCTION_NAME)
@bp.timer_trigger(arg_name="timer", schedule=PURGE_SCHEDULE, run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def purge_report_history(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    with logging_setup.correlation_scope():
        await _purge(timer, client)


async def _purge(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    try:
        retention = services.current().settings.report_retention_seconds
    except ApiError as error:  # misconfigured: purge nothing rather than guess a retention period
        logging_setup.log_event("report_purge_skipped", logging.WARNING, code=error.code,
                                setting=getattr(error, "setting", None))
        return
    cutoff = purge_cutoff(datetime.now(timezone.utc), retention)
    result = await client.purge_instance_history_by(created_time_from=EARLIEST, created_time_to=cutoff,
                                                    runtime_status=list(FINAL_STATUSES))
    logging_setup.log_event("report_history_purged", instances=result.instances_deleted,
                            created_before=cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"), past_due=timer.past_due)

"""Celery entry points: they take ids, call one service and own the retry policy."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from apps.core.upload_jobs import jobs_requeue
from mlcore.registry import UnknownVersion

from . import imports, services
from .models import ImportJob

log = logging.getLogger(__name__)


@shared_task(acks_late=True, queue="inference")
def sources_poll_due_task() -> int:
    """Queue a poll of every feed that is due (beat runs this every SENTIMENT_POLL_DUE_S)."""
    due = services.sources_due()
    for source_id in due:
        # due_only: when the queue is backed up, the same source is queued again each minute;
        # only the first of those polls runs, the others find it no longer due.
        source_poll_task.delay(source_id, due_only=True)
    return len(due)


@shared_task(acks_late=True, queue="inference", soft_time_limit=120, time_limit=150)
def source_poll_task(source_id: int, due_only: bool = False) -> dict[str, object]:
    result = services.source_poll(source_id=source_id, due_only=due_only)
    return {"status": result.status, "created": result.created, "error": result.error}


@shared_task(
    acks_late=True,
    queue="inference",
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def source_topics_retag_task(source_id: int) -> int:
    """Tag a source's stored texts again after its embedding model changed (idempotent)."""
    return services.source_topics_retag(source_id=source_id)


@shared_task(
    acks_late=True,
    queue="inference",
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=8,
    # Fixed, not the settings' default: the sweeper takes a claim over only after
    # SENTIMENT_SCORE_STALE_AFTER_S, which should stay past the hard limit (a batch taken over
    # is still scored once, see recovery.py, but its work is thrown away).
    soft_time_limit=300,
    time_limit=360,
)
def documents_score_task(document_ids: list[int]) -> int:
    try:
        return len(services.documents_score(document_ids=document_ids))
    except UnknownVersion:
        # No sentiment model yet (the demo trains it after serving): retrying cannot help. The
        # documents stay pending; the sweeper queues them again once a model is in production.
        log.info("no sentiment model yet: %d documents wait for scoring", len(document_ids))
        return 0


@shared_task(acks_late=True, queue="inference")
def documents_rescue_task() -> int:
    return services.documents_rescue()


@shared_task(acks_late=True, queue="inference")
def alerts_evaluate_task() -> list[int]:
    return services.alerts_evaluate()


@shared_task(
    bind=True,
    acks_late=True,
    queue="inference",
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=10,
    # Well inside services.SEND_CLAIM_S, so a live send never loses its claim to another worker.
    soft_time_limit=120,
    time_limit=150,
)
def alert_send_task(self: Any, alert_id: int) -> str:
    result = services.alert_send(alert_id=alert_id)
    if result == "busy":
        # Another worker holds the claim; if it died, its claim is stale by the time we retry.
        raise self.retry(countdown=services.SEND_CLAIM_S + 30)
    return result


@shared_task(
    acks_late=True, queue="inference", autoretry_for=(Exception,), max_retries=5, retry_backoff=60
)
def alerts_digest_send_task() -> int:
    return services.alerts_digest_send()


# Both send at most what nobody else holds a claim on, so a second beat or a retry is harmless.
@shared_task(acks_late=True, queue="inference", soft_time_limit=540, time_limit=580)
def alerts_send_pending_task() -> int:
    return services.alerts_send_pending()


@shared_task(acks_late=True, queue="inference", soft_time_limit=540, time_limit=580)
def alerts_digest_catch_up_task() -> int:
    return services.alerts_digest_catch_up()


@shared_task(acks_late=True, queue="inference", soft_time_limit=1800, time_limit=1900)
def import_job_run_task(job_id: int) -> str:
    """Ingest an uploaded file; idempotent (the job is claimed, a finished one is left alone)."""
    outcome = imports.import_job_run(job_id=job_id)
    return outcome.job.status if outcome else "taken"


@shared_task(acks_late=True, queue="inference")
def import_jobs_rescue_task() -> int:
    """Queue again the import jobs nobody moved for a while (lost message, dead worker)."""
    return jobs_requeue(ImportJob, import_job_run_task)

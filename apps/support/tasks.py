"""Background work: embedding new knowledge, assigning waiting conversations, expiring presence."""

from __future__ import annotations

from celery import shared_task

from . import selectors, services


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def knowledge_embed_task(kb_id: int) -> int:
    # Idempotent: only rows still marked unembedded are embedded, and marking is conditional.
    return services.knowledge_embed(kb_id=kb_id)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def knowledge_bases_adapted_base_task() -> int:
    # After a support-base promotion: every MiniLM KB is embedded by it, then switched.
    return services.knowledge_bases_adapted_base_sync()


@shared_task(acks_late=True)
def conversations_assign_task() -> int:
    return services.presence_expire() + services.conversations_assign()


@shared_task(acks_late=True)
def intent_calibration_refresh_task(version: int | None = None) -> int:
    """Idempotent: a calibration already fitted for the production version is kept."""
    table = services.intent_calibration_refresh(version=version)
    return int(table.get("n", 0)) if table else 0


@shared_task(acks_late=True)
def training_candidates_collect_task() -> int:
    # Idempotent: one candidate per answer (a unique message), collected again or not.
    return services.training_candidates_collect()


@shared_task(acks_late=True)
def faq_drafts_propose_task() -> int:
    # Idempotent: a group an FAQ pair already covers is skipped.
    return sum(
        len(services.faq_drafts_propose(kb_id=kb.pk)) for kb in selectors.knowledge_base_list()
    )


@shared_task(acks_late=True)
def web_pages_sync_due_task() -> int:
    """Queue a re-sync of every web page that is due (beat runs this every 10 minutes), and
    mark crawls whose worker died as failed."""
    services.crawls_rescue()
    due = services.web_pages_due()
    for page_id in due:
        web_page_sync_task.delay(page_id)
    return len(due)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def web_page_sync_task(page_id: int) -> str:
    # Idempotent: the page is claimed by a conditional update; a redelivery finds it not due.
    if not services.web_page_claim(page_id=page_id):
        return "not_due"
    return services.web_page_sync(page_id=page_id)


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3660)
def crawl_run_task(crawl_id: int) -> str:
    # Idempotent: only a queued crawl is claimed (a conditional update), so it runs once.
    return str(services.crawl_run(crawl_id=crawl_id).status)

"""Sources: create, edit and poll them (a feed's new items go on to ingest)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.mlops.runtime import EMBEDDING_MODELS

from ..feeds import FeedError, feed_fetch, feed_parse
from ..models import Source
from ..uploads import DocumentRow
from .ingest import documents_ingest

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 24 * 3600
POLL_CLAIM_S = 600


class SourceNameTaken(ValueError):
    """A push or upload named a feed's source (or a feed named a pushed one)."""


FEED_KINDS = (Source.Kind.RSS.value, Source.Kind.ATOM.value)


def source_get_or_create(
    *, name: str, kind: str, url: str = "", poll_interval_s: int = 900, language: str = ""
) -> Source:
    """The source called `name`, made with `kind` if new; SourceNameTaken when that name is a
    feed and `kind` is not (or the other way round).

    A feed's documents are its own: deleting the feed deletes them, and its status and counts
    describe what it polled, so pushed or uploaded texts must not be filed into it."""
    source, _ = Source.objects.get_or_create(
        name=name,
        defaults={
            "kind": kind,
            "url": url,
            "poll_interval_s": poll_interval_s,
            "language": language,
        },
    )
    if (source.kind in FEED_KINDS) != (kind in FEED_KINDS):
        raise SourceNameTaken(source_name_taken_message(source))
    return source


def source_name_taken_message(source: Source) -> str:
    if source.kind in FEED_KINDS:
        return (
            f'"{source.name}" is the name of an {source.get_kind_display()}; only the feed '
            "files documents there. Pick another source name."
        )
    return (
        f'"{source.name}" is the name of a {source.get_kind_display()} source. '
        "Pick another name for the feed."
    )


@transaction.atomic
def source_create(
    *,
    name: str,
    kind: str | None = None,
    url: str = "",
    language: str = "",
    poll_interval_s: int | None = None,
    embedding_model: str | None = None,
) -> Source:
    """Add a source (page, API, admin); a feed is polled within a minute. None for `kind`,
    `poll_interval_s` or `embedding_model` takes the model's default."""
    _embedding_model_check(embedding_model)
    optional = {
        "kind": kind,
        "poll_interval_s": poll_interval_s,
        "embedding_model": embedding_model,
    }
    return Source.objects.create(
        name=name,
        url=url,
        language=language,
        **{k: v for k, v in optional.items() if v is not None},
    )


def source_poll_queue(*, source_id: int) -> None:
    """Poll a feed now (the API's "poll" button): due at once, and queued for a worker."""
    # Imported here: the tasks module imports this package (a cycle).
    from ..tasks import source_poll_task

    Source.objects.filter(pk=source_id).update(next_poll_at=None)
    source_poll_task.delay(source_id)


@transaction.atomic
def source_update(
    *,
    source_id: int,
    name: str | None = None,
    kind: str | None = None,
    url: str | None = None,
    language: str | None = None,
    poll_interval_s: int | None = None,
    embedding_model: str | None = None,
) -> Source:
    """Edit a source (API, admin, page); None leaves a field as it is.

    Another embedding model tags the source's stored texts again, in the background after
    the commit (source_topics_retag); new texts are tagged with it from the commit on.

    A new feed address (or kind) starts afresh: polled within a minute, without the old
    address's ETag / Last-Modified, failure count and backoff, which belong to the old one. A
    shorter poll interval brings the next poll forward; a failing feed keeps its backoff."""
    _embedding_model_check(embedding_model)
    source = Source.objects.select_for_update().get(pk=source_id)
    changed: list[str] = []
    for field_name, value in (
        ("name", name),
        ("kind", kind),
        ("url", url),
        ("language", language),
        ("poll_interval_s", poll_interval_s),
        ("embedding_model", embedding_model),
    ):
        if value is not None and getattr(source, field_name) != value:
            setattr(source, field_name, value)
            changed.append(field_name)
    if "url" in changed or "kind" in changed:
        source.etag = source.last_modified = source.last_error = ""
        source.consecutive_failures = 0
        source.next_poll_at = None  # due now: the next beat (every minute) polls it
        if source.status != Source.Status.PAUSED:
            source.status = Source.Status.NEW
        changed += ["etag", "last_modified", "last_error", "consecutive_failures"]
        changed += ["next_poll_at", "status"]
    elif (
        "poll_interval_s" in changed
        and source.last_polled_at is not None
        and source.status != Source.Status.FAILING
    ):
        sooner = source.last_polled_at + timedelta(seconds=source.poll_interval_s)
        if source.next_poll_at is None or sooner < source.next_poll_at:
            source.next_poll_at = sooner
            changed.append("next_poll_at")
    if changed:
        source.save(update_fields=changed)
    if "embedding_model" in changed:
        # Imported here: the tasks module imports this package (a cycle).
        from ..tasks import source_topics_retag_task

        transaction.on_commit(lambda: source_topics_retag_task.delay(source_id))
        log.info("source %s embedding model -> %s; re-tagging", source_id, embedding_model)
    return source


def _embedding_model_check(name: str | None) -> None:
    if name is not None and name not in EMBEDDING_MODELS:
        raise ValueError(f"unknown embedding model {name!r}: one of {', '.join(EMBEDDING_MODELS)}")


@dataclass(frozen=True)
class PollResult:
    source_id: int
    status: str
    created: int = 0
    duplicates: int = 0
    not_modified: bool = False
    error: str = ""


def sources_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Source.objects.filter(kind__in=[Source.Kind.RSS, Source.Kind.ATOM])
        .exclude(status=Source.Status.PAUSED)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("pk", flat=True)
    )


def source_poll(
    *,
    source_id: int,
    now: datetime | None = None,
    fetch: Callable[..., Any] = feed_fetch,
    due_only: bool = False,
) -> PollResult:
    """Fetch one feed (conditional GET), store its new items; failures back off exponentially.

    Claimed with a conditional update so two workers never poll the same source at once.
    `due_only` (the scheduled polls): a source polled since the task was queued, or paused, is
    left alone, so a backlog of queued polls cannot fetch a feed more often than its interval."""
    now = now or timezone.now()
    claim = Source.objects.filter(
        Q(polling_since__isnull=True) | Q(polling_since__lt=now - timedelta(seconds=POLL_CLAIM_S)),
        pk=source_id,
    )
    if due_only:
        claim = claim.exclude(status=Source.Status.PAUSED).filter(
            Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
        )
    if not claim.update(polling_since=now):
        return PollResult(source_id, "not due" if due_only else "busy")
    source = Source.objects.get(pk=source_id)
    try:
        fetched = fetch(source.url, etag=source.etag, last_modified=source.last_modified)
        if fetched.not_modified:
            result = PollResult(source_id, Source.Status.OK, not_modified=True)
        else:
            kind, items = feed_parse(
                fetched.content,
                base_url=fetched.url or source.url,
                content_type=fetched.content_type,
            )
            rows = [
                DocumentRow(
                    i + 1,
                    it.external_id,
                    it.url,
                    it.title,
                    it.body,
                    it.published_at,
                    it.language or source.language,
                )
                for i, it in enumerate(items)
            ]
            ingested = documents_ingest(source_id=source_id, rows=rows, now=now)
            Source.objects.filter(pk=source_id).update(
                etag=fetched.etag[:500], last_modified=fetched.last_modified[:100], kind=kind
            )
            if fetched.moved_to:  # a permanent redirect: poll the new address from now on
                Source.objects.filter(pk=source_id).update(url=fetched.moved_to[:1000])
            result = PollResult(source_id, Source.Status.OK, ingested.created, ingested.duplicates)
        Source.objects.filter(pk=source_id).update(
            status=Source.Status.OK,
            consecutive_failures=0,
            last_error="",
            last_polled_at=now,
            last_success_at=now,
            polling_since=None,
            next_poll_at=now + timedelta(seconds=source.poll_interval_s),
        )
        return result
    except FeedError as exc:
        failures = source.consecutive_failures + 1
        delay = source.poll_interval_s * 2 ** min(failures, 10)
        delay = min(max(delay, exc.retry_after_s or 0), MAX_BACKOFF_S)  # honour Retry-After
        Source.objects.filter(pk=source_id).update(
            status=Source.Status.FAILING,
            consecutive_failures=failures,
            last_error=str(exc)[:2000],
            last_polled_at=now,
            polling_since=None,
            next_poll_at=now + timedelta(seconds=delay),
        )
        log.warning("source %s failed (%d in a row): %s", source.name, failures, exc)
        return PollResult(source_id, Source.Status.FAILING, error=str(exc))
    except Exception:
        Source.objects.filter(pk=source_id).update(polling_since=None)
        raise

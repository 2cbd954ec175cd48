"""Rescoring: take scored documents back to pending (and out of the aggregates) to be scored
again, e.g. after a promotion."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Document, DocumentEntity, Score
from . import ingest
from ._common import DOCUMENT_WRITE_BATCH
from .aggregates import aggregates_subtract, documents_contribution


@dataclass(frozen=True)
class RescoreResult:
    rescored: int
    batches: int


def documents_rescore(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
    document_ids: Sequence[int] | None = None,
    scored_before: datetime | None = None,
    batch_size: int = DOCUMENT_WRITE_BATCH,
) -> RescoreResult:
    """Score texts again with the production model, e.g. after a promotion.

    Chooses scored documents published in [since, until), scored by `model_version`, among
    `document_ids` (each filter optional; none means every scored document) and scored before
    `scored_before` (default: now), so running the same request again, or a redelivered task,
    does not rescore what this request already rescored. Each batch, in its own transaction,
    claims its documents (scored -> pending, under a row lock, so a concurrent rescore or
    deletion cannot take the same contribution out twice), subtracts what their old scores
    added to the hourly aggregates, deletes the old scores and entity tags and queues them for
    scoring after commit. Alerts already opened stay as they are; later evaluations see the
    new aggregates. Pending, in-progress and failed documents are left alone."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    chosen = _rescore_candidates(
        since=since,
        until=until,
        model_version=model_version,
        scored_before=scored_before or timezone.now(),
    )

    def pages() -> Iterator[list[int]]:
        if document_ids is not None:
            wanted = sorted(set(document_ids))
            for start in range(0, len(wanted), batch_size):
                yield wanted[start : start + batch_size]
            return
        # Keyset pages over the candidates, read after each batch commits: a huge rescore never
        # lists them all at once.
        last = 0
        while ids := list(
            chosen.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        ):
            yield ids
            last = ids[-1]

    rescored = batches = 0
    for ids in pages():
        claimed = _documents_rescore_batch(chosen=chosen, document_ids=ids)
        rescored += claimed
        batches += bool(claimed)
    return RescoreResult(rescored, batches)


def _rescore_candidates(
    *,
    since: datetime | None,
    until: datetime | None,
    model_version: str | None,
    scored_before: datetime,
) -> QuerySet[Document]:
    if since is not None and until is not None and since >= until:
        raise ValueError("since must be before until")
    chosen = Document.objects.filter(
        status=Document.Status.SCORED, score__scored_at__lt=scored_before
    )
    if since is not None:
        chosen = chosen.filter(published_at__gte=since)
    if until is not None:
        chosen = chosen.filter(published_at__lt=until)
    if model_version:
        chosen = chosen.filter(score__model_version=model_version)
    return chosen


def documents_rescore_count(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
    scored_before: datetime | None = None,
) -> int:
    """How many documents `documents_rescore` with these filters would rescore now."""
    return _rescore_candidates(
        since=since,
        until=until,
        model_version=model_version,
        scored_before=scored_before or timezone.now(),
    ).count()


@transaction.atomic
def _documents_rescore_batch(*, chosen: QuerySet[Document], document_ids: list[int]) -> int:
    # Under the lock the filter is checked again: a document scored, rescored or deleted
    # since it was listed is no longer chosen, and its contribution is not taken out twice.
    ids = list(
        chosen.select_for_update(of=("self",))
        .filter(pk__in=document_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    aggregates_subtract(totals=documents_contribution(ids))
    Score.objects.filter(document_id__in=ids).delete()
    DocumentEntity.objects.filter(document_id__in=ids).delete()
    Document.objects.filter(pk__in=ids).update(
        status=Document.Status.PENDING,
        queued_at=timezone.now(),
        scoring_since=None,
        score_attempts=0,
        score_error="",
    )
    ingest.documents_score_enqueue(document_ids=ids)
    return len(ids)

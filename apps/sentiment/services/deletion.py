"""Deletion: documents and sources go, and what their scores added leaves the aggregates."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from ..models import Document, Source
from ._common import DOCUMENT_WRITE_BATCH
from .aggregates import aggregates_subtract, documents_contribution


def documents_delete(*, document_ids: Sequence[int], batch_size: int = DOCUMENT_WRITE_BATCH) -> int:
    """Delete documents and take what their scores added out of the hourly aggregates; the one
    way documents are deleted (admin, source deletion). Works in batches, each in its own
    transaction. Alerts they drove stay (without them in their list). Returns how many went."""
    ids = sorted(set(document_ids))
    deleted = 0
    for start in range(0, len(ids), batch_size):
        deleted += _documents_delete_batch(document_ids=ids[start : start + batch_size])
    return deleted


@transaction.atomic
def _documents_delete_batch(*, document_ids: Sequence[int]) -> int:
    # Locked first, in id order: a scoring batch storing one of them either finishes before
    # (its score is then subtracted here) or fails on the missing document after.
    ids = list(
        Document.objects.select_for_update()
        .filter(pk__in=list(document_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    aggregates_subtract(totals=documents_contribution(ids))
    Document.objects.filter(pk__in=ids).delete()
    return len(ids)


def source_delete(*, source_id: int) -> int:
    """Delete a source with its documents, taking their scores out of the aggregates; returns
    how many documents went. Documents go in batches; the last step locks the source, so an
    ingest racing with it cannot leave a document counted behind."""
    deleted = 0
    while True:
        ids = list(
            Document.objects.filter(source_id=source_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:DOCUMENT_WRITE_BATCH]
        )
        if len(ids) < DOCUMENT_WRITE_BATCH:
            break
        deleted += documents_delete(document_ids=ids)
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        rest = list(Document.objects.filter(source_id=source_id).values_list("pk", flat=True))
        deleted += _documents_delete_batch(document_ids=rest) if rest else 0
        if source is not None:
            source.delete()
    return deleted

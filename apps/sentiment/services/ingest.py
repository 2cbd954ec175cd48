"""Ingest: store new documents (deduplicated) and queue them for scoring."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from mlcore.text import content_hash

from ..models import Document, Source
from ..text import language_guess
from ..uploads import DocumentRow, unstorable_problem

log = logging.getLogger(__name__)
SCORE_BATCH = 64


@dataclass(frozen=True)
class IngestResult:
    created_ids: list[int]
    duplicates: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def created(self) -> int:
        return len(self.created_ids)


def documents_ingest(
    *,
    source_id: int,
    rows: Sequence[DocumentRow],
    errors: Sequence[Any] = (),
    now: datetime | None = None,
) -> IngestResult:
    """Store new documents and queue them for scoring; known items (same external id in the
    source, same URL or same text) are skipped. Each row is saved on its own, so one bad row
    never loses the good ones."""
    now = now or timezone.now()
    source = Source.objects.get(pk=source_id)
    created: list[int] = []
    duplicates = 0
    line_errors = [{"line": e.line, "error": e.reason} for e in errors]
    for row in rows:
        # Callers check this already (the API, uploads; feeds drop such characters); a row
        # that still holds one is reported instead of failing the whole ingest.
        if problem := row_unstorable(row):
            line_errors.append({"line": row.line, "error": problem})
            continue
        digest = content_hash(row.title, row.body, normalised=True)
        known = Q(content_hash=digest)
        if row.external_id:
            known |= Q(source_id=source_id, external_id=row.external_id)
        if row.url:
            known |= Q(url=row.url)
        if Document.objects.filter(known).exists():
            duplicates += 1
            continue
        try:
            with transaction.atomic():
                doc = Document.objects.create(
                    source=source,
                    external_id=row.external_id,
                    url=row.url,
                    title=row.title,
                    body=row.body,
                    published_at=min(row.published_at or now, now),
                    language=row.language
                    or language_guess(f"{row.title} {row.body}", source.language),
                    content_hash=digest,
                )
        except IntegrityError:  # a concurrent ingest stored the same item first
            duplicates += 1
            continue
        created.append(doc.pk)
    if created:
        Source.objects.filter(pk=source_id).update(items_total=F("items_total") + len(created))
        documents_score_enqueue(document_ids=created)
    return IngestResult(created, duplicates, line_errors)


def row_unstorable(row: DocumentRow) -> str:
    for name in ("external_id", "url", "title", "body", "language"):
        if problem := unstorable_problem(name, getattr(row, name)):
            return problem
    return ""


def documents_score_enqueue(*, document_ids: Sequence[int]) -> None:
    # Imported here: the tasks module imports this package (a cycle).
    from ..tasks import documents_score_task

    ids = list(document_ids)
    for start in range(0, len(ids), SCORE_BATCH):
        batch = ids[start : start + SCORE_BATCH]

        def enqueue(b: list[int] = batch) -> None:
            try:
                documents_score_task.delay(b)
            except Exception:
                # The documents are stored: a broker outage must not fail the ingest. They stay
                # pending, and the sweeper (documents_rescue) queues them again.
                log.exception("could not queue %d documents for scoring", len(b))

        transaction.on_commit(enqueue)

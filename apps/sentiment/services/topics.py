"""Topics of a source's stored texts tagged again, with the embedder the source names now
(after an analyst changed it): the source's "index" rebuilt."""

from __future__ import annotations

import logging

from django.db import transaction

from ..models import Document, Score, Source, TopicCorrection
from ..topic_model import topics_model_tag
from ._common import DOCUMENT_WRITE_BATCH
from .aggregates import aggregates_add, aggregates_subtract, documents_contribution

log = logging.getLogger(__name__)


def source_topics_retag(*, source_id: int, batch_size: int = DOCUMENT_WRITE_BATCH) -> int:
    """Tag the topics of a source's scored documents again with its embedding model, moving
    their counts between the topic trends; returns how many texts changed topics.

    Texts an analyst corrected keep the analyst's topics. Each batch is tagged outside any
    transaction (the embedder is slow) and written in its own, only to the score it was
    tagged for: a document rescored or deleted meanwhile is left to its new score. A run that
    finds the source on another model by then stops: the change queued its own run. Running
    it again changes nothing; a source deleted meanwhile has nothing to tag."""
    model = Source.objects.filter(pk=source_id).values_list("embedding_model", flat=True).first()
    if model is None:  # deleted since the change: nothing left to tag
        return 0
    changed = last = 0
    while True:
        rows = list(
            Score.objects.filter(
                document__source_id=source_id,
                document__status=Document.Status.SCORED,
                document_id__gt=last,
            )
            .order_by("document_id")
            .values_list("pk", "document_id", "document__title", "document__body")[:batch_size]
        )
        if not rows:
            return changed
        last = rows[-1][1]
        texts = [Document(title=title, body=body).text for _pk, _doc, title, body in rows]
        tagged = topics_model_tag(texts, embedding_model=model)
        if not Source.objects.filter(pk=source_id, embedding_model=model).exists():
            log.info("source %s changed embedding model during a re-tag; stopping", source_id)
            return changed
        wanted = {score_id: topics for (score_id, *_rest), topics in zip(rows, tagged, strict=True)}
        changed += _topics_store(wanted)


@transaction.atomic
def _topics_store(wanted: dict[int, dict[str, float]]) -> int:
    """Store new topics on these scores (score id -> topics), under a lock on their documents,
    except those of corrected texts and those already tagged so."""
    doc_ids = dict(Score.objects.filter(pk__in=wanted).values_list("pk", "document_id"))
    locked = set(
        Document.objects.select_for_update()
        .filter(pk__in=doc_ids.values(), status=Document.Status.SCORED)
        .values_list("pk", flat=True)
    )
    corrected = set(
        TopicCorrection.objects.filter(document_id__in=locked).values_list("document_id", flat=True)
    )
    scores = Score.objects.filter(pk__in=wanted, document_id__in=locked - corrected)
    moving = [s for s in scores if (s.topics or {}) != wanted[s.pk]]
    if not moving:
        return 0
    ids = [s.document_id for s in moving]
    aggregates_subtract(totals=documents_contribution(ids))
    for score in moving:
        score.topics = wanted[score.pk]
    Score.objects.bulk_update(moving, ["topics"])
    aggregates_add(totals=documents_contribution(ids))
    return len(moving)

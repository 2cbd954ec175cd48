"""Analysts' corrections of scored texts (they join the next training)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from ..models import Correction, Document, Score, TopicCorrection
from ..text import TOPICS
from ..uploads import LABELS
from .aggregates import aggregates_add, aggregates_subtract, documents_contribution


@transaction.atomic
def correction_create(
    *, document_id: int, label: str, user: Any = None, sentence: str = ""
) -> Correction:
    """An analyst's label for a scored text (or one of its sentences); joins the next training."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}")
    doc = Document.objects.select_related("score").get(pk=document_id)
    predicted = doc.score.label if hasattr(doc, "score") else ""
    text = sentence.strip() or doc.text
    details = doc.score.sentences if hasattr(doc, "score") and sentence.strip() else []
    # A sentence that is not in the text (a typo, another text's) would train the model on
    # words nobody scored here, recorded with this text's prediction.
    if (
        sentence.strip()
        and not any(d.get("text") == text for d in details)
        and " ".join(text.split()) not in " ".join(doc.text.split())
    ):
        raise ValueError(
            "the sentence is not in this text; copy it exactly, or leave it out to "
            "correct the whole text"
        )
    for detail in details:
        if detail.get("text") == text:
            predicted = detail.get("label", predicted)
    return Correction.objects.create(
        document=doc,
        sentence=text[:5000],
        predicted_label=predicted,
        label=label,
        user=user if getattr(user, "pk", None) else None,
    )


@transaction.atomic
def topic_correction_create(
    *, document_id: int, topics: Sequence[str], user: Any = None
) -> TopicCorrection:
    """An analyst's topics for a scored text (the whole set; empty means none fits).

    Applied at once: the score's topics become these (1.0 each) and the text's counts move
    between the topic trends; and recorded as an example for the topic classifier. ValueError
    for an unknown topic or a text not scored yet."""
    wanted = sorted(set(topics))
    unknown = [t for t in wanted if t not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topic {unknown[0]!r}; use {', '.join(sorted(TOPICS))}")
    doc = Document.objects.select_for_update().get(pk=document_id)
    score = Score.objects.filter(document=doc).first()
    if doc.status != Document.Status.SCORED or score is None:
        raise ValueError("the text is not scored yet; correct its topics once it is")
    predicted = sorted(score.topics or {})
    if predicted != wanted:
        aggregates_subtract(totals=documents_contribution([doc.pk]))
        score.topics = {t: 1.0 for t in wanted}
        score.save(update_fields=["topics"])
        aggregates_add(totals=documents_contribution([doc.pk]))
    return TopicCorrection.objects.create(
        document=doc,
        text=doc.text[:5000],
        predicted=predicted,
        topics=wanted,
        user=user if getattr(user, "pk", None) else None,
    )

"""Analysts' corrections of scored texts (they join the next training)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ..models import Correction, Document
from ..uploads import LABELS


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

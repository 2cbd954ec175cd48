"""Language backfill target of sentiment: documents, by the ingest's rule (lingua, the source's
default language for a text too short to tell)."""

from __future__ import annotations

from apps.core.language_backfill import LanguageTarget

from ..models import Document
from ..text import language_guess

LANGUAGE_TARGETS = (
    LanguageTarget(
        "sentiment.document",
        rows=lambda: Document.objects.select_related("source"),
        detect=lambda d: language_guess(f"{d.title} {d.body}", d.source.language),
    ),
)

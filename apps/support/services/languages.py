"""Language backfill targets of customer service: articles, then their chunks (whose default is
the article's language), then messages; each by the rule its writes use."""

from __future__ import annotations

from apps.core.language_backfill import LanguageTarget
from mlcore.language import language_detect

from ..models import Article, Chunk, Message

LANGUAGE_TARGETS = (
    LanguageTarget(
        "support.article",
        rows=lambda: Article.objects.all(),
        detect=lambda a: language_detect(f"{a.title}\n{a.body}"),
    ),
    LanguageTarget(
        "support.chunk",
        rows=lambda: Chunk.objects.select_related("article"),
        detect=lambda c: language_detect(c.text, default=c.article.language),
    ),
    LanguageTarget(
        "support.message",
        rows=lambda: Message.objects.all(),
        detect=lambda m: language_detect(m.text),
    ),
)

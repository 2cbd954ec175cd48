"""Language backfill target of the recommender: items, by the rule of item_clean (title and
description)."""

from __future__ import annotations

from apps.core.language_backfill import LanguageTarget
from mlcore.language import language_detect

from ..models import Item

LANGUAGE_TARGETS = (
    LanguageTarget(
        "recommender.item",
        rows=lambda: Item.objects.all(),
        detect=lambda i: language_detect(f"{i.title}. {i.description}"),
    ),
)

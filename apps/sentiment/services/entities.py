"""The watchlist of companies: create, edit, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from .. import selectors
from ..models import Entity
from ..text import ticker_normalise


@transaction.atomic
def entity_upsert(
    *,
    name: str,
    ticker: str = "",
    aliases: Sequence[str] = (),
    ticker_needs_context: bool | None = None,
    active: bool | None = None,
    entity_id: int | None = None,
) -> Entity:
    """Create or update a watchlist company: the one with `entity_id`, else the one named `name`.

    The one write path of the page, the API and the admin. The ticker is stored normalised
    ('$ai' -> 'AI'; ValueError if it is no ticker) because tickers match only in capitals.
    `ticker_needs_context=None` decides it for a new or changed ticker (an everyday word or a
    single letter needs context) and keeps the current choice for an unchanged one."""
    ticker = ticker_normalise(ticker)
    lookup: dict[str, Any] = {"pk": entity_id} if entity_id is not None else {"name": name}
    current = Entity.objects.filter(**lookup).first()
    if entity_id is not None and current is None:
        raise Entity.DoesNotExist(f"no watchlist company {entity_id}")
    needs_context = ticker_needs_context
    if needs_context is None and current is not None and current.ticker == ticker:
        needs_context = current.ticker_needs_context
    elif needs_context is None:
        needs_context = bool(ticker) and (ticker.lower() in COMMON_WORD_TICKERS or len(ticker) == 1)
    defaults: dict[str, Any] = {
        "name": name,
        "ticker": ticker,
        "aliases": [a.strip() for a in aliases if a and a.strip()],
        "ticker_needs_context": needs_context,
    }
    if active is not None:
        defaults["active"] = active
    entity, _ = Entity.objects.update_or_create(**lookup, defaults=defaults)
    return entity


@transaction.atomic
def entity_delete(*, entity_id: int) -> None:
    """Delete a watchlist company; ValueError when an alert rule watches it alone.

    A rule with no companies and no topics watches the whole watchlist, so deleting a rule's
    only company would silently widen it to every company (and flood its owner with alerts)."""
    entity = Entity.objects.select_for_update().get(pk=entity_id)
    alone = selectors.rules_widened_by_deleting([entity.pk])
    if alone:
        names = ", ".join(f"'{rule.name}' ({rule.owner})" for rule in alone)
        raise ValueError(
            f"{entity} is the only company of the alert rules {names}; deleting it would make "
            "them watch the whole watchlist. Edit those rules first, or set the company "
            "inactive instead."
        )
    entity.delete()


# Tickers that are everyday words; bare mentions of them are not evidence of the company.
COMMON_WORD_TICKERS = {
    "a",
    "ai",
    "all",
    "am",
    "an",
    "are",
    "at",
    "be",
    "big",
    "by",
    "can",
    "car",
    "cat",
    "ceo",
    "d",
    "do",
    "eat",
    "for",
    "fun",
    "go",
    "good",
    "has",
    "hd",
    "it",
    "key",
    "low",
    "main",
    "man",
    "may",
    "new",
    "now",
    "on",
    "one",
    "out",
    "pay",
    "peak",
    "real",
    "run",
    "see",
    "so",
    "t",
    "two",
    "u",
    "uk",
    "us",
    "v",
    "well",
    "x",
}

"""The live feed's filters from a query string: company, topic, label, source, words, and the
window of an alert (`window=<start>/<end>`, ISO 8601), which an alert email's link sets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def row_id(value: str) -> int | None:
    """A row id typed in a query string; None for anything else ("²" is a digit to Python)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 16 else None


class FeedFilters(TypedDict):
    entity_id: int | None
    topic: str
    label: str
    source_id: int | None
    query: str
    published_after: datetime | None
    published_before: datetime | None


def _window_parse(value: str) -> tuple[datetime, datetime] | None:
    """`<start>/<end>` in ISO 8601 (an alert email's window) -> the two moments, in UTC;
    ValueError saying what is wrong."""
    if not value:
        return None
    start_text, _, end_text = value.partition("/")
    moments = []
    for text in (start_text, end_text):
        try:
            moment = parse_datetime(text.strip().replace(" ", "+"))
        except ValueError:
            moment = None
        if moment is None:
            raise ValueError(
                f"window {value!r} is not '<start>/<end>' in ISO 8601, "
                "e.g. 2026-12-04T06:00:00Z/2026-12-04T12:00:00Z"
            )
        moments.append(moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC))
    if moments[0] >= moments[1]:
        raise ValueError(f"window {value!r} ends before it starts")
    return moments[0], moments[1]


def feed_filters(g: QueryDict, *, with_window: bool = True) -> FeedFilters:
    """The feed's filters from the query; ValueError for a malformed `window`."""

    def number(name: str) -> int | None:
        return row_id(g.get(name, ""))

    window = _window_parse(g.get("window", "")) if with_window else None
    return {
        "entity_id": number("entity"),
        "topic": g.get("topic", ""),
        "label": g.get("label", ""),
        "source_id": number("source"),
        "query": g.get("q", ""),
        "published_after": window[0] if window else None,
        "published_before": window[1] if window else None,
    }

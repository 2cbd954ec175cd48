"""Business hours reads: a knowledge base's hours, and what an away customer is told."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from ..hours import Hours, HoursInvalid, hours_parse, opening_words
from ..models import KnowledgeBase

log = logging.getLogger(__name__)


def knowledge_base_hours(kb: KnowledgeBase) -> Hours:
    """The KB's parsed hours. Stored hours are checked when saved; should a row hold bad ones
    anyway (a shell edit), the KB counts as always open, so customers still reach the queue."""
    try:
        return hours_parse(
            time_zone=kb.time_zone, opening_hours=kb.opening_hours or {}, holidays=kb.holidays or []
        )
    except HoursInvalid:
        log.warning("knowledge base %s has invalid business hours; treated as always open", kb.pk)
        return Hours(tz=ZoneInfo("UTC"))


def next_answer_words(hours: Hours, *, now: datetime) -> str | None:
    """When a person will answer, in words with the time zone ("tomorrow at 09:00
    (Europe/London time)"); None when no opening is ahead."""
    opening = hours.next_opening(now)
    if opening is None:
        return None
    return f"{opening_words(opening, now=now, tz=hours.tz)} ({hours.tz.key} time)"


def away_text(hours: Hours, *, now: datetime) -> str:
    """The handoff message out of hours: when a person answers, and a request for an email
    address."""
    when = next_answer_words(hours, now=now)
    first = (
        f"Our team is away right now. A person will answer {when}."
        if when
        else "Our team is away right now."
    )
    return (
        first + " Please type your email address here, and a person will answer your question "
        "by email."
    )

"""Pushing the dashboard's live feed over the channel layer: newly scored texts and alerts.

Services call these after commit. A broadcast is a courtesy: the rows in the database are the
record, every failure is logged and swallowed, and a page that missed an event catches up on its
next read of the feed and of the alert list (`sentiment:alert_feed`): it reads both on every
reconnect and polls them while the socket is down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import dateformat, timezone

from . import selectors
from .models import Alert

log = logging.getLogger(__name__)
FEED_GROUP = "sentiment-feed"
# Alert events go only to the rule's owner and to staff, who see every alert (as the pages do).
ALERTS_ALL_GROUP = "sentiment-alerts-all"
# The feed and alert rows show these lengths; the events carry no more than the rows show.
TEXT_CHARS = 140
REASON_CHARS = 90


def alerts_owner_group(user_id: int) -> str:
    return f"sentiment-alerts-owner-{user_id}"


def _send(payload: dict[str, Any], groups: Sequence[str] = (FEED_GROUP,)) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        async_to_sync(layer.group_send)(group, {"type": "feed.event", "payload": payload})


def _when(moment: Any) -> str:
    """As the templates' `date:"M j, H:i"` shows it (in the site's time zone)."""
    return dateformat.format(timezone.localtime(moment), "M j, H:i")


def document_event(doc: Any) -> dict[str, Any]:
    """One feed row as data: what the row shows and what the page's filters look at."""
    score = doc.score
    return {
        "id": doc.pk,
        "url": reverse("sentiment:document", args=[doc.pk]),
        "text": truncatechars(doc.title or doc.body, TEXT_CHARS),
        "published_at": doc.published_at.isoformat(),
        "published": _when(doc.published_at),
        "source": {"id": doc.source_id, "name": doc.source.name},
        # Each company's own label ("sentiment") when the text names several.
        "entities": [
            {"id": t.entity.pk, "label": t.entity.ticker or t.entity.name, "sentiment": t.label}
            for t in doc.documententity_set.all()
        ],
        "topics": list(score.topics or {}),
        "label": score.label,
        "confidence": f"{score.confidence:.2f}",
    }


def alert_event(alert: Any) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "url": reverse("sentiment:alert_detail", args=[alert.pk]),
        "created": _when(alert.created_at),
        "subject": alert.subject_label,
        "reason": truncatechars(alert.reason, REASON_CHARS),
        "status": alert.status,
        "status_label": alert.get_status_display(),
        "acknowledge_url": reverse("sentiment:alert_action", args=[alert.pk, "acknowledge"]),
        "resolve_url": reverse("sentiment:alert_action", args=[alert.pk, "resolve"]),
    }


def documents_broadcast(*, document_ids: Sequence[int]) -> None:
    """Tell open dashboards about newly scored texts (one event per scored batch)."""

    try:
        docs = selectors.document_feed().filter(pk__in=list(document_ids))
        events = [document_event(doc) for doc in docs]
        if events:
            _send({"type": "documents", "documents": events})
    except Exception:  # never let the courtesy fail the scoring that called it
        log.warning("could not broadcast %d scored documents", len(document_ids), exc_info=True)


def alert_broadcast(*, alert_id: int) -> None:
    """Tell the dashboards of the rule's owner and of staff about a new alert or a change of its
    status."""

    try:
        alert = Alert.objects.filter(pk=alert_id).select_related("rule").first()
        if alert is not None:
            _send(
                {"type": "alert", "alert": alert_event(alert)},
                (alerts_owner_group(alert.rule.owner_id), ALERTS_ALL_GROUP),
            )
    except Exception:
        log.warning("could not broadcast alert %s", alert_id, exc_info=True)

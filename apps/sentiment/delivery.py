"""Alert email delivery: each alert email (or digest) has a stable Message-ID per recipient and is
claimed before it is handed to the SMTP server.

SMTP and the database cannot commit together: a worker can die after the server accepted a
message and before the database says so. Mail that the server refused (an exception from the
backend) is released and sent again later under the same Message-ID, so a retry is at least once
and receivers that drop duplicate Message-IDs see one mail. A hand-off whose worker vanished
(no answer, no exception: killed, out of memory, power loss) is never handed over again: the next
attempt, which only comes after the alert's own send claim went stale, settles it as "probably
sent", logs a warning and marks the alerts, so a crash costs at most one email, never a second.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import Alert, EmailDelivery

log = logging.getLogger(__name__)

# The alert fields that say a kind of email went out, and the send claim that it releases.
_MARKS = {
    EmailDelivery.Kind.ALERT: ("sent_at", "send_claimed_at"),
    EmailDelivery.Kind.DIGEST: ("digest_sent_at", "digest_claimed_at"),
}


def message_id_make(*, kind: str, alert_ids: Sequence[int], recipient_id: int) -> str:
    """The Message-ID of one alert's (or one digest's) email to one recipient, on the site's
    domain; the same inputs give the same id, so a retried send repeats it."""
    ids = sorted(alert_ids)
    key = str(ids[0]) if len(ids) == 1 else f"{ids[0]}-{_digest_of(ids)}"
    domain = urlsplit(str(settings.SITE_URL)).hostname or str(DNS_NAME)
    return f"<textsuite.{kind}.{key}.u{recipient_id}@{domain}>"


def _digest_of(ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:12]


def _alerts_mark(*, kind: str, alert_ids: Sequence[int], when: datetime, note: str = "") -> None:
    sent_field, claim_field = _MARKS[EmailDelivery.Kind(kind)]
    Alert.objects.filter(pk__in=alert_ids, **{f"{sent_field}__isnull": True}).update(
        **{sent_field: when, claim_field: None, "send_error": note}
    )


def unconfirmed_settle(*, kind: str, alert_ids: Sequence[int]) -> set[int]:
    """The alerts among `alert_ids` whose email an earlier attempt already handed to the SMTP
    server: marked sent (as probably sent when that attempt never reported back) and never
    mailed again. Call it only while holding the alerts' send claims."""
    handed = EmailDelivery.objects.filter(
        kind=kind, alerts__in=alert_ids, handed_at__isnull=False
    ).distinct()
    settled: set[int] = set()
    for delivery in handed:
        ids = list(delivery.alerts.values_list("pk", flat=True))
        note = ""
        with transaction.atomic():
            stopped = EmailDelivery.objects.filter(
                pk=delivery.pk, sent_at__isnull=True, outcome=EmailDelivery.Outcome.PENDING
            ).update(
                outcome=EmailDelivery.Outcome.UNCONFIRMED,
                error="the worker stopped after handing the message to the SMTP server",
            )
            if stopped:
                when = f"{delivery.handed_at:%Y-%m-%d %H:%M:%S}"
                note = (
                    f"probably sent: handed to the SMTP server at {when} UTC by a worker that "
                    f"stopped before it was confirmed; not sent again (Message-ID "
                    f"{delivery.message_id})"
                )
            assert delivery.handed_at is not None  # filtered on above
            _alerts_mark(kind=kind, alert_ids=ids, when=delivery.handed_at, note=note)
        if stopped:
            log.warning(
                "%s email %s to %s: its worker stopped after the SMTP hand-off; recorded as "
                "probably sent, not sent again (alerts %s)",
                kind,
                delivery.message_id,
                delivery.address,
                ids,
            )
        settled.update(ids)
    return settled & set(alert_ids)


def email_send(
    *, kind: str, alerts: Sequence[Alert], recipient: Any, message: EmailMultiAlternatives
) -> bool:
    """Send `message` to `recipient` under its stable Message-ID and mark `alerts` sent.

    The delivery is claimed with a conditional update before the SMTP hand-off; False (nothing
    sent) when another attempt holds it. An exception from the backend (the server refused,
    or could not be reached) releases the claim and is raised for the caller's retry."""
    alert_ids = sorted(a.pk for a in alerts)
    message_id = message_id_make(kind=kind, alert_ids=alert_ids, recipient_id=recipient.pk)
    message.extra_headers["Message-ID"] = message_id
    delivery, _ = EmailDelivery.objects.get_or_create(
        message_id=message_id,
        defaults={"kind": kind, "recipient_id": recipient.pk, "address": recipient.email},
    )
    delivery.alerts.add(*alert_ids)
    mine = EmailDelivery.objects.filter(
        pk=delivery.pk, handed_at__isnull=True, sent_at__isnull=True
    )
    if not mine.update(
        handed_at=timezone.now(), attempts=F("attempts") + 1, address=recipient.email
    ):
        return False
    try:
        message.send(fail_silently=False)
    except Exception as exc:
        EmailDelivery.objects.filter(pk=delivery.pk, sent_at__isnull=True).update(
            handed_at=None, error=str(exc)[:1000]
        )
        raise
    sent_at = timezone.now()
    with transaction.atomic():
        EmailDelivery.objects.filter(pk=delivery.pk).update(
            sent_at=sent_at, outcome=EmailDelivery.Outcome.SENT, error=""
        )
        _alerts_mark(kind=kind, alert_ids=alert_ids, when=sent_at)
    return True

"""The daily digest: one email per owner with the digest-delivery alerts not yet sent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import delivery
from ..models import Alert, AlertRule, EmailDelivery
from ..schedules import DIGEST_HOUR
from .emails import SEND_CLAIM_S, digest_email_build, send_skip_reason

log = logging.getLogger(__name__)


def _digest_pending() -> QuerySet[Alert]:
    return Alert.objects.filter(
        rule__delivery=AlertRule.Delivery.DIGEST, digest_sent_at__isnull=True, send_skipped=""
    )


def alerts_digest_send(*, now: datetime | None = None) -> int:
    """One email per owner with the digest-delivery alerts not yet in a digest; returns how many
    went out.

    Each owner's alerts are claimed like a single alert's send (`digest_claimed_at`, taken over
    when stale) and marked `digest_sent_at` only after the SMTP server took the message. One
    owner's failure does not hold up the others; it is raised at the end for the task's retry."""
    now = now or timezone.now()
    owners = sorted(set(_digest_pending().values_list("rule__owner_id", flat=True)))
    return _digests_send(owners=owners, now=now)


def _digest_last_run(now: datetime) -> datetime:
    """When the daily digest was last due (DIGEST_HOUR in Celery's time zone)."""
    local = timezone.localtime(now, ZoneInfo(settings.CELERY_TIMEZONE or settings.TIME_ZONE))
    due = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return due if due <= local else due - timedelta(days=1)


def alerts_digest_catch_up(*, now: datetime | None = None) -> int:
    """Send the digests that missed their day (SMTP down past the digest task's retries): only
    owners with an alert older than the last digest time get one, with all their pending alerts.
    Beat runs this every hour; returns how many went out."""
    now = now or timezone.now()
    overdue = _digest_pending().filter(created_at__lt=_digest_last_run(now))
    owners = sorted(set(overdue.values_list("rule__owner_id", flat=True)))
    return _digests_send(owners=owners, now=now)


def _digests_send(*, owners: Sequence[int], now: datetime) -> int:
    sent = 0
    failure: Exception | None = None
    for owner_id in owners:
        try:
            sent += _digest_send_owner(owner_id=owner_id, now=now)
        except Exception as exc:
            log.warning("digest for user %s failed: %s", owner_id, exc)
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent


def _digest_send_owner(*, owner_id: int, now: datetime) -> int:
    candidates = list(
        _digest_pending().filter(rule__owner_id=owner_id).values_list("pk", flat=True)
    )
    Alert.objects.filter(
        Q(digest_claimed_at__isnull=True)
        | Q(digest_claimed_at__lt=now - timedelta(seconds=SEND_CLAIM_S)),
        pk__in=candidates,
        digest_sent_at__isnull=True,
    ).update(digest_claimed_at=now)
    mine = Alert.objects.filter(pk__in=candidates, digest_claimed_at=now, digest_sent_at=None)
    alerts = list(mine.select_related("rule", "rule__owner").order_by("created_at", "pk"))
    # Alerts a dead attempt already handed to the SMTP server in a digest are not mailed again.
    settled = delivery.unconfirmed_settle(
        kind=EmailDelivery.Kind.DIGEST, alert_ids=[a.pk for a in alerts]
    )
    alerts = [a for a in alerts if a.pk not in settled]
    if not alerts:
        return 0
    owner = alerts[0].rule.owner
    keep: list[Alert] = []
    for alert in alerts:
        skipped = send_skip_reason(owner=owner, rule_id=alert.rule_id)
        if skipped:
            mine.filter(pk=alert.pk).update(send_skipped=skipped, digest_claimed_at=None)
        else:
            keep.append(alert)
    if not keep:
        return 0
    try:
        handed = delivery.email_send(
            kind=EmailDelivery.Kind.DIGEST,
            alerts=keep,
            recipient=owner,
            message=digest_email_build(alerts=keep, owner=owner),
        )
    except Exception as exc:
        mine.filter(pk__in=[a.pk for a in keep]).update(
            digest_claimed_at=None, send_error=str(exc)[:1000]
        )
        raise
    return int(handed)

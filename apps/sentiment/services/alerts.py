"""Alerts: evaluate the rules against the aggregates, open one alert per episode, email it
(immediate delivery), acknowledge and resolve it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import delivery, realtime, selectors
from ..models import Alert, AlertRule, Document, EmailDelivery
from ..spikes import MAX_COOLDOWN_HOURS, SpikeCheck, spike_check
from .emails import SEND_CLAIM_S, alert_email_build, send_skip_reason

log = logging.getLogger(__name__)
LOOKBACK_WINDOWS = 28
# The email sweep gives up on an immediate alert this old: by then it is news no more.
ALERT_SEND_MAX_AGE = timedelta(days=2)


def _check_rule_subject(
    rule: AlertRule, kind: str, key: str, end: datetime
) -> tuple[SpikeCheck, list[selectors.WindowStat]]:
    series = selectors.window_series(
        subject_kind=kind,
        subject_key=key,
        end=end,
        window_hours=rule.window_hours,
        count=LOOKBACK_WINDOWS,
    )
    check = spike_check(
        metric=rule.metric,
        values=[w.metric(rule.metric) for w in series],
        volumes=[w.n for w in series],
        sensitivity=rule.sensitivity,
        min_volume=rule.min_volume,
        threshold=rule.threshold if rule.mode == AlertRule.Mode.THRESHOLD else None,
    )
    return check, series


def alerts_evaluate(
    *, now: datetime | None = None, rule_ids: Sequence[int] | None = None
) -> list[int]:
    """Check every active rule against its subjects; open one alert per episode.

    An episode lasts while the condition holds; it must clear before the same rule and subject
    can alert again, and the cooldown must have passed since the last alert."""
    now = now or timezone.now()
    end = selectors.hour_floor(now) + timedelta(hours=1)
    # A paused rule watches nothing: its episodes end, as when a subject is taken off a rule,
    # so a condition still (or again) holding when it is switched back on alerts again.
    paused = Alert.objects.filter(rule__active=False, episode_open=True)
    if rule_ids is not None:
        paused = paused.filter(rule_id__in=list(rule_ids))
    paused.update(episode_open=False)
    rules = AlertRule.objects.filter(active=True).select_related("owner")
    if rule_ids is not None:
        rules = rules.filter(pk__in=list(rule_ids))
    created: list[int] = []
    for rule in rules:
        try:
            with transaction.atomic():
                created += _rule_evaluate(rule, end=end, now=now)
        except Exception:
            # One rule that cannot be checked (a value stored before it was validated, say)
            # must not keep every rule after it from alerting.
            log.exception("alert rule %s (%s) could not be evaluated", rule.pk, rule.name)
    return created


def _rule_evaluate(rule: AlertRule, *, end: datetime, now: datetime) -> list[int]:
    """Check one rule against its subjects; the ids of the alerts it opened."""
    created: list[int] = []
    subjects = selectors.rule_subjects(rule)
    # A subject the rule no longer watches (edited out, company inactive) is checked no
    # more: end its episode, or watching it again could never alert again.
    watched = set(subjects)
    stale = [
        pk
        for pk, kind, key in Alert.objects.filter(rule=rule, episode_open=True).values_list(
            "pk", "subject_kind", "subject_key"
        )
        if (kind, key) not in watched
    ]
    if stale:
        Alert.objects.filter(pk__in=stale).update(episode_open=False)
    cooldown = timedelta(hours=min(rule.cooldown_hours, MAX_COOLDOWN_HOURS))
    for kind, key in subjects:
        check, series = _check_rule_subject(rule, kind, key, end)
        episode = Alert.objects.filter(
            rule=rule, subject_kind=kind, subject_key=key, episode_open=True
        )
        if not check.fired:
            episode.update(episode_open=False)
            continue
        if episode.exists():
            continue
        last = (
            Alert.objects.filter(rule=rule, subject_kind=kind, subject_key=key)
            .order_by("-created_at")
            .first()
        )
        if last and last.created_at > now - cooldown:
            continue
        alert = _alert_open(rule, kind, key, check, series[-1])
        if alert is not None:
            created.append(alert.pk)
    return created


def _alert_open(
    rule: AlertRule, kind: str, key: str, check: SpikeCheck, window: selectors.WindowStat
) -> Alert | None:
    label = selectors.subject_label(kind, key)
    docs = selectors.subject_documents(kind, key).filter(
        published_at__gte=window.start,
        published_at__lt=window.end,
        status=Document.Status.SCORED,
    )
    # For a company: the texts most negative about that company (its own score).
    ordered = (
        docs.order_by("-published_at")
        if rule.metric == AlertRule.Metric.VOLUME
        else selectors.documents_by_negativity(docs, kind, key)
    )
    driving = list(ordered.values_list("pk", flat=True)[:5])
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                subject_kind=kind,
                subject_key=key,
                subject_label=label,
                metric=rule.metric,
                value=check.value,
                baseline=check.baseline,
                z_score=check.z,
                volume=check.volume,
                window_start=window.start,
                window_end=window.end,
                reason=check.reason,
            )
            alert.documents.set(driving)
            if rule.delivery == AlertRule.Delivery.IMMEDIATE:
                # Imported here: the tasks module imports this package (a cycle).
                from ..tasks import alert_send_task

                transaction.on_commit(lambda: alert_send_task.delay(alert.pk))
            transaction.on_commit(lambda: realtime.alert_broadcast(alert_id=alert.pk), robust=True)
    except IntegrityError:  # another evaluation opened this episode a moment ago
        return None
    log.info("alert %s opened: %s %s", alert.pk, label, check.reason)
    return alert


def alert_send(*, alert_id: int) -> str:
    """Email one alert to its rule's owner, at most once.

    A worker claims the send (`send_claimed_at`) and records `sent_at` only once the SMTP server
    took the message. A failed send releases the claim for the task's retry; a claim left by a
    worker that died is taken over after SEND_CLAIM_S; if that worker had already handed the
    message to the SMTP server, it is not sent again (see delivery.py). Returns "sent",
    "already sent", "unconfirmed" (settled as probably sent), "skipped" (no address, or
    unsubscribed: recorded in `send_skipped`) or "busy" (another worker holds a fresh claim; the
    caller tries again later)."""
    now = timezone.now()
    claimed = Alert.objects.filter(
        Q(send_claimed_at__isnull=True)
        | Q(send_claimed_at__lt=now - timedelta(seconds=SEND_CLAIM_S)),
        pk=alert_id,
        sent_at__isnull=True,
        send_skipped="",
    ).update(send_claimed_at=now, send_attempts=F("send_attempts") + 1)
    if not claimed:
        state = Alert.objects.filter(pk=alert_id).values("sent_at", "send_skipped").first()
        if state is None:
            return "gone"
        if state["sent_at"]:
            return "already sent"
        return "skipped" if state["send_skipped"] else "busy"
    mine = Alert.objects.filter(pk=alert_id, send_claimed_at=now)
    if delivery.unconfirmed_settle(kind=EmailDelivery.Kind.ALERT, alert_ids=[alert_id]):
        return "unconfirmed"
    alert = Alert.objects.select_related("rule", "rule__owner").get(pk=alert_id)
    skipped = send_skip_reason(owner=alert.rule.owner, rule_id=alert.rule_id)
    if skipped:
        mine.update(send_skipped=skipped, send_claimed_at=None, send_error="")
        return "skipped"
    try:
        handed = delivery.email_send(
            kind=EmailDelivery.Kind.ALERT,
            alerts=[alert],
            recipient=alert.rule.owner,
            message=alert_email_build(alert),
        )
    except Exception as exc:
        # The server refused it: release the claim so the task's retry can send it.
        mine.update(send_claimed_at=None, send_error=str(exc)[:1000])
        raise
    return "sent" if handed else "busy"


def alerts_send_pending(*, now: datetime | None = None, limit: int = 50) -> int:
    """Email the immediate alerts whose send task gave up (an SMTP outage outlasting its retries);
    beat runs this every 10 minutes. Alerts younger than SEND_CLAIM_S (their own task is still on
    them), claimed, or older than two days are left alone; the claims of `alert_send` keep each
    email to one. Stops at the first failure (the server is still down). Returns how many went."""
    now = now or timezone.now()
    claim_stale = now - timedelta(seconds=SEND_CLAIM_S)
    pending = (
        Alert.objects.filter(
            Q(send_claimed_at__isnull=True) | Q(send_claimed_at__lt=claim_stale),
            rule__delivery=AlertRule.Delivery.IMMEDIATE,
            sent_at__isnull=True,
            send_skipped="",
            created_at__lt=claim_stale,
            created_at__gte=now - ALERT_SEND_MAX_AGE,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for alert_id in list(pending):
        try:
            sent += alert_send(alert_id=alert_id) == "sent"
        except Exception as exc:
            log.warning("alert %s: email still failing (%s); next sweep tries again", alert_id, exc)
            break
    return sent


def alert_transition(*, alert_id: int, action: str, user: Any = None) -> Alert:
    """Acknowledge or resolve an alert; repeating an action is harmless."""
    now = timezone.now()
    user_id = getattr(user, "pk", None)
    if action == "acknowledge":
        changed = Alert.objects.filter(pk=alert_id, status=Alert.Status.OPEN).update(
            status=Alert.Status.ACKNOWLEDGED, acknowledged_at=now, handled_by_id=user_id
        )
    elif action == "resolve":
        changed = (
            Alert.objects.filter(pk=alert_id)
            .exclude(status=Alert.Status.RESOLVED)
            .update(status=Alert.Status.RESOLVED, resolved_at=now, handled_by_id=user_id)
        )
    else:
        raise ValueError(f"unknown action {action!r}; use acknowledge or resolve")
    if changed:
        transaction.on_commit(lambda: realtime.alert_broadcast(alert_id=alert_id), robust=True)
    return Alert.objects.get(pk=alert_id)

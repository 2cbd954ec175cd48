"""Unsubscribe links and switching alert emails back on."""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.db.models import Q

from ..models import Alert, AlertRule, Unsubscribe

UNSUBSCRIBE_SALT = "sentiment-unsubscribe"


def unsubscribe_token(*, user_id: int, rule_id: int | None) -> str:
    return signing.dumps({"u": user_id, "r": rule_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_apply(*, token: str) -> Unsubscribe:
    """Record an unsubscribe from an email link; signing.BadSignature on a forged token."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    entry, _ = Unsubscribe.objects.get_or_create(user_id=int(data["u"]), rule_id=data.get("r"))
    return entry


def unsubscribe_revoke(*, token: str) -> None:
    """Undo an email link's unsubscribe ("Subscribe again"); signing.BadSignature on a forged
    token. See emails_resubscribe."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    emails_resubscribe(user_id=int(data["u"]), rule_id=data.get("r"))


@transaction.atomic
def emails_resubscribe(*, user_id: int, rule_id: int | None) -> None:
    """Email again: for one rule, or (rule_id None) undo the unsubscribe from every rule.

    Alerts that fired while unsubscribed and were not emailed yet (digest alerts wait for the
    digest) are marked skipped: switching emails back on sends no old alerts. One rule back on
    while every rule is off turns the "every rule" entry into one entry per other rule, so those
    stay off."""
    entries = Unsubscribe.objects.select_for_update().filter(user_id=user_id)
    if rule_id is None:
        gone = list(entries.filter(rule=None))
    else:
        gone = list(entries.filter(Q(rule_id=rule_id) | Q(rule=None)))
    if not gone:
        return
    everything = next((e for e in gone if e.rule_id is None), None)
    if everything is not None and rule_id is not None:
        others = AlertRule.objects.filter(owner_id=user_id).exclude(pk=rule_id)
        kept = set(entries.exclude(rule=None).values_list("rule_id", flat=True))
        Unsubscribe.objects.bulk_create(
            Unsubscribe(user_id=user_id, rule_id=pk)
            for pk in others.values_list("pk", flat=True)
            if pk not in kept
        )
    for entry in gone:
        rules = AlertRule.objects.filter(owner_id=user_id)
        if entry.rule_id is not None:  # the "every rule" entry covered all of them
            rules = rules.filter(pk=entry.rule_id)
        Alert.objects.filter(
            rule__in=rules,
            created_at__gte=entry.created_at,
            sent_at=None,
            digest_sent_at=None,
            send_skipped="",
        ).exclude(rule__delivery=AlertRule.Delivery.NONE).update(
            send_skipped=Alert.SendSkipped.UNSUBSCRIBED
        )
    Unsubscribe.objects.filter(pk__in=[e.pk for e in gone]).delete()

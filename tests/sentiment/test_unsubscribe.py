"""Unsubscribing from alert emails and subscribing again: the email link, the digest link, the
rules page and the API, and links of rules that no longer exist."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from apps.sentiment import selectors, services
from apps.sentiment.models import Alert, AlertRule, Entity, Unsubscribe
from tests.accounts.factories import AnalystFactory
from tests.sentiment.conftest import rule_create
from tests.sentiment.factories import AlertFactory, AlertRuleFactory, UnsubscribeFactory

pytestmark = pytest.mark.django_db


def _rule(owner: Any, kestrel: Entity, name: str = "Kestrel negatives", **fields: Any) -> AlertRule:
    return AlertRuleFactory(owner=owner, name=name, entities=[kestrel], **fields)


def _alert(rule: AlertRule, key: str) -> Alert:
    return AlertFactory(
        rule=rule,
        subject_key=key,
        subject_label=f"Company {key}",
        metric=rule.metric,
        value=12,
        baseline=3,
        reason=f"{key}: 12 texts in 6 h, usually 3",
    )


def _other_analyst() -> Any:
    return AnalystFactory(username="bob", password="pw-bob-1234", email="bob@example.com")


def test_the_unsubscribe_page_offers_subscribe_again_and_emails_resume(analyst, kestrel, client):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, kestrel)
    url = reverse(
        "sentiment:unsubscribe",
        args=[services.unsubscribe_token(user_id=analyst.pk, rule_id=rule.pk)],
    )
    unsubscribed = client.post(url)
    opened_again = client.get(url)  # a mail scanner following the link changes nothing
    still_off = Unsubscribe.objects.filter(user=analyst, rule=rule).exists()

    again = client.post(url, {"action": "resubscribe"})
    result = services.alert_send(alert_id=_alert(rule, "1").pk)

    assert unsubscribed.status_code == 200 and "Subscribe again" in unsubscribed.content.decode()
    assert "Subscribe again" in opened_again.content.decode() and still_off
    assert again.status_code == 200 and "Subscribed again" in again.content.decode()
    assert not Unsubscribe.objects.filter(user=analyst).exists()
    assert result == "sent" and len(mail.outbox) == 1


def test_the_digest_link_subscribe_again_undoes_only_the_every_rule_unsubscribe(  # type: ignore[no-untyped-def]
    analyst, kestrel, client
):
    quiet = _rule(analyst, kestrel, name="Quiet one", delivery="digest")
    loud = _rule(analyst, kestrel, name="Loud one", delivery="digest")
    UnsubscribeFactory(user=analyst, rule=quiet)  # switched off on its own before
    url = reverse(
        "sentiment:unsubscribe", args=[services.unsubscribe_token(user_id=analyst.pk, rule_id=None)]
    )
    client.post(url)

    page = client.get(url)
    client.post(url, {"action": "resubscribe"})

    assert "Subscribe again" in page.content.decode()
    assert not selectors.user_unsubscribed_all(user_id=analyst.pk)
    assert not selectors.user_unsubscribed(user_id=analyst.pk, rule_id=loud.pk)
    assert selectors.user_unsubscribed(user_id=analyst.pk, rule_id=quiet.pk)


def test_alerts_that_fired_while_unsubscribed_are_not_mailed_after_subscribing_again(  # type: ignore[no-untyped-def]
    analyst, kestrel, client
):
    rule = _rule(analyst, kestrel, delivery="digest")
    url = reverse(
        "sentiment:unsubscribe",
        args=[services.unsubscribe_token(user_id=analyst.pk, rule_id=rule.pk)],
    )
    client.post(url)
    meanwhile = _alert(rule, "1")  # waits for the digest, which would mail it after all

    client.post(url, {"action": "resubscribe"})
    later = _alert(rule, "2")
    sent = services.alerts_digest_send()

    meanwhile.refresh_from_db()
    later.refresh_from_db()
    assert meanwhile.send_skipped == "unsubscribed" and meanwhile.digest_sent_at is None
    assert sent == 1 and later.digest_sent_at is not None
    assert "Company 1" not in mail.outbox[0].subject and "Company 2" in mail.outbox[0].subject


def test_the_rules_page_shows_unsubscribed_rules_and_switches_their_emails_back_on(  # type: ignore[no-untyped-def]
    analyst, kestrel, analyst_client
):
    rule = _rule(analyst, kestrel)
    UnsubscribeFactory(user=analyst, rule=rule)
    theirs = _rule(_other_analyst(), kestrel)
    UnsubscribeFactory(user=theirs.owner, rule=theirs)

    listing = analyst_client.get(reverse("sentiment:rules")).content.decode()
    editor = analyst_client.get(reverse("sentiment:rule_edit", args=[rule.pk])).content.decode()
    by_link = analyst_client.get(reverse("sentiment:rule_resubscribe", args=[rule.pk]))
    someone_elses = analyst_client.post(reverse("sentiment:rule_resubscribe", args=[theirs.pk]))
    switched = analyst_client.post(reverse("sentiment:rule_resubscribe", args=[rule.pk]))

    assert "unsubscribed" in listing and "Email me again" in listing
    assert "Emails unsubscribed" in editor and "Email me again" in editor
    assert by_link.status_code == 405
    assert someone_elses.status_code == 404
    assert Unsubscribe.objects.filter(user=theirs.owner, rule=theirs).exists()
    assert switched.status_code == 302
    assert not selectors.user_unsubscribed(user_id=analyst.pk, rule_id=rule.pk)
    after = analyst_client.get(reverse("sentiment:rules")).content.decode()
    assert "Email me again" not in after


def test_one_rule_back_on_while_every_rule_is_off_keeps_the_others_off(  # type: ignore[no-untyped-def]
    analyst, kestrel, analyst_client
):
    wanted = _rule(analyst, kestrel, name="Wanted")
    other = _rule(analyst, kestrel, name="Other")
    UnsubscribeFactory(user=analyst, rule=None)

    page = analyst_client.get(reverse("sentiment:rules")).content.decode()
    analyst_client.post(reverse("sentiment:rule_resubscribe", args=[wanted.pk]))

    assert "You unsubscribed from every rule" in page
    assert not selectors.user_unsubscribed(user_id=analyst.pk, rule_id=wanted.pk)
    assert selectors.user_unsubscribed(user_id=analyst.pk, rule_id=other.pk)
    analyst_client.post(reverse("sentiment:rules_resubscribe"))  # "every rule" is already gone
    assert selectors.user_unsubscribed(user_id=analyst.pk, rule_id=other.pk)


def test_the_api_shows_and_resets_a_rules_unsubscribe(analyst, kestrel, analyst_client):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, kestrel)
    UnsubscribeFactory(user=analyst, rule=rule)
    theirs = _rule(_other_analyst(), kestrel)

    listed = analyst_client.get("/api/sentiment/rules/").json()["results"]
    patched = analyst_client.patch(
        f"/api/sentiment/rules/{rule.pk}/",
        {"emails_unsubscribed": False},
        content_type="application/json",
    )
    still = Unsubscribe.objects.filter(user=analyst, rule=rule).exists()
    reset = analyst_client.post(f"/api/sentiment/rules/{rule.pk}/resubscribe/")
    someone_elses = analyst_client.post(f"/api/sentiment/rules/{theirs.pk}/resubscribe/")

    assert [r["emails_unsubscribed"] for r in listed] == [True]
    assert patched.status_code == 200 and patched.json()["emails_unsubscribed"] is True and still
    assert reset.status_code == 200 and reset.json()["emails_unsubscribed"] is False
    assert someone_elses.status_code == 404
    assert not Unsubscribe.objects.filter(user=analyst).exists()


def test_an_unsubscribe_link_of_a_deleted_rule_answers_clearly(analyst, kestrel, client):  # type: ignore[no-untyped-def]
    rule = rule_create(analyst, [kestrel])
    token = services.unsubscribe_token(user_id=analyst.pk, rule_id=rule.pk)
    rule.delete()

    page = client.get(f"/sentiment/unsubscribe/{token}/")
    done = client.post(f"/sentiment/unsubscribe/{token}/")

    # Not "stop emails for all your rules?", and no error on confirming.
    assert "all your sentiment rules" not in page.content.decode()
    assert "no longer exists" in page.content.decode()
    assert done.status_code in (200, 410) and "no longer exists" in done.content.decode()
    assert not Unsubscribe.objects.exists()


def test_deleting_an_unsubscribe_in_the_admin_switches_emails_back_on_through_the_service(  # type: ignore[no-untyped-def]
    analyst, kestrel, admin_client
):
    rule = _rule(analyst, kestrel, delivery="digest")
    entry = UnsubscribeFactory(user=analyst, rule=None)
    held_back = _alert(rule, "1")  # fired while every email was off; waits for no digest now

    edit = admin_client.post(f"/admin/sentiment/unsubscribe/{entry.pk}/change/", {})
    deleted = admin_client.post(f"/admin/sentiment/unsubscribe/{entry.pk}/delete/", {"post": "yes"})

    held_back.refresh_from_db()
    assert edit.status_code == 403
    assert deleted.status_code == 302
    assert not selectors.user_unsubscribed(user_id=analyst.pk, rule_id=rule.pk)
    assert held_back.send_skipped == Alert.SendSkipped.UNSUBSCRIBED

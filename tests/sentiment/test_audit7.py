"""Audit 7: subscribing again after an unsubscribe link, source names kept to one kind, and
`entity=0` on the documents API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.sentiment import selectors, services
from apps.sentiment.models import Alert, AlertRule, Document, Entity, Source, Unsubscribe
from apps.sentiment.uploads import DocumentRow

pytestmark = pytest.mark.django_db


@pytest.fixture
def kestrel(db: Any) -> Entity:
    return services.entity_upsert(name="Kestrel Airlines", ticker="KSTL", aliases=["Kestrel"])


def _rule(owner: Any, kestrel: Entity, name: str = "Kestrel negatives", **fields: Any) -> AlertRule:
    rule = AlertRule.objects.create(owner=owner, name=name, metric="volume", **fields)
    rule.entities.set([kestrel])
    return rule


def _alert(rule: AlertRule, key: str) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        rule=rule,
        subject_kind="entity",
        subject_key=key,
        subject_label=f"Company {key}",
        metric=rule.metric,
        value=12,
        baseline=3,
        window_start=now - timedelta(hours=6),
        window_end=now,
        reason=f"{key}: 12 texts in 6 h, usually 3",
    )


def _other_analyst() -> Any:
    return user_create(
        username="bob", password="pw-bob-1234", email="bob@example.com", roles=[Role.ANALYST.value]
    )


# -- 1. subscribing again ------------------------------------------------------------------------
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
    Unsubscribe.objects.create(user=analyst, rule=quiet)  # switched off on its own before
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
    Unsubscribe.objects.create(user=analyst, rule=rule)
    theirs = _rule(_other_analyst(), kestrel)
    Unsubscribe.objects.create(user=theirs.owner, rule=theirs)

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
    Unsubscribe.objects.create(user=analyst, rule=None)

    page = analyst_client.get(reverse("sentiment:rules")).content.decode()
    analyst_client.post(reverse("sentiment:rule_resubscribe", args=[wanted.pk]))

    assert "You unsubscribed from every rule" in page
    assert not selectors.user_unsubscribed(user_id=analyst.pk, rule_id=wanted.pk)
    assert selectors.user_unsubscribed(user_id=analyst.pk, rule_id=other.pk)
    analyst_client.post(reverse("sentiment:rules_resubscribe"))  # "every rule" is already gone
    assert selectors.user_unsubscribed(user_id=analyst.pk, rule_id=other.pk)


def test_the_api_shows_and_resets_a_rules_unsubscribe(analyst, kestrel, analyst_client):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, kestrel)
    Unsubscribe.objects.create(user=analyst, rule=rule)
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


# -- 2. a feed's source name is the feed's own ----------------------------------------------------
@pytest.fixture
def feed(db: Any, scorer: Any) -> Source:
    source = services.source_get_or_create(
        name="Reuters", kind=Source.Kind.RSS, url="https://feeds.example.com/reuters.xml"
    )
    row = DocumentRow(1, "r-1", "https://n.example/r1", "Acme beats estimates", "", None, "")
    services.documents_ingest(source_id=source.pk, rows=[row], errors=[])
    return source


def _feed_untouched(feed: Source) -> None:
    assert list(Document.objects.values_list("source_id", flat=True)) == [feed.pk]
    assert Source.objects.get(pk=feed.pk).kind == Source.Kind.RSS


def test_a_push_naming_a_feed_is_refused(feed, analyst_client) -> None:  # type: ignore[no-untyped-def]
    batch = analyst_client.post(
        "/api/sentiment/ingest/",
        {"source": "Reuters", "documents": [{"title": "Acme shares plunge"}]},
        content_type="application/json",
    )
    one = analyst_client.post(
        "/api/sentiment/ingest/",
        {"source": "Reuters", "title": "Acme shares plunge"},
        content_type="application/json",
    )

    assert batch.status_code == 400 and one.status_code == 400
    message = batch.json()["source"][0]
    assert "Reuters" in message and "RSS feed" in message and "another" in message
    _feed_untouched(feed)


def test_an_upload_naming_a_feed_is_refused_by_the_api_and_the_page(feed, analyst_client) -> None:  # type: ignore[no-untyped-def]
    content = b"title,body\nAcme shares plunge,\n"
    api = analyst_client.post(
        "/api/sentiment/upload/",
        {"file": SimpleUploadedFile("news.csv", content), "source": "Reuters"},
    )
    page = analyst_client.post(
        reverse("sentiment:upload"),
        {"file": SimpleUploadedFile("news.csv", content), "source": "Reuters"},
    )

    assert api.status_code == 400 and "RSS feed" in api.json()["source"][0]
    assert page.status_code == 400
    assert "is the name of an RSS feed" in page.content.decode()
    assert page.context["form"].errors["source"]
    _feed_untouched(feed)


def test_the_admin_refuses_an_upload_into_a_feed(feed, admin_client) -> None:  # type: ignore[no-untyped-def]
    changelist = admin_client.get(reverse("admin:sentiment_source_changelist"))
    response = admin_client.post(
        reverse("admin:sentiment_source_upload", args=[feed.pk]),
        {"file": SimpleUploadedFile("news.csv", b"title,body\nAcme shares plunge,\n")},
    )

    upload_link = reverse("admin:sentiment_source_upload", args=[feed.pk])
    assert upload_link not in changelist.content.decode()
    assert response.status_code == 400
    assert "is the name of an RSS feed" in response.content.decode()
    _feed_untouched(feed)


def test_pushes_and_uploads_into_their_own_sources_still_work(feed, analyst_client) -> None:  # type: ignore[no-untyped-def]
    pushed = analyst_client.post(
        "/api/sentiment/ingest/",
        {"source": "Wire", "documents": [{"title": "Acme shares plunge"}]},
        content_type="application/json",
    )
    uploaded = analyst_client.post(
        "/api/sentiment/upload/",
        {"file": SimpleUploadedFile("news.csv", b"title,body\nKestrel wins,\n"), "source": "Wire"},
    )

    assert pushed.status_code == 201 and uploaded.status_code == 201
    assert Document.objects.filter(source__name="Wire").count() == 2


# -- 3. entity=0 -----------------------------------------------------------------------------------
def test_entity_zero_is_a_company_not_on_the_watchlist_not_no_filter(  # type: ignore[no-untyped-def]
    kestrel, analyst_client, scorer
):
    analyst_client.post(
        "/api/sentiment/ingest/",
        {"documents": [{"title": "Kestrel shares plunge"}, {"title": "Acme wins"}]},
        content_type="application/json",
    )

    everything = analyst_client.get("/api/sentiment/documents/").json()
    zero = analyst_client.get("/api/sentiment/documents/?entity=0")
    unknown = analyst_client.get("/api/sentiment/documents/?entity=999999")
    source_zero = analyst_client.get("/api/sentiment/documents/?source=0")

    assert everything["count"] == 2
    assert zero.status_code == unknown.status_code == source_zero.status_code == 200
    assert zero.json()["count"] == unknown.json()["count"] == source_zero.json()["count"] == 0

"""Sixth audit, as a demanding analyst: a rule value that broke every rule's alerts, a fixed feed
address that kept the old one's backoff, pushed times read in the site's time zone, text that
cannot be stored, corrections of sentences that are not in the text, and what pages and emails
say after the fact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.feeds import FetchResult, feed_parse
from apps.sentiment.models import (
    Aggregate,
    Alert,
    AlertRule,
    Document,
    Entity,
    LabelledSet,
    Score,
    Source,
)
from apps.sentiment.selectors import hour_floor
from apps.sentiment.uploads import DocumentRow


def _busy_company(name: str = "Kestrel Airlines", texts: int = 8) -> Entity:
    """A watchlist company with `texts` texts in the current hour."""
    entity = Entity.objects.create(name=name, ticker="KSTL")
    Aggregate.objects.create(
        subject_kind="entity",
        subject_key=str(entity.pk),
        bucket_start=hour_floor(timezone.now()),
        n=texts,
        n_negative=texts,
        score_sum=-0.8 * texts,
    )
    return entity


def _volume_rule(owner: Any, name: str, **fields: Any) -> AlertRule:
    values: dict[str, Any] = {
        "owner": owner,
        "name": name,
        "metric": "volume",
        "mode": "threshold",
        "threshold": 1,
        "min_volume": 1,
        "window_hours": 6,
        "delivery": "none",
        **fields,
    }
    return AlertRule.objects.create(**values)


# -- alert rules -----------------------------------------------------------------------------------
def test_a_cooldown_longer_than_a_year_is_refused_on_the_page_and_in_the_api(
    analyst_client,  # type: ignore[no-untyped-def]
) -> None:
    page = analyst_client.post(
        reverse("sentiment:rules"),
        {
            "name": "Quiet for ever",
            "metric": "negative_share",
            "mode": "spike",
            "sensitivity": 3,
            "window_hours": 6,
            "min_volume": 5,
            "cooldown_hours": 99_999_999,
            "delivery": "none",
            "active": "on",
        },
    )
    api = analyst_client.post(
        "/api/sentiment/rules/",
        {"name": "Quiet for ever", "cooldown_hours": 99_999_999},
        content_type="application/json",
    )

    assert page.status_code == 200 and "at most 8760 hours" in page.content.decode()
    assert api.status_code == 400 and "at most 8760 hours" in api.json()["cooldown_hours"][0]
    assert not AlertRule.objects.exists()


def test_one_rule_with_a_huge_cooldown_does_not_stop_every_other_rule_alerting(analyst) -> None:  # type: ignore[no-untyped-def]
    entity = _busy_company()
    # Stored before the limit existed (or by hand); checked first, since rules go by name.
    odd = _volume_rule(analyst, "Aardvark", cooldown_hours=99_999_999)
    earlier = Alert.objects.create(
        rule=odd,
        subject_kind="entity",
        subject_key=str(entity.pk),
        subject_label=str(entity),
        metric="volume",
        value=3,
        baseline=1,
        window_start=timezone.now() - timedelta(days=30),
        window_end=timezone.now() - timedelta(days=30) + timedelta(hours=6),
        reason="earlier",
        episode_open=False,
    )
    plain = _volume_rule(analyst, "Zebra", cooldown_hours=12)

    opened = services.alerts_evaluate()

    assert [Alert.objects.get(pk=pk).rule_id for pk in opened] == [plain.pk]
    # The odd rule's last alert is within its (capped, one year) cooldown: no new one.
    assert list(Alert.objects.filter(rule=odd)) == [earlier]


def test_the_admin_checks_a_rule_like_the_page(admin_client, analyst) -> None:  # type: ignore[no-untyped-def]
    form = {
        "owner": analyst.pk,
        "name": "Percent by mistake",
        "metric": "negative_share",
        "mode": "threshold",
        "sensitivity": 3,
        "threshold": 40,
        "window_hours": 6,
        "min_volume": 5,
        "cooldown_hours": 12,
        "delivery": "none",
        "active": "on",
    }

    refused = admin_client.post(reverse("admin:sentiment_alertrule_add"), form)
    saved = admin_client.post(reverse("admin:sentiment_alertrule_add"), {**form, "threshold": 0.4})

    assert refused.status_code == 200
    assert "a share above 0 and at most 1" in refused.content.decode()
    assert saved.status_code == 302
    assert list(AlertRule.objects.values_list("threshold", "owner_id")) == [(0.4, analyst.pk)]


def test_a_volume_alert_keeps_the_window_it_fired_in_after_the_rule_is_edited(analyst) -> None:  # type: ignore[no-untyped-def]
    _busy_company()
    rule = _volume_rule(analyst, "Busy", window_hours=6)
    [alert_id] = services.alerts_evaluate()
    AlertRule.objects.filter(pk=rule.pk).update(window_hours=24)

    alert = Alert.objects.select_related("rule").get(pk=alert_id)

    assert services.alert_move_text(alert).startswith("8 texts in 6h")


# -- feed sources ----------------------------------------------------------------------------------
def _failing_feed() -> Source:
    later = timezone.now() + timedelta(hours=20)
    return Source.objects.create(
        name="Wire",
        kind="rss",
        url="https://old.example.com/rss",
        etag='"old-etag"',
        last_modified="Mon, 09 Jun 2025 10:00:00 GMT",
        status="failing",
        consecutive_failures=6,
        last_error="https://old.example.com/rss answered HTTP 404 Not Found",
        last_polled_at=timezone.now(),
        next_poll_at=later,
    )


def test_a_failing_feed_given_a_new_address_in_the_api_is_polled_afresh(analyst_client) -> None:  # type: ignore[no-untyped-def]
    source = _failing_feed()
    sent: dict[str, str] = {}

    def fetch(url: str, *, etag: str = "", last_modified: str = "") -> FetchResult:
        sent.update(url=url, etag=etag, last_modified=last_modified)
        return FetchResult(True, b"", etag, last_modified, url)

    response = analyst_client.patch(
        f"/api/sentiment/sources/{source.pk}/",
        {"url": "https://new.example.com/feed.xml"},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "new" and body["next_poll_at"] is None
    assert body["consecutive_failures"] == 0 and body["last_error"] == ""
    # Due at the next beat, not in 20 hours; and the old feed's validators are not sent.
    assert source.pk in services.sources_due()
    services.source_poll(source_id=source.pk, fetch=fetch)
    assert sent == {"url": "https://new.example.com/feed.xml", "etag": "", "last_modified": ""}


def test_editing_a_feed_address_in_the_admin_clears_its_backoff(admin_client) -> None:  # type: ignore[no-untyped-def]
    source = _failing_feed()

    response = admin_client.post(
        reverse("admin:sentiment_source_change", args=[source.pk]),
        {
            "name": "Wire",
            "kind": "rss",
            "url": "https://new.example.com/feed.xml",
            "language": "",
            "poll_interval_s": 900,
        },
    )

    source.refresh_from_db()
    assert response.status_code == 302
    assert (source.url, source.status, source.next_poll_at) == (
        "https://new.example.com/feed.xml",
        "new",
        None,
    )
    assert (source.etag, source.last_modified, source.consecutive_failures) == ("", "", 0)


def test_a_shorter_poll_interval_brings_the_next_poll_forward(analyst_client) -> None:  # type: ignore[no-untyped-def]
    polled = timezone.now() - timedelta(minutes=10)
    source = Source.objects.create(
        name="Daily",
        kind="rss",
        url="https://daily.example.com/rss",
        status="ok",
        poll_interval_s=86_400,
        last_polled_at=polled,
        next_poll_at=polled + timedelta(days=1),
        etag='"keep"',
    )

    analyst_client.patch(
        f"/api/sentiment/sources/{source.pk}/",
        {"poll_interval_s": 300},
        content_type="application/json",
    )

    source.refresh_from_db()
    assert source.next_poll_at == polled + timedelta(seconds=300)
    assert source.pk in services.sources_due()
    assert (source.status, source.etag) == ("ok", '"keep"')  # same address: validators stay


# -- pushed times ----------------------------------------------------------------------------------
def test_a_naive_published_time_pushed_to_the_api_means_utc_whatever_the_time_zone(
    analyst_client,  # type: ignore[no-untyped-def]
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.TIME_ZONE = "America/New_York"
    row = {"title": "Kestrel Airlines cuts routes", "published_at": "2025-06-10T08:00:00"}
    upload = SimpleUploadedFile(
        "wire.jsonl", json.dumps({**row, "title": "Kestrel Airlines adds routes"}).encode()
    )

    pushed = analyst_client.post("/api/sentiment/ingest/", row, content_type="application/json")
    uploaded = analyst_client.post("/api/sentiment/upload/", {"file": upload})

    assert pushed.status_code == 201 and uploaded.status_code == 201
    times = {d.title: d.published_at for d in Document.objects.all()}
    assert times == {
        "Kestrel Airlines cuts routes": datetime(2025, 6, 10, 8, 0, tzinfo=UTC),
        "Kestrel Airlines adds routes": datetime(2025, 6, 10, 8, 0, tzinfo=UTC),
    }


def test_the_api_takes_a_unix_timestamp_like_an_upload_and_reports_a_bad_time(
    analyst_client,  # type: ignore[no-untyped-def]
) -> None:
    response = analyst_client.post(
        "/api/sentiment/ingest/",
        {
            "documents": [
                {"title": "Aion Intelligence beats estimates", "published_at": 1749542400},
                {"title": "Aion Intelligence misses", "published_at": "last Tuesday"},
            ]
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    [error] = response.json()["errors"]
    assert error["line"] == 2 and "is not an ISO 8601 date-time" in error["error"]
    doc = Document.objects.get()
    assert doc.published_at == datetime(2025, 6, 10, 8, 0, tzinfo=UTC)


# -- text that cannot be stored --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "nul_line"),
    [
        (
            "wire.jsonl",
            b'{"title": "Kestrel Airlines cuts routes"}\n'
            b'{"title": "Aion \\u0000 beats estimates"}\n'
            b'{"title": "Half \\udc00 a character"}\n',
            2,
        ),
        (
            "wire.csv",
            b"title,body\nKestrel Airlines cuts routes,\nAion \x00 beats estimates,\n"
            b"Half a character,fine\n",
            3,
        ),
    ],
)
def test_an_upload_with_unstorable_characters_reports_the_line_and_keeps_the_rest(
    analyst_client,  # type: ignore[no-untyped-def]
    name: str,
    content: bytes,
    nul_line: int,
) -> None:
    response = analyst_client.post(
        "/api/sentiment/upload/", {"file": SimpleUploadedFile(name, content)}
    )

    assert response.status_code == 201
    errors = {e["line"]: e["error"] for e in response.json()["errors"]}
    assert errors.pop(nul_line) == (
        "title contains a NUL character (at character 6), which cannot be stored"
    )
    if name.endswith(".jsonl"):
        assert errors == {
            3: "title contains an unpaired UTF-16 surrogate (at character 6), which cannot "
            "be stored"
        }
    else:
        assert errors == {}
    assert "\x00" not in "".join(Document.objects.values_list("title", flat=True))
    assert Document.objects.filter(title="Kestrel Airlines cuts routes").exists()


def test_a_feed_with_a_nul_character_reference_stores_its_items_without_it(db) -> None:  # type: ignore[no-untyped-def]
    content = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        b"<item><guid>a1</guid><title>Kestrel&#0; Airlines cuts routes</title>"
        b"<description>Capacity falls&amp;#0; by a tenth.</description></item>"
        b"</channel></rss>"
    )
    source = services.source_get_or_create(
        name="Wire", kind=Source.Kind.RSS, url="https://wire.example.com/rss"
    )

    _, items = feed_parse(content)
    result = services.source_poll(
        source_id=source.pk,
        fetch=lambda url, **_: FetchResult(False, content, "", "", url),
    )

    assert all("\x00" not in item.title + item.body for item in items)
    assert result.status == "ok" and result.created == 1
    assert "\x00" not in Document.objects.get().title


def test_the_ingest_service_reports_a_row_it_cannot_store(db) -> None:  # type: ignore[no-untyped-def]
    source = services.source_get_or_create(name="Direct", kind=Source.Kind.API)
    rows = [
        DocumentRow(1, "", "", "Kestrel Airlines cuts routes", "", None, "en"),
        DocumentRow(2, "", "", "Aion \x00 beats", "", None, "en"),
    ]

    result = services.documents_ingest(source_id=source.pk, rows=rows)

    assert result.created == 1
    [error] = result.errors
    assert error == {
        "line": 2,
        "error": "title contains a NUL character (at character 6), which cannot be stored",
    }


def test_a_training_file_with_a_nul_reports_the_line(analyst_client) -> None:  # type: ignore[no-untyped-def]
    content = b"sentence,label\nProfit rose sharply,positive\nSales \x00 fell,negative\n"

    response = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"file": SimpleUploadedFile("set.csv", content), "name": "Mine"},
    )

    assert response.status_code == 201
    assert response.json()["errors"] == [
        {
            "line": 3,
            "error": "the sentence contains a NUL character (at character 7), which cannot be "
            "stored",
        }
    ]
    assert LabelledSet.objects.get().row_count == 1


# -- corrections -----------------------------------------------------------------------------------
def _scored_document() -> Document:
    source = services.source_get_or_create(name="Wire", kind=Source.Kind.API)
    doc = Document.objects.create(
        source=source,
        title="Kestrel Airlines cuts routes",
        body="Capacity falls by a tenth. The chief executive stays upbeat.",
        published_at=timezone.now(),
        content_hash="x" * 64,
        status="scored",
    )
    Score.objects.create(
        document=doc,
        label="negative",
        positive=0.1,
        neutral=0.1,
        negative=0.8,
        value=-0.7,
        model_version="v1",
        sentences=[
            {"text": "Capacity falls by a tenth.", "label": "negative", "scores": {}},
            {"text": "The chief executive stays upbeat.", "label": "positive", "scores": {}},
        ],
    )
    return doc


def test_a_correction_of_a_sentence_that_is_not_in_the_text_is_refused(analyst_client) -> None:  # type: ignore[no-untyped-def]
    doc = _scored_document()
    url = f"/api/sentiment/documents/{doc.pk}/correct/"

    typo = analyst_client.post(
        url,
        {"label": "neutral", "sentence": "The chief exec stays upbeat."},
        content_type="application/json",
    )
    sentence = analyst_client.post(
        url, {"label": "neutral", "sentence": "The chief executive stays upbeat."}
    )
    headline = analyst_client.post(url, {"label": "negative", "sentence": "Kestrel Airlines cuts"})
    page = analyst_client.post(
        reverse("sentiment:document", args=[doc.pk]),
        {"label": "neutral", "sentence": "Somebody else's sentence."},
        follow=True,
    )

    assert typo.status_code == 400 and "not in this text" in typo.json()["sentence"]
    assert sentence.status_code == 201 and sentence.json()["predicted_label"] == "positive"
    assert headline.status_code == 201
    assert "Not saved: the sentence is not in this text" in page.content.decode()
    assert list(doc.corrections.order_by("pk").values_list("sentence", flat=True)) == [
        "The chief executive stays upbeat.",
        "Kestrel Airlines cuts",
    ]


# -- email links, documents API --------------------------------------------------------------------
def test_a_second_click_on_an_email_link_says_there_is_nothing_to_do(client, analyst) -> None:  # type: ignore[no-untyped-def]
    _busy_company()
    _volume_rule(analyst, "Busy")
    [alert_id] = services.alerts_evaluate()
    token = Alert.objects.get(pk=alert_id).action_token
    ack = f"/sentiment/alerts/{alert_id}/email/acknowledge/{token}/"
    resolve = f"/sentiment/alerts/{alert_id}/email/resolve/{token}/"

    first = client.post(ack).content.decode()
    second = client.post(ack).content.decode()
    client.post(resolve)
    late = client.post(ack).content.decode()

    assert "Alert is now <b>acknowledged</b>" in first
    assert "already acknowledged; there is nothing to acknowledge" in second
    assert "already resolved; there is nothing to acknowledge" in late
    assert Alert.objects.get(pk=alert_id).status == "resolved"


def test_documents_with_an_unknown_topic_are_a_400_not_an_empty_list(analyst_client) -> None:  # type: ignore[no-untyped-def]
    _scored_document()

    typo = analyst_client.get("/api/sentiment/documents/?topic=earning")
    known = analyst_client.get("/api/sentiment/documents/?topic=earnings")

    assert typo.status_code == 400 and "unknown topic 'earning'" in typo.json()["topic"]
    assert known.status_code == 200


def test_a_semicolon_training_csv_from_excel_is_read(analyst_client) -> None:  # type: ignore[no-untyped-def]
    content = "sentence;label\nProfit rose, beating forecasts;positive\nSales fell;negative\n"

    response = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"file": SimpleUploadedFile("set.csv", content.encode("cp1252")), "name": "Excel"},
    )

    assert response.status_code == 201, response.json()
    assert response.json()["stored"] == 2 and response.json()["errors"] == []
    rows = LabelledSet.objects.get().rows.order_by("line").values_list("sentence", "label")
    assert list(rows) == [
        ("Profit rose, beating forecasts", "positive"),
        ("Sales fell", "negative"),
    ]


def test_a_paused_rule_switched_back_on_alerts_again_when_its_condition_holds(analyst) -> None:  # type: ignore[no-untyped-def]
    _busy_company()
    rule = _volume_rule(analyst, "Busy", cooldown_hours=0)
    [first] = services.alerts_evaluate()

    AlertRule.objects.filter(pk=rule.pk).update(active=False)
    services.alerts_evaluate()  # paused: its episode ends
    AlertRule.objects.filter(pk=rule.pk).update(active=True)
    again = services.alerts_evaluate()

    assert not Alert.objects.get(pk=first).episode_open
    assert len(again) == 1 and again != [first]


@pytest.mark.parametrize("offset", ["+22:06", "-20:11"])
def test_a_time_filter_with_an_offset_postgresql_cannot_hold_is_read_in_utc(analyst_client, offset):
    from datetime import UTC

    from apps.sentiment.api import _moment

    response = analyst_client.get(
        "/api/sentiment/documents/", {"published_after": f"2025-03-26T02:50:57{offset}"}
    )
    moment = _moment({"published_after": f"2025-03-26T02:50:57{offset}"}, "published_after")

    assert response.status_code == 200
    assert moment is not None and moment.tzinfo is UTC


def test_a_time_filter_past_year_9999_in_utc_is_a_400(analyst_client):
    response = analyst_client.get(
        "/api/sentiment/documents/", {"published_before": "9999-12-31T23:00:00-05:00"}
    )

    assert response.status_code == 400
    assert "out of range" in str(response.json())

"""Ingestion, scoring, aggregates, alert episodes, email, email links, polling, corrections."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.feeds import FeedError, FetchResult
from apps.sentiment.models import (
    Aggregate,
    Alert,
    AlertRule,
    Correction,
    Document,
    DocumentEntity,
    Source,
    Unsubscribe,
)
from apps.sentiment.services import scoring
from apps.sentiment.uploads import DocumentRow
from tests.sentiment.factories import AlertRuleFactory

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


def row(i: int, title: str, when=None, url: str = "", external_id: str = "") -> DocumentRow:  # type: ignore[no-untyped-def]
    return DocumentRow(i, external_id, url, title, "", when or NOW, "en")


def ingest_and_score(source: Source, rows: list[DocumentRow]) -> list[int]:
    result = services.documents_ingest(source_id=source.pk, rows=rows, now=NOW)
    return services.documents_score(document_ids=result.created_ids)


def test_reingesting_the_same_item_changes_nothing(source: Source) -> None:
    first = services.documents_ingest(
        source_id=source.pk,
        rows=[row(1, "Acme beats estimates", url="https://x.example/1", external_id="a1")],
        now=NOW,
    )

    again = services.documents_ingest(
        source_id=source.pk,
        rows=[
            row(1, "Acme beats estimates (updated)", external_id="a1"),
            row(2, "Something else", url="https://x.example/1"),
            row(3, "  ACME beats   estimates "),
        ],
        now=NOW,
    )

    assert first.created == 1
    assert again.created == 0 and again.duplicates == 3
    assert Document.objects.count() == 1


def test_scoring_tags_entities_topics_and_updates_hourly_aggregates(source, kestrel, scorer):  # type: ignore[no-untyped-def]
    scored = ingest_and_score(
        source,
        [
            row(1, "Kestrel shares plunge after profit warning"),
            row(2, "Kestrel Airlines opens a new route to Oslo"),
            row(3, "Fed holds interest rate steady"),
        ],
    )

    assert len(scored) == 3
    doc = Document.objects.get(title__startswith="Kestrel shares")
    assert doc.status == Document.Status.SCORED
    assert doc.score.label == "negative" and doc.score.negative > 0.8
    assert doc.score.model_version == "test"
    assert list(doc.entities.values_list("name", flat=True)) == ["Kestrel Airlines"]
    bucket = Aggregate.objects.get(subject_kind="entity", subject_key=str(kestrel.pk))
    assert (bucket.n, bucket.n_negative, bucket.n_neutral) == (2, 1, 1)
    assert bucket.negative_share == 0.5
    assert Aggregate.objects.get(subject_kind="all").n == 3
    assert Aggregate.objects.filter(subject_kind="topic", subject_key="macro").exists()


def test_scoring_twice_scores_nothing_twice(source, scorer):  # type: ignore[no-untyped-def]
    result = services.documents_ingest(source_id=source.pk, rows=[row(1, "Acme jumps")], now=NOW)

    services.documents_score(document_ids=result.created_ids)
    again = services.documents_score(document_ids=result.created_ids)

    assert again == []
    assert Aggregate.objects.get(subject_kind="all").n == 1


def test_long_texts_are_scored_per_sentence_and_combined(source, scorer):  # type: ignore[no-untyped-def]
    body = (
        "The company held its annual meeting in Espoo on Tuesday. The board has seven "
        "members. Shareholders approved the agenda. Separately, regulators opened a probe "
        "into its accounts, and its auditor resigned. The next report is due in May."
    )
    result = services.documents_ingest(
        source_id=source.pk,
        rows=[DocumentRow(1, "", "", "Acme annual meeting", body, NOW, "en")],
        now=NOW,
    )

    services.documents_score(document_ids=result.created_ids)

    score = Document.objects.get().score
    assert len(score.sentences) == 6  # headline + 5 sentences
    assert [s["label"] for s in score.sentences].count("negative") == 1
    # One strongly negative sentence among neutral filler still moves the document.
    assert score.negative > 0.25


def test_failed_scoring_puts_documents_back_in_the_queue(source, monkeypatch):  # type: ignore[no-untyped-def]
    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("model missing")

    monkeypatch.setattr(scoring, "scorer_get", broken)
    result = services.documents_ingest(source_id=source.pk, rows=[row(1, "Acme")], now=NOW)

    with pytest.raises(RuntimeError):
        services.documents_score(document_ids=result.created_ids)

    assert Document.objects.get().status == Document.Status.PENDING


def test_a_failure_while_storing_scores_rolls_back_and_requeues(source, scorer, monkeypatch):  # type: ignore[no-untyped-def]
    # e.g. PostgreSQL aborting the transaction (deadlock, lost connection) after inference
    def aborted(**_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("deadlock detected")

    original = scoring.aggregates_add
    monkeypatch.setattr(scoring, "aggregates_add", aborted)
    result = services.documents_ingest(source_id=source.pk, rows=[row(1, "Acme jumps")], now=NOW)

    with pytest.raises(RuntimeError):
        services.documents_score(document_ids=result.created_ids)
    monkeypatch.setattr(scoring, "aggregates_add", original)
    rescored = services.documents_score(document_ids=result.created_ids)

    assert rescored == result.created_ids  # the retry finds them pending and scores them
    assert Aggregate.objects.get(subject_kind="all").n == 1  # counted once, not twice


def test_a_batch_spanning_hours_counts_each_hour_once_per_document(source, kestrel, scorer):  # type: ignore[no-untyped-def]
    earlier = NOW - timedelta(hours=3)
    ingest_and_score(
        source,
        [
            row(1, "Kestrel shares plunge after profit warning", when=earlier),
            row(2, "Kestrel Airlines opens a new route to Oslo", when=NOW),
            row(3, "Kestrel cuts guidance again", when=earlier),
        ],
    )

    buckets = Aggregate.objects.filter(subject_kind="entity", subject_key=str(kestrel.pk))
    by_hour = {b.bucket_start: (b.n, b.n_negative) for b in buckets}
    assert by_hour[earlier.replace(minute=0)] == (2, 2)
    assert by_hour[NOW.replace(minute=0)][0] == 1
    assert Aggregate.objects.filter(subject_kind="all").count() == 2


def build_history(
    source: Source,
    *,
    windows: int = 20,
    per_window: int = 10,
    negatives: int = 1,
    start_index: int = 0,
) -> None:
    rows = []
    for w in range(windows, 0, -1):
        for k in range(per_window):
            when = NOW - timedelta(hours=6 * w + 1) + timedelta(minutes=5 * k)
            title = "Kestrel shares plunge" if k < negatives else "Kestrel route update"
            rows.append(row(start_index + w * 100 + k, f"{title} #{w}-{k}", when))
    ingest_and_score(source, rows)


def spike(
    source: Source, n: int = 10, negatives: int = 8, offset_min: int = 0, tag: str = ""
) -> None:
    rows = [
        row(
            90000 + offset_min * 100 + k,
            f"{'Kestrel fleet grounded, shares plunge' if k < negatives else 'Kestrel update'}"
            f" {tag}{offset_min}-{k}",
            NOW - timedelta(minutes=offset_min + 5 * k),
        )
        for k in range(n)
    ]
    ingest_and_score(source, rows)


@pytest.fixture
def rule(analyst, kestrel):  # type: ignore[no-untyped-def]
    r = AlertRuleFactory(
        owner=analyst,
        name="Kestrel negatives",
        window_hours=6,
        sensitivity=3.0,
        min_volume=5,
        cooldown_hours=12,
    )
    r.entities.set([kestrel])
    return r


def test_a_spike_opens_one_alert_with_the_documents_that_drove_it(source, rule, scorer):  # type: ignore[no-untyped-def]
    build_history(source)
    spike(source)

    created = services.alerts_evaluate(now=NOW)

    assert len(created) == 1
    alert = Alert.objects.get()
    assert alert.subject_label == "Kestrel Airlines (KSTL)"
    assert alert.value == pytest.approx(0.8)
    assert alert.baseline == pytest.approx(0.1, abs=0.02)
    assert alert.z_score > 3
    assert alert.documents.count() == 5
    assert all("plunge" in d.title for d in alert.documents.all())


def test_quiet_history_and_low_volume_open_nothing(source, rule, scorer):  # type: ignore[no-untyped-def]
    build_history(source)
    spike(source, n=3, negatives=3)  # all negative, but only 3 texts

    assert services.alerts_evaluate(now=NOW) == []


def spike_at(source: Source, at, tag: str) -> None:  # type: ignore[no-untyped-def]
    """Ten texts (eight negative) in the 45 minutes before `at`, ingested as of `at`."""
    rows = [
        row(
            95000 + k,
            f"{'Kestrel fleet grounded, shares plunge' if k < 8 else 'Kestrel update'} {tag}-{k}",
            at - timedelta(minutes=5 * k),
        )
        for k in range(10)
    ]
    result = services.documents_ingest(source_id=source.pk, rows=rows, now=at)
    services.documents_score(document_ids=result.created_ids)


def first_episode_then_clear(source: Source, rule: AlertRule) -> Alert:
    # A fixed threshold: a spike right after another would not pass a z-score test, as the
    # first spike lifts the baseline; the cooldown should be the only thing that holds back.
    rule.mode, rule.threshold = AlertRule.Mode.THRESHOLD, 0.5
    rule.save(update_fields=["mode", "threshold"])
    build_history(source)
    spike(source)
    assert len(services.alerts_evaluate(now=NOW)) == 1
    # Still spiking a bit later: same episode, no second alert.
    assert services.alerts_evaluate(now=NOW + timedelta(minutes=20)) == []
    # The spike's window has passed and the next one is empty: the episode ends.
    assert services.alerts_evaluate(now=NOW + timedelta(hours=7)) == []
    first = Alert.objects.get()
    assert not first.episode_open
    return first


def test_a_new_spike_inside_the_cooldown_stays_quiet_because_of_the_cooldown(source, rule, scorer):  # type: ignore[no-untyped-def]
    first_episode_then_clear(source, rule)
    later = NOW + timedelta(hours=9)  # 9 h after the first alert; the cooldown is 12 h
    spike_at(source, later, tag="b")

    quiet = services.alerts_evaluate(now=later)
    rule.cooldown_hours = 0
    rule.save(update_fields=["cooldown_hours"])
    without_cooldown = services.alerts_evaluate(now=later)

    assert quiet == []
    # The same data with no cooldown fires: only the cooldown held the first evaluation back.
    assert len(without_cooldown) == 1
    second = Alert.objects.get(pk=without_cooldown[0])
    assert second.volume == 10 and second.value == pytest.approx(0.8)


def test_once_the_cooldown_has_passed_a_new_spike_opens_a_new_alert(source, rule, scorer):  # type: ignore[no-untyped-def]
    first = first_episode_then_clear(source, rule)
    later = NOW + timedelta(hours=13)  # the 12 h cooldown has passed
    spike_at(source, later, tag="c")

    created = services.alerts_evaluate(now=later)

    assert len(created) == 1 and created[0] != first.pk
    second = Alert.objects.get(pk=created[0])
    assert second.episode_open and second.window_end > first.window_end
    assert Alert.objects.count() == 2


def test_alert_email_has_text_html_chart_links_and_is_sent_once(source, rule, scorer, settings):  # type: ignore[no-untyped-def]
    settings.SITE_URL = "https://textsuite.example.com"
    build_history(source)
    spike(source)
    alert = Alert.objects.get(pk=services.alerts_evaluate(now=NOW)[0])

    assert services.alert_send(alert_id=alert.pk) == "sent"
    assert services.alert_send(alert_id=alert.pk) == "already sent"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert "Kestrel Airlines" in message.subject and "80%" in message.subject
    html = message.alternatives[0][0]
    assert 'src="cid:trend"' in html
    assert "https://textsuite.example.com/sentiment/?subject=entity:" in html
    assert "/unsubscribe/" in message.body and "plunge" in message.body
    image = next(a for a in message.attachments if getattr(a, "get_content_type", None))
    assert image.get_content_type() == "image/png"
    assert image.get_payload(decode=True).startswith(b"\x89PNG")


def test_failed_send_is_retried_later_not_lost(source, rule, scorer, monkeypatch):  # type: ignore[no-untyped-def]
    build_history(source)
    spike(source)
    alert_id = services.alerts_evaluate(now=NOW)[0]
    monkeypatch.setattr(
        "django.core.mail.EmailMultiAlternatives.send",
        lambda self, fail_silently=False: (_ for _ in ()).throw(OSError("down")),
    )

    with pytest.raises(OSError):
        services.alert_send(alert_id=alert_id)

    alert = Alert.objects.get(pk=alert_id)
    assert alert.sent_at is None and "down" in alert.send_error


def test_email_links_acknowledge_and_resolve_after_confirmation(source, rule, scorer, client):  # type: ignore[no-untyped-def]
    build_history(source)
    spike(source)
    alert = Alert.objects.get(pk=services.alerts_evaluate(now=NOW)[0])
    url = f"/sentiment/alerts/{alert.pk}/email/acknowledge/{alert.action_token}/"

    page = client.get(url)
    alert.refresh_from_db()
    assert page.status_code == 200 and alert.status == "open"  # GET only asks

    client.post(url)
    client.post(f"/sentiment/alerts/{alert.pk}/email/resolve/{alert.action_token}/")
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.acknowledged_at is not None
    assert client.post(f"/sentiment/alerts/{alert.pk}/email/resolve/wrong/").status_code == 404


def test_unsubscribe_link_stops_emails_for_that_rule(source, rule, scorer, client):  # type: ignore[no-untyped-def]
    token = services.unsubscribe_token(user_id=rule.owner_id, rule_id=rule.pk)
    assert client.post(f"/sentiment/unsubscribe/{token}/").status_code == 200
    assert client.get("/sentiment/unsubscribe/forged/").status_code == 400
    build_history(source)
    spike(source)
    alert_id = services.alerts_evaluate(now=NOW)[0]

    assert services.alert_send(alert_id=alert_id) == "skipped"
    assert mail.outbox == []
    assert Unsubscribe.objects.filter(rule=rule).count() == 1


def test_digest_rules_get_one_daily_email(source, rule, scorer):  # type: ignore[no-untyped-def]
    rule.delivery = AlertRule.Delivery.DIGEST
    rule.save(update_fields=["delivery"])
    build_history(source)
    spike(source)
    services.alerts_evaluate(now=NOW)

    assert services.alerts_digest_send(now=NOW) == 1
    assert services.alerts_digest_send(now=NOW) == 0
    assert len(mail.outbox) == 1 and "digest" in mail.outbox[0].subject


def test_polling_stores_items_and_backs_off_on_failure(source):  # type: ignore[no-untyped-def]
    feed = services.source_get_or_create(
        name="Feed", kind=Source.Kind.RSS, url="https://feeds.example/rss", poll_interval_s=600
    )
    content = (DATA / "reuters_like.rss").read_bytes()

    ok = services.source_poll(
        source_id=feed.pk, now=NOW, fetch=lambda url, **kw: FetchResult(False, content, '"e"', "")
    )
    feed.refresh_from_db()
    assert ok.created == 3 and feed.status == "ok" and feed.etag == '"e"'

    def failing(url, **kw):  # type: ignore[no-untyped-def]
        raise FeedError("feeds.example answered HTTP 503")

    services.source_poll(source_id=feed.pk, now=NOW, fetch=failing)
    services.source_poll(source_id=feed.pk, now=NOW, fetch=failing)
    feed.refresh_from_db()
    assert feed.status == "failing" and feed.consecutive_failures == 2
    assert "HTTP 503" in feed.last_error
    assert feed.next_poll_at == NOW + timedelta(seconds=600 * 4)
    assert feed.pk not in services.sources_due(now=NOW + timedelta(minutes=30))
    assert feed.pk in services.sources_due(now=NOW + timedelta(hours=1))


def test_corrections_record_prediction_and_join_training_rows(source, scorer, analyst):  # type: ignore[no-untyped-def]
    result = services.documents_ingest(source_id=source.pk, rows=[row(1, "Acme jumps")], now=NOW)
    services.documents_score(document_ids=result.created_ids)

    services.correction_create(document_id=result.created_ids[0], label="neutral", user=analyst)

    from apps.sentiment.training_data import corrections_latest

    correction = Correction.objects.get()
    assert correction.predicted_label == "positive" and correction.label == "neutral"
    assert [(r.sentence, r.label) for r in corrections_latest()[0]] == [("Acme jumps", "neutral")]
    with pytest.raises(ValueError):
        services.correction_create(document_id=result.created_ids[0], label="bullish")


def test_scoring_tags_the_longer_company_only(source, scorer) -> None:  # type: ignore[no-untyped-def]
    acme = services.entity_upsert(name="Acme", ticker="ACME")
    bank = services.entity_upsert(name="Acme Bank", ticker="ACMB")
    result = services.documents_ingest(
        source_id=source.pk,
        rows=[DocumentRow(1, "", "", "Acme Bank shares plunge", "", NOW, "en")],
        now=NOW,
    )

    services.documents_score(document_ids=result.created_ids)

    assert list(DocumentEntity.objects.values_list("entity_id", flat=True)) == [bank.pk]
    assert not Aggregate.objects.filter(subject_kind="entity", subject_key=str(acme.pk)).exists()

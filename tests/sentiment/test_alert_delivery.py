"""Alert email delivery (claims, retries, skips, the sweep of emails whose retries ran out), the
daily digest's content and catch-up, times and the chart of the watched metric, and who may see
and handle an alert."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.sentiment import schedules, selectors, services, tasks
from apps.sentiment.models import Alert, AlertRule, EmailDelivery, Entity, Source
from tests.sentiment.factories import AlertFactory, AlertRuleFactory, UnsubscribeFactory
from tests.sentiment.test_services import NOW, build_history, spike

SITE = "https://textsuite.example.com"


def _rule(owner: Any, kestrel: Entity, **fields: Any) -> AlertRule:
    rule = AlertRuleFactory(
        owner=owner, name="Kestrel negatives", window_hours=6, min_volume=5, **fields
    )
    rule.entities.set([kestrel])
    return rule


def _spike_alert(source: Source, rule: AlertRule) -> Alert:
    build_history(source)
    spike(source)
    [alert_id] = services.alerts_evaluate(now=NOW, rule_ids=[rule.pk])
    return Alert.objects.select_related("rule").get(pk=alert_id)


def _plain_alert(rule: AlertRule, key: str = "1", **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "subject_kind": "entity",
        "subject_key": key,
        "subject_label": f"Company {key}",
        "metric": rule.metric,
        "value": 12,
        "baseline": 3,
        "window_start": NOW - timedelta(hours=6),
        "window_end": NOW,
        "reason": f"{key}: 12 texts in 6 h, usually 3",
    }
    values.update(fields)
    return AlertFactory(rule=rule, **values)


def _failing_send(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(self: Any, fail_silently: bool = False) -> int:
        raise OSError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", down)


# -- one alert's email: claim, send, retry -----------------------------------------------------
@pytest.mark.django_db
def test_an_smtp_failure_then_the_retry_sends_exactly_once(analyst, kestrel, monkeypatch):  # type: ignore[no-untyped-def]
    alert = _plain_alert(_rule(analyst, kestrel, metric="volume"))
    with monkeypatch.context() as patch:
        _failing_send(patch)
        with pytest.raises(OSError):
            services.alert_send(alert_id=alert.pk)
    failed = Alert.objects.get(pk=alert.pk)

    retried = services.alert_send(alert_id=alert.pk)
    again = services.alert_send(alert_id=alert.pk)

    assert failed.sent_at is None and failed.send_claimed_at is None
    assert "smtp down" in failed.send_error
    assert (retried, again) == ("sent", "already sent")
    assert len(mail.outbox) == 1
    sent = Alert.objects.get(pk=alert.pk)
    assert sent.sent_at is not None and sent.send_error == "" and sent.send_attempts == 2


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_worker_is_taken_over(analyst, kestrel):  # type: ignore[no-untyped-def]
    alert = _plain_alert(_rule(analyst, kestrel, metric="volume"))
    stale = timezone.now() - timedelta(seconds=services.SEND_CLAIM_S + 60)
    Alert.objects.filter(pk=alert.pk).update(send_claimed_at=stale, send_attempts=1)

    result = services.alert_send(alert_id=alert.pk)

    assert result == "sent" and len(mail.outbox) == 1
    assert Alert.objects.get(pk=alert.pk).sent_at is not None


@pytest.mark.django_db
def test_a_fresh_claim_holds_off_a_second_worker_which_retries_later(analyst, kestrel):  # type: ignore[no-untyped-def]
    alert = _plain_alert(_rule(analyst, kestrel, metric="volume"))
    Alert.objects.filter(pk=alert.pk).update(send_claimed_at=timezone.now() - timedelta(minutes=1))

    result = services.alert_send(alert_id=alert.pk)
    with pytest.raises(Retry):
        tasks.alert_send_task(alert.pk)

    assert result == "busy"
    assert mail.outbox == []
    assert Alert.objects.get(pk=alert.pk).sent_at is None  # not marked sent: still to be sent


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_email(analyst, kestrel, monkeypatch):  # type: ignore[no-untyped-def]
    alert = _plain_alert(_rule(analyst, kestrel, metric="volume"))
    original = EmailMultiAlternatives.send

    def slow_send(self: Any, fail_silently: bool = False) -> int:
        time.sleep(0.5)  # the second worker arrives while the first is talking to the server
        return original(self, fail_silently=fail_silently)

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", slow_send)
    results: list[str] = []

    def worker() -> None:
        try:
            results.append(services.alert_send(alert_id=alert.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == ["busy", "sent"]
    assert len(mail.outbox) == 1


class WorkerKilled(BaseException):
    """The worker process dying (SIGKILL, out of memory): no `except Exception` handler runs."""


def _killed_after_the_server_took_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SMTP server accepts the message (the locmem backend records it), then the worker dies
    # before it can write down that the mail went out.
    original = EmailMultiAlternatives.send

    def accept_then_die(self: Any, fail_silently: bool = False) -> int:
        original(self, fail_silently=fail_silently)
        raise WorkerKilled

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", accept_then_die)


def _later(seconds: float) -> Any:
    return timezone.now() - timedelta(seconds=seconds)


@pytest.mark.django_db
def test_an_alert_mail_the_server_took_before_its_worker_died_is_not_mailed_again(  # type: ignore[no-untyped-def]
    analyst, kestrel, monkeypatch, settings, caplog
):
    settings.SITE_URL = SITE
    alert = _plain_alert(_rule(analyst, kestrel, metric="volume"))
    with monkeypatch.context() as patch:
        _killed_after_the_server_took_it(patch)
        with pytest.raises(WorkerKilled):
            services.alert_send(alert_id=alert.pk)
    # Past SEND_CLAIM_S the dead worker's claim is stale: the task's retry and the sweep both run.
    stale = _later(services.SEND_CLAIM_S + 60)
    Alert.objects.filter(pk=alert.pk).update(send_claimed_at=stale, created_at=stale)

    retried = services.alert_send(alert_id=alert.pk)
    swept = services.alerts_send_pending()
    again = services.alert_send(alert_id=alert.pk)

    assert (retried, swept, again) == ("unconfirmed", 0, "already sent")
    [message] = mail.outbox
    message_id = f"<textsuite.alert.{alert.pk}.u{analyst.pk}@textsuite.example.com>"
    assert message.message()["Message-ID"] == message_id
    alert.refresh_from_db()
    assert alert.sent_at is not None and alert.send_claimed_at is None
    assert alert.send_error.startswith("probably sent") and message_id in alert.send_error
    delivery = EmailDelivery.objects.get(alerts=alert)
    assert (delivery.outcome, delivery.message_id, delivery.attempts) == (
        "unconfirmed",
        message_id,
        1,
    )
    assert "not sent again" in caplog.text


@pytest.mark.django_db
def test_a_refused_alert_mail_is_sent_again_under_the_same_message_id(  # type: ignore[no-untyped-def]
    analyst, kestrel, monkeypatch
):
    alert = _plain_alert(_rule(analyst, kestrel, metric="volume"))
    tried: list[str] = []

    def refused(self: Any, fail_silently: bool = False) -> int:
        tried.append(self.message()["Message-ID"])
        raise OSError("552 mailbox full")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMultiAlternatives.send", refused)
        with pytest.raises(OSError):
            services.alert_send(alert_id=alert.pk)
    refused_state = EmailDelivery.objects.get(alerts=alert)

    assert services.alert_send(alert_id=alert.pk) == "sent"

    assert refused_state.handed_at is None and "mailbox full" in refused_state.error
    [message] = mail.outbox
    assert [message.message()["Message-ID"]] == tried
    sent = EmailDelivery.objects.get(alerts=alert)
    assert (sent.outcome, sent.attempts, sent.error) == ("sent", 2, "")


@pytest.mark.django_db
def test_a_digest_the_server_took_before_its_worker_died_is_not_mailed_again(  # type: ignore[no-untyped-def]
    analyst, kestrel, monkeypatch, settings
):
    settings.SITE_URL = SITE
    rule = _rule(analyst, kestrel, metric="volume", delivery=AlertRule.Delivery.DIGEST)
    first = _plain_alert(rule, "1")
    with monkeypatch.context() as patch:
        _killed_after_the_server_took_it(patch)
        with pytest.raises(WorkerKilled):
            services.alerts_digest_send()
    Alert.objects.filter(pk=first.pk).update(digest_claimed_at=_later(services.SEND_CLAIM_S + 60))
    newer = _plain_alert(rule, "2")  # fired meanwhile: it still gets its digest

    sent = services.alerts_digest_send()
    again = services.alerts_digest_send()

    assert (sent, again) == (1, 0)
    crashed, retried = mail.outbox
    assert "Company 1" in crashed.body and "Company 1" not in retried.body
    assert "Company 2" in retried.body
    ids = [m.message()["Message-ID"] for m in mail.outbox]
    assert ids[0] != ids[1] and all(i.endswith("@textsuite.example.com>") for i in ids)
    first.refresh_from_db()
    newer.refresh_from_db()
    assert first.digest_sent_at is not None and first.send_error.startswith("probably sent")
    assert newer.digest_sent_at is not None and newer.send_error == ""
    outcomes = dict(EmailDelivery.objects.values_list("message_id", "outcome"))
    assert outcomes == {ids[0]: "unconfirmed", ids[1]: "sent"}


@pytest.mark.django_db
def test_skipped_sends_are_recorded_as_skipped_not_as_sent(analyst, kestrel, analyst_client):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, kestrel, metric="volume")
    unsubscribed = _plain_alert(rule, "1")
    UnsubscribeFactory(user=analyst, rule=rule)
    first = services.alert_send(alert_id=unsubscribed.pk)
    again = services.alert_send(alert_id=unsubscribed.pk)
    nobody = user_create(username="noaddr", password="pw-noaddr-1", roles=[Role.ANALYST.value])
    no_address = _plain_alert(_rule(nobody, kestrel, metric="volume"), "2")

    result = services.alert_send(alert_id=no_address.pk)
    page = analyst_client.get(f"/sentiment/alerts/{unsubscribed.pk}/")

    assert (first, again, result) == ("skipped", "skipped", "skipped")
    assert mail.outbox == []
    unsubscribed.refresh_from_db()
    no_address.refresh_from_db()
    assert unsubscribed.sent_at is None and unsubscribed.send_skipped == "unsubscribed"
    assert no_address.sent_at is None and no_address.send_skipped == "no_address"
    assert "not emailed: the rule&#x27;s owner unsubscribed" in page.content.decode()


# -- the daily digest ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_digest_names_each_alert_with_chart_headlines_and_working_links(  # type: ignore[no-untyped-def]
    analyst, kestrel, source, scorer, settings, client
):
    settings.SITE_URL = SITE
    rule = _rule(analyst, kestrel, delivery=AlertRule.Delivery.DIGEST)
    spiked = _spike_alert(source, rule)
    drop_rule = _rule(analyst, kestrel, metric=AlertRule.Metric.MEAN_SCORE_DROP, delivery="digest")
    dropped = _plain_alert(
        drop_rule, "77", subject_label="Osprey Freight", value=-0.4, baseline=0.1
    )

    assert services.alerts_digest_send(now=NOW) == 1
    assert services.alerts_digest_send(now=NOW) == 0

    [message] = mail.outbox
    assert message.subject.startswith("[Textsuite] Daily digest: 2 alerts")
    assert "Kestrel Airlines (KSTL) +70 pts negative" in message.subject
    assert "Osprey Freight -0.50 sentiment" in message.subject
    text, html = message.body, message.alternatives[0][0]
    ack_path = f"/sentiment/alerts/{spiked.pk}/email/acknowledge/{spiked.action_token}/"
    resolve_path = f"/sentiment/alerts/{dropped.pk}/email/resolve/{dropped.action_token}/"
    for part in (text, html):
        assert "negative news at 80% (usual 10%, +70 pts)" in part
        assert "mean sentiment -0.40 (usual +0.10, -0.50)" in part
        assert "Kestrel fleet grounded, shares plunge" in part  # a driving headline ...
        assert f"{SITE}/sentiment/documents/" in part  # ... with its link
        assert SITE + ack_path in part and SITE + resolve_path in part
        assert f"{SITE}/sentiment/" in part and f"{SITE}/sentiment/unsubscribe/" in part
    assert f'src="cid:trend-{spiked.pk}"' in html and f'src="cid:trend-{dropped.pk}"' in html
    charts = {a["Content-ID"]: a for a in message.attachments if hasattr(a, "get_content_type")}
    assert set(charts) == {f"<trend-{spiked.pk}>", f"<trend-{dropped.pk}>"}
    assert charts[f"<trend-{spiked.pk}>"].get_payload(decode=True).startswith(b"\x89PNG")
    assert message.extra_headers["List-Unsubscribe"].startswith(f"<{SITE}/sentiment/unsubscribe/")

    client.post(ack_path)  # following the email's link (and confirming) acknowledges
    client.post(resolve_path)
    assert Alert.objects.get(pk=spiked.pk).status == "acknowledged"
    assert Alert.objects.get(pk=dropped.pk).status == "resolved"


@pytest.mark.django_db
def test_a_failed_digest_is_sent_once_by_the_retry_and_a_dead_workers_claim_expires(  # type: ignore[no-untyped-def]
    analyst, kestrel, monkeypatch
):
    rule = _rule(analyst, kestrel, metric="volume", delivery=AlertRule.Delivery.DIGEST)
    alert = _plain_alert(rule)
    with monkeypatch.context() as patch:
        _failing_send(patch)
        with pytest.raises(OSError):
            services.alerts_digest_send()
    failed = Alert.objects.get(pk=alert.pk)
    # A worker that claims and dies: the claim blocks others until it is stale.
    Alert.objects.filter(pk=alert.pk).update(digest_claimed_at=timezone.now())
    while_fresh = services.alerts_digest_send()
    Alert.objects.filter(pk=alert.pk).update(
        digest_claimed_at=timezone.now() - timedelta(seconds=services.SEND_CLAIM_S + 60)
    )

    after_stale = services.alerts_digest_send()
    again = services.alerts_digest_send()

    assert failed.digest_sent_at is None and failed.digest_claimed_at is None
    assert (while_fresh, after_stale, again) == (0, 1, 0)
    assert len(mail.outbox) == 1
    assert Alert.objects.get(pk=alert.pk).digest_sent_at is not None


@pytest.mark.django_db
def test_an_unsubscribed_owners_digest_alerts_are_recorded_as_skipped(analyst, kestrel):  # type: ignore[no-untyped-def]
    alert = _plain_alert(_rule(analyst, kestrel, metric="volume", delivery="digest"))
    UnsubscribeFactory(user=analyst, rule=None)

    assert services.alerts_digest_send() == 0

    alert.refresh_from_db()
    assert mail.outbox == []
    assert alert.digest_sent_at is None and alert.send_skipped == "unsubscribed"


# -- the chart and trend show the metric the rule watches ----------------------------------------
@pytest.mark.django_db
def test_a_mean_score_drop_email_charts_the_mean_score_not_the_negative_share(  # type: ignore[no-untyped-def]
    analyst, kestrel, source, scorer
):
    alert = _spike_alert(source, _rule(analyst, kestrel, metric="mean_score_drop"))

    assert services.alert_send(alert_id=alert.pk) == "sent"

    [message] = mail.outbox
    assert "Trend (mean sentiment, -1 to +1 per 6h window" in message.body
    assert "mean -0.70" in message.body and "% negative" not in message.body
    assert "mean sentiment, -1 to +1 (line)" in message.alternatives[0][0]
    series = selectors.window_series(
        subject_kind=alert.subject_kind,
        subject_key=alert.subject_key,
        end=alert.window_end,
        window_hours=6,
        count=16,
    )
    [image] = [a for a in message.attachments if hasattr(a, "get_content_type")]
    png = image.get_payload(decode=True)
    assert png == services.alert_chart_png(metric="mean_score_drop", series=series)
    assert png != services.alert_chart_png(metric="negative_share", series=series)


@pytest.mark.django_db
def test_the_email_chart_has_its_scale_and_times_beside_it_and_fits_a_phone(  # type: ignore[no-untyped-def]
    analyst, kestrel, source, scorer
):
    alert = _spike_alert(source, _rule(analyst, kestrel))

    assert services.alert_send(alert_id=alert.pk) == "sent"

    [message] = mail.outbox
    html = message.alternatives[0][0]
    assert ">100% negative</td>" in html and ">0% negative</td>" in html
    assert "bars: texts per window, tallest" in html and " UTC</span>" in html
    assert "max-width:100%;height:auto" in html  # the 480 px image shrinks to a phone's width


# -- who sees and handles an alert -----------------------------------------------------------------
@pytest.fixture
def other_analyst(db: Any) -> Any:
    return user_create(
        username="olga", password="pw-olga-123", email="olga@example.com", roles=["analyst"]
    )


@pytest.mark.django_db
def test_an_analyst_cannot_see_or_handle_another_owners_alert(  # type: ignore[no-untyped-def]
    analyst, other_analyst, kestrel, client
):
    theirs = _plain_alert(_rule(other_analyst, kestrel, metric="volume"), "theirs")
    mine = _plain_alert(_rule(analyst, kestrel, metric="volume"), "mine")
    client.force_login(analyst)

    dashboard = client.get("/sentiment/")
    page = client.get(f"/sentiment/alerts/{theirs.pk}/")
    ack = client.post(f"/sentiment/alerts/{theirs.pk}/acknowledge/", HTTP_HX_REQUEST="true")
    resolve = client.post(f"/sentiment/alerts/{theirs.pk}/resolve/")
    api_list = client.get("/api/sentiment/alerts/")
    api_get = client.get(f"/api/sentiment/alerts/{theirs.pk}/")
    api_ack = client.post(f"/api/sentiment/alerts/{theirs.pk}/acknowledge/")
    api_resolve = client.post(f"/api/sentiment/alerts/{theirs.pk}/resolve/")
    own = client.post(f"/sentiment/alerts/{mine.pk}/acknowledge/", HTTP_HX_REQUEST="true")

    assert [a.pk for a in dashboard.context["alerts"]] == [mine.pk]
    assert page.status_code == ack.status_code == resolve.status_code == 404
    assert api_get.status_code == api_ack.status_code == api_resolve.status_code == 404
    assert [a["id"] for a in api_list.json()["results"]] == [mine.pk]
    theirs.refresh_from_db()
    assert theirs.status == "open" and theirs.handled_by is None
    assert own.status_code == 200 and Alert.objects.get(pk=mine.pk).status == "acknowledged"


@pytest.mark.django_db
def test_staff_see_and_handle_every_alert(analyst, other_analyst, kestrel, client):  # type: ignore[no-untyped-def]
    theirs = _plain_alert(_rule(other_analyst, kestrel, metric="volume"), "theirs")
    mine = _plain_alert(_rule(analyst, kestrel, metric="volume"), "mine")
    boss = user_create(username="boss", password="pw-boss-123", roles=["analyst"], is_staff=True)
    client.force_login(boss)

    listed = client.get("/api/sentiment/alerts/")
    page = client.get(f"/sentiment/alerts/{theirs.pk}/")
    client.post(f"/api/sentiment/alerts/{theirs.pk}/resolve/")

    assert {a["id"] for a in listed.json()["results"]} == {theirs.pk, mine.pk}
    assert page.status_code == 200
    theirs.refresh_from_db()
    assert theirs.status == "resolved" and theirs.handled_by == boss


def test_email_times_are_in_utc_whatever_the_site_time_zone(  # type: ignore[no-untyped-def]
    analyst, kestrel, source, scorer, settings
):
    settings.TIME_ZONE = "America/New_York"
    rule = _rule(analyst, kestrel)
    build_history(source)
    spike(source)
    [alert_id] = services.alerts_evaluate(now=NOW, rule_ids=[rule.pk])
    alert = Alert.objects.get(pk=alert_id)

    services.alert_send(alert_id=alert_id)

    message = mail.outbox[0]
    utc_window = f"{alert.window_start:%b} {alert.window_start.day} {alert.window_start:%H:%M}"
    assert f"{utc_window} to " in message.body
    assert f"between {utc_window} and" in message.alternatives[0][0]


def _png_rows(png: bytes) -> tuple[int, list[bytes]]:
    import struct
    import zlib

    pos, width, data = 8, 0, b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width = struct.unpack(">I", body[:4])[0]
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = 1 + 3 * width
    return width, [raw[i + 1 : i + stride] for i in range(0, len(raw), stride)]


def test_the_email_chart_leaves_a_gap_for_a_window_without_texts() -> None:
    from apps.sentiment.charts import LINE

    start = NOW - timedelta(hours=18)
    series = [
        selectors.WindowStat(
            start + timedelta(hours=6 * i),
            start + timedelta(hours=6 * (i + 1)),
            n,
            0,
            n - neg,
            neg,
            0.0,
        )
        for i, (n, neg) in enumerate([(10, 5), (0, 0), (10, 5)])
    ]

    for metric in ("negative_share", "mean_score_drop"):
        width, rows = _png_rows(services.alert_chart_png(metric=metric, series=series))
        middle = round(6 + 1.5 * (width - 12) / 3)
        # Nothing is drawn for the empty window: neither a 0% point at the bottom nor a
        # neutral point halfway up, and no line through it.
        column = [row[3 * x : 3 * x + 3] for row in rows for x in range(middle - 3, middle + 4)]
        assert bytes(LINE) not in column, metric


@pytest.fixture
def volume_rule(analyst: Any) -> Any:
    def make(delivery: str = AlertRule.Delivery.IMMEDIATE) -> AlertRule:
        return AlertRuleFactory(
            owner=analyst, name=f"Chatter {delivery}", metric="volume", delivery=delivery
        )

    return make


def _aged_alert(rule: AlertRule, *, created_ago: timedelta, key: str = "1", **fields: Any) -> Alert:
    alert = AlertFactory(
        rule=rule,
        subject_kind="entity",
        subject_key=key,
        subject_label=f"Company {key}",
        metric=rule.metric,
        value=12,
        baseline=3,
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
        reason="12 texts in 6 h, usually 3",
        **fields,
    )
    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - created_ago)
    return alert


@pytest.mark.django_db
def test_an_alert_email_whose_retries_ran_out_is_sent_once_smtp_is_back(volume_rule, monkeypatch):  # type: ignore[no-untyped-def]
    alert = _aged_alert(volume_rule(), created_ago=timedelta(hours=3), send_attempts=11)
    with monkeypatch.context() as patch:
        _failing_send(patch)
        during = tasks.alerts_send_pending_task()

    after = tasks.alerts_send_pending_task()
    again = tasks.alerts_send_pending_task()

    assert during == 0 and (after, again) == (1, 0)
    assert len(mail.outbox) == 1
    assert Alert.objects.get(pk=alert.pk).sent_at is not None
    assert any(
        entry["task"] == "apps.sentiment.tasks.alerts_send_pending_task"
        for entry in schedules.BEAT_SCHEDULE.values()
    )


@pytest.mark.django_db
def test_the_email_sweep_leaves_new_claimed_sent_and_digest_alerts_alone(volume_rule):  # type: ignore[no-untyped-def]
    rule = volume_rule()
    _aged_alert(rule, created_ago=timedelta(minutes=1), key="new")  # its own task is still on it
    _aged_alert(rule, created_ago=timedelta(hours=1), key="claimed", send_claimed_at=timezone.now())
    _aged_alert(rule, created_ago=timedelta(hours=1), key="sent", sent_at=timezone.now())
    _aged_alert(
        volume_rule(AlertRule.Delivery.DIGEST), created_ago=timedelta(hours=1), key="digest"
    )
    _aged_alert(volume_rule(AlertRule.Delivery.NONE), created_ago=timedelta(hours=1), key="board")

    assert services.alerts_send_pending() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_digest_missed_because_smtp_was_down_goes_out_before_the_next_day(  # type: ignore[no-untyped-def]
    volume_rule, monkeypatch
):
    rule = volume_rule(AlertRule.Delivery.DIGEST)
    today_digest = timezone.localtime().replace(
        hour=schedules.DIGEST_HOUR, minute=0, second=0, microsecond=0
    )
    if today_digest > timezone.localtime():
        today_digest -= timedelta(days=1)
    since_digest = timezone.localtime() - today_digest
    _aged_alert(rule, created_ago=since_digest + timedelta(hours=2), key="overdue")
    with monkeypatch.context() as patch:
        _failing_send(patch)
        with pytest.raises(OSError):
            services.alerts_digest_send()  # 07:00, and every retry after it
    fresh = _aged_alert(rule, created_ago=timedelta(0), key="fresh")

    sent = tasks.alerts_digest_catch_up_task()

    assert sent == 1 and len(mail.outbox) == 1
    assert "Company overdue" in mail.outbox[0].subject
    assert Alert.objects.filter(digest_sent_at__isnull=False).count() == 2
    assert Alert.objects.get(pk=fresh.pk).digest_sent_at is not None
    assert tasks.alerts_digest_catch_up_task() == 0


@pytest.mark.django_db
def test_the_digest_catch_up_waits_for_the_days_digest(volume_rule):  # type: ignore[no-untyped-def]
    _aged_alert(volume_rule(AlertRule.Delivery.DIGEST), created_ago=timedelta(0))

    assert services.alerts_digest_catch_up() == 0
    assert mail.outbox == []

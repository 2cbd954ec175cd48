"""Second audit of trends, alerts, rules and their pages: empty windows, warm-up, the size of a
move, email times, stale email links, rule validation, deleting a watched company, trends of
unknown subjects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail

from apps.sentiment import selectors, services
from apps.sentiment.forms import RuleForm
from apps.sentiment.models import Alert, AlertRule, Entity, Source, Unsubscribe
from apps.sentiment.spikes import spike_check
from tests.sentiment.test_services import NOW, build_history, spike


@pytest.fixture
def source(db: Any) -> Source:
    return services.source_get_or_create(name="Wire", kind=Source.Kind.API)


@pytest.fixture
def kestrel(db: Any) -> Entity:
    return services.entity_upsert(name="Kestrel Airlines", ticker="KSTL", aliases=["Kestrel"])


def _rule(owner: Any, entities: list[Entity], **fields: Any) -> AlertRule:
    values: dict[str, Any] = {"name": "Kestrel", "window_hours": 6, "min_volume": 5}
    values.update(fields)
    rule = AlertRule.objects.create(owner=owner, **values)
    rule.entities.set(entities)
    return rule


def _rule_form(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Rule",
        "metric": "negative_share",
        "mode": "spike",
        "sensitivity": "3",
        "window_hours": "6",
        "min_volume": "5",
        "cooldown_hours": "12",
        "delivery": "immediate",
        "active": "on",
    }
    data.update(fields)
    return data


# -- spike detection -------------------------------------------------------------------------------
def test_a_window_without_texts_never_fires_even_with_min_volume_zero() -> None:
    # The mean sentiment of no texts is not 0.0; a fall "to 0.0" from +0.3 is no news at all.
    spike_mode = spike_check(
        metric="mean_score_drop",
        values=[0.3, 0.32, 0.28, 0.3, 0.0],
        volumes=[10, 10, 10, 10, 0],
        min_volume=0,
    )
    threshold_mode = spike_check(
        metric="mean_score_drop",
        values=[0.3, 0.3, 0.3, 0.0],
        volumes=[10, 10, 10, 0],
        min_volume=0,
        threshold=0.1,
    )
    share_threshold = spike_check(
        metric="negative_share", values=[0.1, 0.0], volumes=[10, 0], min_volume=0, threshold=0.0
    )

    assert not spike_mode.fired and not threshold_mode.fired and not share_threshold.fired
    assert "no texts" in spike_mode.reason


def test_an_empty_window_with_min_volume_zero_opens_no_alert(analyst, kestrel, source, scorer):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, [kestrel], metric="mean_score_drop", min_volume=0)
    # Positive history, then nothing at all in the current window.
    from tests.sentiment.test_services import ingest_and_score, row

    rows = [
        row(
            w * 100 + k, f"Kestrel shares jump {w}-{k}", NOW - timedelta(hours=6 * w + 1, minutes=k)
        )
        for w in range(2, 8)
        for k in range(6)
    ]
    ingest_and_score(source, rows)

    assert services.alerts_evaluate(now=NOW, rule_ids=[rule.pk]) == []


def test_a_volume_spike_needs_earlier_windows_with_texts() -> None:
    # A company just added to the watchlist has no history: its first mentions are no spike.
    brand_new = spike_check(metric="volume", values=[0.0] * 27 + [20.0], volumes=[0] * 27 + [20])
    with_history = spike_check(
        metric="volume",
        values=[0.0] * 24 + [2.0, 3.0, 2.0, 20.0],
        volumes=[0] * 24 + [2, 3, 2, 20],
    )

    assert not brand_new.fired
    assert "earlier windows" in brand_new.reason
    assert with_history.fired and with_history.z is not None and with_history.z > 3


# -- alert text ------------------------------------------------------------------------------------
def test_a_threshold_alert_below_its_baseline_reads_as_a_fall(analyst, kestrel):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, [kestrel], mode="threshold", threshold=0.3)
    alert = Alert(rule=rule, metric="negative_share", value=0.35, baseline=0.4)

    move = services.alert_move_text(alert)

    assert "-5 pts" in move and "+-" not in move


def test_email_times_are_in_utc_whatever_the_site_time_zone(
    analyst, kestrel, source, scorer, settings
):  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "America/New_York"
    rule = _rule(analyst, [kestrel])
    build_history(source)
    spike(source)
    [alert_id] = services.alerts_evaluate(now=NOW, rule_ids=[rule.pk])
    alert = Alert.objects.get(pk=alert_id)

    services.alert_send(alert_id=alert_id)

    message = mail.outbox[0]
    utc_window = f"{alert.window_start:%b} {alert.window_start.day} {alert.window_start:%H:%M}"
    assert f"{utc_window} to " in message.body
    assert f"between {utc_window} and" in message.alternatives[0][0]


# -- email links -----------------------------------------------------------------------------------
def test_an_unsubscribe_link_of_a_deleted_rule_answers_clearly(analyst, kestrel, client):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, [kestrel])
    token = services.unsubscribe_token(user_id=analyst.pk, rule_id=rule.pk)
    rule.delete()

    page = client.get(f"/sentiment/unsubscribe/{token}/")
    done = client.post(f"/sentiment/unsubscribe/{token}/")

    # Not "stop emails for all your rules?", and no error on confirming.
    assert "all your sentiment rules" not in page.content.decode()
    assert "no longer exists" in page.content.decode()
    assert done.status_code in (200, 410) and "no longer exists" in done.content.decode()
    assert not Unsubscribe.objects.exists()


def test_an_alert_link_with_a_wrong_token_shows_a_clear_page(analyst, kestrel, client):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, [kestrel])
    alert = Alert.objects.create(
        rule=rule,
        subject_kind="entity",
        subject_key=str(kestrel.pk),
        subject_label="Kestrel",
        metric="negative_share",
        value=0.8,
        baseline=0.1,
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
        reason="spike",
    )

    get = client.get(f"/sentiment/alerts/{alert.pk}/email/resolve/tampered/")
    post = client.post(f"/sentiment/alerts/{alert.pk}/email/resolve/tampered/")

    alert.refresh_from_db()
    assert get.status_code == 404 and post.status_code == 404
    assert "link is not valid" in get.content.decode()
    assert alert.status == "open"


def test_acknowledging_a_resolved_alert_from_the_email_offers_nothing_to_do(
    analyst, kestrel, client
):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, [kestrel])
    alert = Alert.objects.create(
        rule=rule,
        subject_kind="entity",
        subject_key=str(kestrel.pk),
        subject_label="Kestrel",
        metric="negative_share",
        value=0.8,
        baseline=0.1,
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
        reason="spike",
    )
    services.alert_transition(alert_id=alert.pk, action="resolve")
    url = f"/sentiment/alerts/{alert.pk}/email/acknowledge/{alert.action_token}/"

    page = client.get(url).content.decode()

    assert "already resolved" in page
    assert "Acknowledge this alert</button>" not in page


# -- rules -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("metric", "threshold", "ok"),
    [
        ("negative_share", "40", False),  # meant 40 %: a share never reaches 40
        ("negative_share", "0.4", True),
        ("mean_score_drop", "-3", False),
        ("mean_score_drop", "-0.2", True),
        ("volume", "-1", False),
        ("volume", "50", True),
    ],
)
def test_a_threshold_outside_the_metrics_range_is_refused(analyst_client, metric, threshold, ok):  # type: ignore[no-untyped-def]
    form = RuleForm(_rule_form(metric=metric, mode="threshold", threshold=threshold))
    api = analyst_client.post(
        "/api/sentiment/rules/",
        {"name": "r", "metric": metric, "mode": "threshold", "threshold": float(threshold)},
        content_type="application/json",
    )

    assert form.is_valid() is ok
    assert (api.status_code == 201) is ok
    if not ok:
        assert "threshold" in form.errors and "threshold" in api.json()


def test_changing_only_the_metric_of_a_threshold_rule_is_checked_too(analyst_client, analyst):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, [], metric="volume", mode="threshold", threshold=40)

    response = analyst_client.patch(
        f"/api/sentiment/rules/{rule.pk}/",
        {"metric": "negative_share"},
        content_type="application/json",
    )

    rule.refresh_from_db()
    assert response.status_code == 400 and "threshold" in response.json()
    assert rule.metric == "volume"


def test_the_rules_page_shows_which_way_a_threshold_fires(analyst_client, analyst):  # type: ignore[no-untyped-def]
    _rule(analyst, [], name="Drop", metric="mean_score_drop", mode="threshold", threshold=-0.2)

    page = analyst_client.get("/sentiment/rules/").content.decode()

    assert "≤ -0.2" in page and "≥ -0.2" not in page


def test_deleting_a_rules_only_company_does_not_widen_it_to_the_whole_watchlist(  # type: ignore[no-untyped-def]
    analyst_client, analyst, kestrel
):
    other = services.entity_upsert(name="Acme Corp", ticker="ACME")
    rule = _rule(analyst, [kestrel])

    response = analyst_client.delete(f"/api/sentiment/watchlist/{kestrel.pk}/")

    rule.refresh_from_db()
    subjects = selectors.rule_subjects(rule)
    assert ("entity", str(other.pk)) not in subjects
    assert response.status_code == 400 and "Kestrel" in response.json()["detail"]
    assert Entity.objects.filter(pk=kestrel.pk).exists()
    # A company no rule watches is deleted as before.
    assert analyst_client.delete(f"/api/sentiment/watchlist/{other.pk}/").status_code == 204


def test_the_admin_refuses_to_delete_the_companies_a_rule_watches_alone(  # type: ignore[no-untyped-def]
    admin_client, analyst, kestrel
):
    acme = services.entity_upsert(name="Acme Corp", ticker="ACME")
    lone = services.entity_upsert(name="Lone Co", ticker="LONE")
    _rule(analyst, [kestrel, acme], name="Two airlines")

    both = admin_client.post(
        "/admin/sentiment/entity/",
        {"action": "delete_selected", "_selected_action": [kestrel.pk, acme.pk], "post": "yes"},
    )
    one = admin_client.post(f"/admin/sentiment/entity/{kestrel.pk}/delete/", {"post": "yes"})

    # Both together would leave the rule no company (the whole watchlist); one leaves it Acme.
    assert "Two airlines" in both.content.decode()
    assert one.status_code == 302
    assert not Entity.objects.filter(pk=kestrel.pk).exists()
    assert Entity.objects.filter(pk=acme.pk).exists()
    assert (
        admin_client.post(
            "/admin/sentiment/entity/",
            {"action": "delete_selected", "_selected_action": [lone.pk], "post": "yes"},
        ).status_code
        == 302
    )
    assert not Entity.objects.filter(pk=lone.pk).exists()


# -- trends ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("subject", "code"),
    [("entity:abc", 400), ("entity:99999", 404), ("topic:nonsense", 400), ("topic:earnings", 200)],
)
def test_trends_of_an_unknown_subject_are_an_error_not_an_empty_chart(  # type: ignore[no-untyped-def]
    analyst_client, subject, code
):
    response = analyst_client.get(f"/api/sentiment/trends/?subject={subject}")

    assert response.status_code == code


# -- documents by date -----------------------------------------------------------------------------
def test_documents_filter_by_published_date_and_refuse_a_bad_date(analyst_client, scorer):  # type: ignore[no-untyped-def]
    for title, when in (
        ("Acme opens a plant", "2025-06-09T23:30:00Z"),
        ("Acme shares plunge", "2025-06-10T08:00:00Z"),
        ("Acme beats estimates", "2025-06-11T00:00:00Z"),
    ):
        analyst_client.post(
            "/api/sentiment/ingest/",
            {"title": title, "published_at": when},
            content_type="application/json",
        )

    day = analyst_client.get(
        "/api/sentiment/documents/?published_after=2025-06-10&published_before=2025-06-11"
    )
    since = analyst_client.get("/api/sentiment/documents/?published_after=2025-06-10T08:00Z")
    bad = analyst_client.get("/api/sentiment/documents/?published_after=yesterday")
    impossible = analyst_client.get("/api/sentiment/documents/?published_before=2025-02-30")
    misspelt = analyst_client.get("/api/sentiment/documents/?label=negatve")

    assert [d["title"] for d in day.json()["results"]] == ["Acme shares plunge"]
    assert [d["title"] for d in since.json()["results"]] == [
        "Acme beats estimates",
        "Acme shares plunge",
    ]
    assert bad.status_code == 400 and "published_after" in bad.json()
    assert impossible.status_code == 400 and "published_before" in impossible.json()
    assert misspelt.status_code == 400 and "label" in misspelt.json()


# -- episodes --------------------------------------------------------------------------------------
def test_a_subject_watched_again_can_alert_again(analyst, kestrel, source, scorer):  # type: ignore[no-untyped-def]
    other = services.entity_upsert(name="Acme Corp", ticker="ACME")
    rule = _rule(analyst, [kestrel], cooldown_hours=0)
    build_history(source)
    spike(source)
    [first] = services.alerts_evaluate(now=NOW, rule_ids=[rule.pk])

    # The analyst takes Kestrel off the rule for a while, then puts it back during a spike.
    rule.entities.set([other])
    services.alerts_evaluate(now=NOW, rule_ids=[rule.pk])
    rule.entities.set([kestrel])
    # An hour later (the alert's created_at is the wall clock, and the cooldown counts from it).
    again = services.alerts_evaluate(now=NOW + timedelta(hours=1), rule_ids=[rule.pk])

    assert not Alert.objects.get(pk=first).episode_open
    assert len(again) == 1 and again[0] != first


# -- API filters -----------------------------------------------------------------------------------
def test_an_unknown_alert_status_or_an_empty_trend_range_is_a_400(analyst_client):  # type: ignore[no-untyped-def]
    typo = analyst_client.get("/api/sentiment/alerts/?status=acked")
    fine = analyst_client.get("/api/sentiment/alerts/?status=acknowledged")
    no_days = analyst_client.get("/api/sentiment/trends/?days=0")
    wider_than_range = analyst_client.get("/api/sentiment/trends/?days=1&bucket_hours=168")
    schema = analyst_client.get("/api/schema/?format=json").json()
    params = schema["paths"]["/api/sentiment/alerts/"]["get"]["parameters"]

    assert typo.status_code == 400 and "status" in typo.json()
    assert fine.status_code == 200
    assert no_days.status_code == 400
    assert wider_than_range.status_code == 400
    assert any(p["name"] == "status" for p in params)


# -- charts ----------------------------------------------------------------------------------------
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


def test_trend_buckets_are_aligned_in_utc_whenever_they_are_asked_for(source, kestrel, scorer):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from tests.sentiment.test_services import row

    published = datetime(2025, 6, 10, 7, 15, tzinfo=UTC)
    result = services.documents_ingest(
        source_id=source.pk, rows=[row(1, "Kestrel shares plunge", published)], now=published
    )
    services.documents_score(document_ids=result.created_ids)

    early = selectors.trend_series(
        subject_kind="all",
        subject_key="all",
        days=1,
        bucket_hours=6,
        now=datetime(2025, 6, 10, 8, 5, tzinfo=UTC),
    )
    late = selectors.trend_series(
        subject_kind="all",
        subject_key="all",
        days=1,
        bucket_hours=6,
        now=datetime(2025, 6, 10, 11, 55, tzinfo=UTC),
    )

    # The same buckets (00, 06, 12, 18 UTC) an hour or four later; the last one holds now.
    assert early["buckets"] == late["buckets"]
    assert early["buckets"][-1] == "2025-06-10T06:00:00+00:00"
    assert early["volume"][-1] == late["volume"][-1] == 1


def test_handling_an_alert_from_its_page_redirects_only_within_the_site(
    analyst_client, analyst, kestrel
):  # type: ignore[no-untyped-def]
    rule = _rule(analyst, [kestrel])
    alert = Alert.objects.create(
        rule=rule,
        subject_kind="entity",
        subject_key=str(kestrel.pk),
        subject_label="Kestrel",
        metric="negative_share",
        value=0.8,
        baseline=0.1,
        window_start=NOW - timedelta(hours=6),
        window_end=NOW,
        reason="spike",
    )

    away = analyst_client.post(
        f"/sentiment/alerts/{alert.pk}/acknowledge/", {"next": "https://evil.example/phish"}
    )
    back = analyst_client.post(
        f"/sentiment/alerts/{alert.pk}/resolve/", {"next": f"/sentiment/alerts/{alert.pk}/"}
    )

    assert away.status_code == 302 and away["Location"] == "/sentiment/"
    assert back.status_code == 302 and back["Location"] == f"/sentiment/alerts/{alert.pk}/"

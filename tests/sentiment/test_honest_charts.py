"""Honest charts: too few texts leave a gap in the negative-share line (API, email chart), the
alert page charts the rule's windows and shades the one that fired, and an alert email's link
filters the live feed to the alert's company or topic and window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from apps.sentiment import selectors, services
from apps.sentiment.models import Aggregate, Entity, Source
from apps.sentiment.uploads import DocumentRow
from tests.sentiment.factories import AggregateFactory, AlertFactory, AlertRuleFactory

pytestmark = pytest.mark.django_db
END = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def bucket(hours_before: int, n: int, negatives: int) -> None:
    AggregateFactory(
        bucket_start=END - timedelta(hours=hours_before),
        n=n,
        n_negative=negatives,
        n_neutral=n - negatives,
    )


def test_a_window_with_too_few_texts_is_a_gap_not_a_share(settings: Any) -> None:
    settings.SENTIMENT_CHART_MIN_COUNT = 3
    bucket(18, 10, 5)  # enough texts
    bucket(12, 2, 2)  # two texts, both negative: 100% would be noise
    # 6 hours before: no texts at all

    trend = selectors.trend_series(
        subject_kind="all", subject_key="all", days=1, bucket_hours=6, now=END - timedelta(hours=1)
    )

    assert trend["volume"] == [0, 10, 2, 0]
    assert trend["negative_share"] == [None, 0.5, None, None]
    assert trend["min_count"] == 3


def test_the_trend_api_takes_a_minimum_count_and_an_end(analyst_client: Any) -> None:
    bucket(12, 2, 2)
    url = "/api/sentiment/trends/?subject=all&days=1&bucket_hours=6&end=2026-06-10T11:00Z"

    assert analyst_client.get(url + "&min_count=1").json()["negative_share"][2] == 1.0
    assert analyst_client.get(url + "&min_count=5").json()["negative_share"][2] is None
    assert analyst_client.get(url + "&min_count=0").status_code == 400
    assert analyst_client.get(url.replace("2026-06-10T11:00Z", "soon")).status_code == 400


def test_the_email_chart_leaves_a_gap_for_too_few_texts() -> None:
    def window(n: int, negatives: int) -> selectors.WindowStat:
        return selectors.WindowStat(END, END, n, 0, n - negatives, negatives, 0.0)

    thin = services.alert_chart_png(
        metric="negative_share", series=[window(10, 1), window(1, 1), window(10, 9)], min_count=3
    )
    drawn = services.alert_chart_png(
        metric="negative_share", series=[window(10, 1), window(1, 1), window(10, 9)], min_count=1
    )

    assert thin != drawn  # the one-text window's 100% point is not drawn


@pytest.fixture
def kestrel_alert(analyst: Any, kestrel: Entity) -> Any:
    rule = AlertRuleFactory(owner=analyst, entities=[kestrel], window_hours=6, min_volume=5)
    return AlertFactory(
        rule=rule,
        subject_key=str(kestrel.pk),
        window_start=END - timedelta(hours=6),
        window_end=END,
    )


def test_the_alert_email_link_filters_the_feed_to_the_company_and_window(
    kestrel_alert: Any, kestrel: Entity
) -> None:
    query = parse_qs(urlsplit("?" + services.alert_feed_query(kestrel_alert)).query)

    assert query["subject"] == [f"entity:{kestrel.pk}"]
    assert query["entity"] == [str(kestrel.pk)]
    assert query["window"] == ["2026-06-10T06:00:00Z/2026-06-10T12:00:00Z"]


def test_the_feed_honours_the_window_of_an_alert_link(
    analyst_client: Any, source: Source, kestrel: Entity, scorer: Any, kestrel_alert: Any
) -> None:
    rows = [
        DocumentRow(1, "", "", "Kestrel shares plunge inside", "", END - timedelta(hours=1), "en"),
        DocumentRow(2, "", "", "Kestrel shares plunge before", "", END - timedelta(days=2), "en"),
    ]
    created = services.documents_ingest(source_id=source.pk, rows=rows, now=END).created_ids
    services.documents_score(document_ids=created)
    query = services.alert_feed_query(kestrel_alert)

    page = analyst_client.get(reverse("sentiment:dashboard") + "?" + query).content.decode()
    feed = analyst_client.get(reverse("sentiment:feed") + "?" + query).content.decode()

    for html in (page, feed):
        assert "plunge inside" in html and "plunge before" not in html
    assert 'name="window"' in page  # the feed's polls keep the window
    bad = analyst_client.get(reverse("sentiment:feed") + "?window=yesterday")
    assert bad.status_code == 400 and b"window" in bad.content
    assert analyst_client.get(reverse("sentiment:dashboard") + "?window=x/y").status_code == 400


def test_the_alert_page_charts_the_rules_windows_with_the_one_that_fired(
    analyst_client: Any, kestrel_alert: Any
) -> None:
    page = analyst_client.get(reverse("sentiment:alert_detail", args=[kestrel_alert.pk]))
    html = page.content.decode()

    assert 'data-bucket-hours="6"' in html
    assert f'data-window-start="{kestrel_alert.window_start.isoformat()}"' in html
    assert f'data-window-end="{kestrel_alert.window_end.isoformat()}"' in html
    assert 'data-min-count="3"' in html
    assert "window=2026-06-10T06:00:00Z/2026-06-10T12:00:00Z" in html
    assert Aggregate.objects.count() == 0  # reading the page wrote nothing

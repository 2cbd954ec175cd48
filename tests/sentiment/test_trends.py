"""Trends: unknown subjects are an error, and buckets are aligned in UTC."""

from __future__ import annotations

import pytest

from apps.sentiment import selectors, services


@pytest.mark.parametrize(
    ("subject", "code"),
    [("entity:abc", 400), ("entity:99999", 404), ("topic:nonsense", 400), ("topic:earnings", 200)],
)
def test_trends_of_an_unknown_subject_are_an_error_not_an_empty_chart(  # type: ignore[no-untyped-def]
    analyst_client, subject, code
):
    response = analyst_client.get(f"/api/sentiment/trends/?subject={subject}")

    assert response.status_code == code


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

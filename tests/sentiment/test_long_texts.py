"""Long texts: every sentence up to SENTIMENT_MAX_SENTENCES is scored, and the rest are counted
and shown, so an analyst knows when a filing was read only in part."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.sentiment import services
from apps.sentiment.models import Document, Source
from apps.sentiment.uploads import DocumentRow

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def source(db) -> Source:  # type: ignore[no-untyped-def]
    return services.source_get_or_create(name="Filings", kind=Source.Kind.API)


def filing(n_sentences: int, last: str) -> str:
    steady = [f"Volumes in region {i} were steady." for i in range(n_sentences - 1)]
    return " ".join([*steady, last])


def ingest_and_score(source: Source, body: str) -> Document:
    result = services.documents_ingest(
        source_id=source.pk,
        rows=[DocumentRow(1, "", "", "Acme annual report", body, NOW, "en")],
        now=NOW,
    )
    services.documents_score(document_ids=result.created_ids)
    return Document.objects.select_related("score").get(pk=result.created_ids[0])


def test_a_filing_longer_than_forty_sentences_is_scored_to_its_end(source, scorer) -> None:  # type: ignore[no-untyped-def]
    doc = ingest_and_score(source, filing(120, "The auditor found a large loss."))

    sentences = doc.score.sentences
    assert len(sentences) == 121  # the headline and all 120 sentences
    assert sentences[-1]["text"] == "The auditor found a large loss."
    assert sentences[-1]["label"] == "negative"
    assert doc.score.sentences_skipped == 0


def test_sentences_past_the_limit_are_counted_not_scored(source, scorer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SENTIMENT_MAX_SENTENCES = 10
    doc = ingest_and_score(source, filing(25, "The auditor found a large loss."))

    assert len(doc.score.sentences) == 11  # the headline and the first 10
    assert doc.score.sentences_skipped == 15
    assert all("large loss" not in s["text"] for s in doc.score.sentences)
    assert sum(scorer.calls) == 11


def test_the_document_page_and_api_say_how_much_was_not_scored(  # type: ignore[no-untyped-def]
    source, scorer, settings, analyst_client
) -> None:
    settings.SENTIMENT_MAX_SENTENCES = 5
    doc = ingest_and_score(source, filing(8, "Shares fell."))

    page = analyst_client.get(f"/sentiment/documents/{doc.pk}/").content.decode()
    api = analyst_client.get(f"/api/sentiment/documents/{doc.pk}/").json()

    assert "3 more sentences at the end of this text were not scored" in page
    assert api["score"]["sentences_skipped"] == 3


def test_a_short_text_has_nothing_skipped(source, scorer) -> None:  # type: ignore[no-untyped-def]
    doc = ingest_and_score(source, "Shares fell.")

    assert doc.score.sentences == []
    assert doc.score.sentences_skipped == 0


@pytest.mark.parametrize("value", ["0", "1001"])
def test_an_out_of_range_limit_stops_the_settings_with_a_clear_message(value: str) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SENTIMENT_MAX_SENTENCES": value,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert f"SENTIMENT_MAX_SENTENCES must be between 1 and 1000, got {value}" in out.stderr


def test_a_long_document_is_scored_to_its_last_words(source, scorer) -> None:  # type: ignore[no-untyped-def]
    filler = ", ".join(["volumes were steady in the northern region"] * 10)
    body = f"The quarter was uneventful. {filler}, and the auditor found a large loss."
    result = services.documents_ingest(
        source_id=source.pk,
        rows=[DocumentRow(1, "", "", "Acme quarterly update", body, NOW, "en")],
        now=NOW,
    )

    services.documents_score(document_ids=result.created_ids)

    score = Document.objects.get().score
    assert any("large loss" in s["text"] and s["label"] == "negative" for s in score.sentences)
    assert all(len(s["text"]) <= 250 for s in score.sentences)

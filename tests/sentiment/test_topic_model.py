"""Topics by a model: zero-shot on the real embedder, keyword fallback (Chinese, a failing
embedder, the keywords setting), analysts' topic corrections (page and API) moving the trends,
and the classifier they train."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.mlops.runtime import texts_embed
from apps.sentiment import services, topic_model
from apps.sentiment.models import Aggregate, Source, TopicCorrection
from apps.sentiment.text import TOPICS
from apps.sentiment.uploads import DocumentRow

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def model_topics(settings: Any) -> None:
    settings.SENTIMENT_TOPIC_TAGGER = "model"
    topic_model._CLASSIFIERS.clear()


@pytest.mark.django_db
def test_the_real_embedder_tags_topics_without_any_keyword(model_topics: None) -> None:
    texts = [
        "The airline's boss quit and the board picked a successor.",  # no keyword of management
        "The carmaker will shed 2,000 staff as it shrinks.",  # none of layoffs
        "The annual general meeting will be held in Helsinki.",
    ]

    tagged = topic_model.topics_model_tag(texts)

    assert "management" in tagged[0] and "layoffs" in tagged[1]
    assert tagged[2] == {}
    assert all(0 < v <= 1 for tags in tagged for v in tags.values())


@pytest.mark.django_db
def test_keywords_remain_the_fallback(model_topics: None, settings: Any) -> None:
    def broken(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("no embedder")

    english = "Kestrel Airlines faces a lawsuit over delays"
    assert topic_model.topics_model_tag([english], embed=broken) == [{"litigation": 0.5}]
    # The English embedder does not read Chinese: its keywords tag it.
    assert "layoffs" in topic_model.topics_model_tag(["航空公司宣布裁员"], embed=broken)[0]
    settings.SENTIMENT_TOPIC_TAGGER = "keywords"
    assert topic_model.topics_model_tag([english]) == [{"litigation": 0.5}]


@pytest.mark.django_db
def test_corrections_train_a_classifier_for_a_topic_with_enough_of_them(
    model_topics: None, settings: Any, source: Source, scorer: Any
) -> None:
    settings.SENTIMENT_TOPIC_MIN_EXAMPLES = 3
    # The analysts' house meaning of "products": store openings, which zero-shot misses.
    with_topic = [f"Vantage Retail opens {n} new stores in the north" for n in (5, 12, 30)]
    without = [f"Vantage Retail shares were flat on day {n} of trading" for n in (1, 2, 3)]
    rows = [DocumentRow(i, "", "", t, "", NOW, "en") for i, t in enumerate(with_topic + without)]
    created = services.documents_ingest(source_id=source.pk, rows=rows, now=NOW).created_ids
    services.documents_score(document_ids=created)
    for doc_id, text in zip(created, with_topic + without, strict=True):
        services.topic_correction_create(
            document_id=doc_id, topics=["products"] if text in with_topic else []
        )

    trained = topic_model._classifiers(texts_embed)
    tagged = topic_model.topics_model_tag(["Vantage Retail opens 8 new stores in the south"])

    assert list(trained) == ["products"]
    assert "products" in tagged[0] and tagged[0]["products"] >= 0.5


@pytest.mark.django_db
def test_a_topic_correction_moves_the_text_between_topic_trends(
    source: Source, scorer: Any, analyst_client: Any
) -> None:
    rows = [DocumentRow(1, "", "", "Kestrel Airlines faces a lawsuit", "", NOW, "en")]
    [doc_id] = services.documents_ingest(source_id=source.pk, rows=rows, now=NOW).created_ids
    services.documents_score(document_ids=[doc_id])
    assert Aggregate.objects.filter(subject_kind="topic", subject_key="litigation").exists()

    page = analyst_client.post(
        reverse("sentiment:document", args=[doc_id]),
        {"topics_form": "1", "topics": ["regulation", "management"]},
    )

    assert page.status_code == 302
    keys = set(Aggregate.objects.filter(subject_kind="topic").values_list("subject_key", flat=True))
    assert keys == {"regulation", "management"}
    correction = TopicCorrection.objects.get()
    assert correction.predicted == ["litigation"]
    assert correction.topics == ["management", "regulation"]

    api = analyst_client.post(
        f"/api/sentiment/documents/{doc_id}/correct-topics/",
        {"topics": []},
        content_type="application/json",
    )
    assert api.status_code == 201 and api.json()["topics"] == []
    assert not Aggregate.objects.filter(subject_kind="topic").exists()
    bad = analyst_client.post(
        f"/api/sentiment/documents/{doc_id}/correct-topics/",
        {"topics": ["weather"]},
        content_type="application/json",
    )
    assert bad.status_code == 400 and TopicCorrection.objects.count() == 2


def test_every_topic_has_descriptions() -> None:
    assert set(topic_model.TOPIC_DESCRIPTIONS) == set(TOPICS)
    assert all(len(lines) >= 3 for lines in topic_model.TOPIC_DESCRIPTIONS.values())

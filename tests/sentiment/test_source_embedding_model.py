"""The embedding model chosen per sentiment source: its texts are topic-tagged with it (Chinese
ones too under the multilingual model), analysts' corrections train classifiers per model, the
page, form and API set it (an unknown name is refused), and a change tags the source's stored
texts again in the background, keeping analysts' corrected topics."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.sentiment import services, topic_model
from apps.sentiment.models import Aggregate, Document, Score, Source
from apps.sentiment.text import TOPICS, topics_tag
from apps.sentiment.uploads import DocumentRow
from mlcore.language import has_han

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)
TOPIC_KEYS = list(TOPICS)
# Words that put a text on a topic's axis in the stand-in embedder (in either language).
MARKERS = {
    "management": ("chief executive", "掌门人", "首席执行官"),
    "layoffs": ("cut jobs", "裁员"),
}


class MarkerEmbedder:
    """A stand-in for the sentence embedders: a text with a topic's marker points along that
    topic's axis; any other text along a direction of its own (from its hash), near-orthogonal
    to every other. Records which model embedded which texts."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, texts: Sequence[str], model: str = "minilm") -> np.ndarray:
        self.calls.append((model, list(texts)))
        rows = []
        for text in texts:
            row = np.zeros(len(TOPIC_KEYS) + 512, dtype=np.float32)
            hits = [k for k, words in MARKERS.items() if any(w in text.lower() for w in words)]
            for key in hits:
                row[TOPIC_KEYS.index(key)] = 1.0
            if not hits:
                seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
                row[len(TOPIC_KEYS) :] = np.random.default_rng(seed).standard_normal(512)
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows)

    def texts_of(self, model: str) -> list[str]:
        return [text for name, texts in self.calls if name == model for text in texts]


def _caches_clear() -> None:
    topic_model.topic_embedder.cache_clear()
    topic_model._description_vectors.cache_clear()
    topic_model._CLASSIFIERS.clear()


@pytest.fixture
def embedder(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MarkerEmbedder]:
    settings.SENTIMENT_TOPIC_TAGGER = "model"
    stand_in = MarkerEmbedder()
    monkeypatch.setattr(topic_model, "texts_embed", stand_in)
    _caches_clear()
    yield stand_in
    _caches_clear()


@pytest.fixture
def chinese_source(db: Any) -> Source:
    return services.source_create(name="快讯", kind="api", embedding_model="multilingual")


def _scored(source: Source, *titles: str) -> list[int]:
    rows = [DocumentRow(i, "", "", t, "", NOW, "") for i, t in enumerate(titles)]
    ids = services.documents_ingest(source_id=source.pk, rows=rows, now=NOW).created_ids
    services.documents_score(document_ids=ids)
    return ids


def _topics(doc_id: int) -> dict[str, float]:
    return dict(Score.objects.get(document_id=doc_id).topics)


def _topic_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, n in Aggregate.objects.filter(subject_kind="topic").values_list("subject_key", "n"):
        counts[key] = counts.get(key, 0) + n
    return counts


@pytest.mark.django_db
def test_each_source_tags_its_texts_with_its_own_embedder(
    embedder: MarkerEmbedder, source: Source, chinese_source: Source, scorer: Any
) -> None:
    # One batch holding a text of each source; neither headline has a topic keyword.
    rows = [
        DocumentRow(1, "", "", "钴蓝汽车的掌门人宣布退休", "", NOW, ""),
        DocumentRow(2, "", "", "艾克米公司的掌门人宣布退休", "", NOW, ""),
    ]
    [on_multilingual] = services.documents_ingest(
        source_id=chinese_source.pk, rows=rows[:1], now=NOW
    ).created_ids
    [on_minilm] = services.documents_ingest(source_id=source.pk, rows=rows[1:], now=NOW).created_ids

    services.documents_score(document_ids=[on_multilingual, on_minilm])

    assert source.embedding_model == "minilm"  # the default
    assert _topics(on_multilingual) == {"management": 1.0}
    assert _topics(on_minilm) == {}  # MiniLM does not read Chinese: keywords, and there are none
    assert "钴蓝汽车的掌门人宣布退休" in embedder.texts_of("multilingual")
    assert not any(has_han(text) for text in embedder.texts_of("minilm"))


@pytest.mark.django_db
def test_chinese_texts_keep_their_keyword_topics_under_the_multilingual_model(
    embedder: MarkerEmbedder, chinese_source: Source, scorer: Any
) -> None:
    headline = "钴蓝汽车掌门人离任，同时发布新品"
    [doc_id] = _scored(chinese_source, headline)

    # The model finds management (no keyword of it here); the keywords add products.
    assert _topics(doc_id) == {"management": 1.0, "products": topics_tag(headline)["products"]}
    [english] = _scored(chinese_source, "Cobalt Motors names a new chief executive")
    assert _topics(english) == {"management": 1.0}
    assert "Cobalt Motors names a new chief executive" in embedder.texts_of("multilingual")


@pytest.mark.django_db
def test_corrections_train_classifiers_per_embedder(
    embedder: MarkerEmbedder, settings: Any, chinese_source: Source, scorer: Any
) -> None:
    settings.SENTIMENT_TOPIC_MIN_EXAMPLES = 2
    stores = ["顶峰酒店在北方新开五家门店", "顶峰酒店在南方新开八家门店"]
    flat = ["顶峰酒店周二股价持平", "顶峰酒店周三股价持平"]
    ids = _scored(chinese_source, *stores, *flat)
    for doc_id, wanted in zip(ids, [["products"], ["products"], [], []], strict=True):
        services.topic_correction_create(document_id=doc_id, topics=wanted)
    embedder.calls.clear()

    multilingual = topic_model._classifiers(
        topic_model.topic_embedder("multilingual"), "multilingual"
    )
    minilm = topic_model._classifiers(topic_model.topic_embedder("minilm"), "minilm")

    assert list(multilingual) == ["products"]
    assert set(embedder.texts_of("multilingual")) == set(stores + flat)
    # MiniLM's vectors of Chinese texts mean nothing: it learns from none of them.
    assert minilm == {} and embedder.texts_of("minilm") == []
    assert set(topic_model._CLASSIFIERS) == {"minilm", "multilingual"}


@pytest.mark.django_db
def test_changing_the_model_tags_the_stored_texts_again_keeping_corrections(
    embedder: MarkerEmbedder,
    source: Source,
    scorer: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    chinese, corrected, english = _scored(
        source,
        "钴蓝汽车的掌门人宣布退休",
        "北极光矿业的掌门人宣布辞职",
        "Acme's chief executive quit on Monday",
    )
    services.topic_correction_create(document_id=corrected, topics=["credit"])
    labels = dict(Score.objects.values_list("document_id", "label"))
    assert _topics(chinese) == {} and _topic_counts() == {"credit": 1, "management": 1}

    with django_capture_on_commit_callbacks(execute=True) as queued:
        services.source_update(source_id=source.pk, embedding_model="multilingual")

    assert len(queued) == 1  # the re-tag job, after the commit
    assert _topics(chinese) == {"management": 1.0}
    assert _topics(corrected) == {"credit": 1.0}  # the analyst's topics stay
    assert _topics(english) == {"management": 1.0}
    assert _topic_counts() == {"credit": 1, "management": 2}
    # Nothing stored is lost: the same documents, scores and sentiment labels.
    assert Document.objects.filter(source=source, status="scored").count() == 3
    assert dict(Score.objects.values_list("document_id", "label")) == labels
    assert services.source_topics_retag(source_id=source.pk) == 0  # a rerun changes nothing


@pytest.mark.django_db
def test_the_retag_job_of_a_deleted_source_does_nothing(source: Source) -> None:
    source_id = source.pk
    services.source_delete(source_id=source_id)

    assert services.source_topics_retag(source_id=source_id) == 0


@pytest.mark.django_db
def test_an_unknown_model_is_refused_by_the_service(source: Source) -> None:
    with pytest.raises(ValueError, match="unknown embedding model 'labse'"):
        services.source_update(source_id=source.pk, embedding_model="labse")

    source.refresh_from_db()
    assert source.embedding_model == "minilm"


@pytest.mark.django_db
def test_the_api_sets_the_model_and_refuses_an_unknown_one(
    analyst_client: Any, source: Source, django_capture_on_commit_callbacks: Any
) -> None:
    created = analyst_client.post(
        "/api/sentiment/sources/",
        {"name": "中文快讯", "kind": "api", "embedding_model": "multilingual"},
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["embedding_model"] == "multilingual"

    bad = analyst_client.patch(
        f"/api/sentiment/sources/{source.pk}/",
        {"embedding_model": "labse", "poll_interval_s": 600},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "embedding_model" in bad.json()
    source.refresh_from_db()
    assert (source.embedding_model, source.poll_interval_s) == ("minilm", 900)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        good = analyst_client.patch(
            f"/api/sentiment/sources/{source.pk}/",
            {"embedding_model": "multilingual"},
            content_type="application/json",
        )
    assert good.status_code == 200 and good.json()["embedding_model"] == "multilingual"
    assert len(queued) == 1
    assert analyst_client.get("/api/sentiment/sources/").json()  # still lists


@pytest.mark.django_db
def test_the_sources_page_adds_and_switches_a_sources_model(
    analyst_client: Any, source: Source, django_capture_on_commit_callbacks: Any
) -> None:
    added = analyst_client.post(
        reverse("sentiment:sources"),
        {
            "name": "新闻源",
            "kind": "rss",
            "url": "https://news.example.com/zh.xml",
            "language": "zh",
            "poll_interval_s": 900,
            "embedding_model": "multilingual",
        },
    )
    assert added.status_code == 302
    assert Source.objects.get(name="新闻源").embedding_model == "multilingual"

    switch = reverse("sentiment:source_embedding_model", args=[source.pk])
    refused = analyst_client.post(switch, {"embedding_model": "labse"}, follow=True)
    assert "unknown embedding model" in refused.content.decode()
    source.refresh_from_db()
    assert source.embedding_model == "minilm"

    with django_capture_on_commit_callbacks(execute=True):
        switched = analyst_client.post(switch, {"embedding_model": "multilingual"}, follow=True)
    page = switched.content.decode()
    assert "being tagged again" in page and 'value="multilingual" selected' in page
    source.refresh_from_db()
    assert source.embedding_model == "multilingual"


@pytest.mark.django_db
def test_the_real_multilingual_model_tags_a_chinese_headline_by_meaning(settings: Any) -> None:
    settings.SENTIMENT_TOPIC_TAGGER = "model"
    _caches_clear()
    headline = "航空公司将解雇两千名工人"  # "the airline will dismiss 2,000 workers"
    assert topics_tag(headline) == {}  # no Chinese keyword of any topic in it

    multilingual = topic_model.topics_model_tag([headline], embedding_model="multilingual")
    minilm = topic_model.topics_model_tag([headline], embedding_model="minilm")

    assert list(multilingual[0]) == ["layoffs"]
    assert minilm == [{}]
    _caches_clear()

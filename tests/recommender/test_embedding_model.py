"""The catalog's embedding model: a shop setting (admin, API, manage page), its own item index of
its own width, rebuilt when the model changes, and cross-lingual similar items with the real
multilingual model."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from apps.recommender import selectors, services
from apps.recommender.models import RecommenderSettings
from tests.recommender.factories import ItemFactory

from .helpers import api_as

pytestmark = pytest.mark.django_db


class MultilingualStandIn:
    """Hashed bag of words in 512 dims: the multilingual model's width, not MiniLM's."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.extend(texts)
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 512] += 1.0
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out


@pytest.fixture
def multilingual(monkeypatch: pytest.MonkeyPatch) -> MultilingualStandIn:
    from apps.mlops import vectors

    stand_in = MultilingualStandIn()
    monkeypatch.setattr(vectors, "model_embedder_get", lambda model: stand_in)
    return stand_in


def _ids(model: str) -> set[int]:
    return set(services.catalog_index(model).current().ids().tolist())


def test_a_new_embedding_model_rebuilds_the_item_vectors_in_its_own_index(
    catalog: dict[str, Any], multilingual: MultilingualStandIn, django_capture_on_commit_callbacks
) -> None:
    active = {item.pk for item in catalog.values()}
    assert _ids("minilm") == active and services.catalog_index("minilm").current().dim == 384

    with django_capture_on_commit_callbacks(execute=True):
        services.settings_update(values={"embedding_model": "multilingual"})

    index = services.catalog_index("multilingual").current()
    assert index.dim == 512 and _ids("multilingual") == active
    assert not _ids("minilm")  # the old model's vectors left its index
    assert len(multilingual.calls) == len(active)  # every item embedded by the new model
    snapshot = selectors.catalog_snapshot(fresh=True)
    assert snapshot.vectors.shape == (len(active), 512)
    assert np.allclose(np.linalg.norm(snapshot.vectors, axis=1), 1.0, atol=1e-5)


def test_items_saved_after_the_change_go_to_the_new_models_index(
    catalog: dict[str, Any], multilingual: MultilingualStandIn, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.settings_update(values={"embedding_model": "multilingual"})
    with django_capture_on_commit_callbacks(execute=True):
        item = services.item_save(
            data={
                "sku": "TENT-3",
                "title": "Storm tent",
                "category": "Outdoor",
                "price": "120.00",
                "description": "A tent for camping in rain.",
            }
        )

    assert item.pk in _ids("multilingual") and item.pk not in _ids("minilm")
    similar = selectors.recommendations_get(
        shopper=services.Shopper(visitor_id="v1"),
        context=f"item:{item.pk}",
        strategy="text",
        only_context=True,
        n=2,
    )
    assert {i.sku for i in similar.items} <= {"TENT-1", "TENT-2", "BAG-1", "PAD-1", "LAMP-1"}


def test_the_same_model_again_rebuilds_nothing(
    catalog: dict[str, Any], multilingual: MultilingualStandIn, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as queued:
        services.settings_update(values={"embedding_model": "minilm", "diversity": 0.3})

    assert not queued and not multilingual.calls
    assert _ids("minilm") == {item.pk for item in catalog.values()}


def test_the_api_sets_the_model_and_refuses_an_unknown_one(
    catalog: dict[str, Any], multilingual: MultilingualStandIn, merchandiser: Any
) -> None:
    api = api_as(merchandiser)

    bad = api.patch("/api/recommender/settings", {"embedding_model": "word2vec"}, format="json")
    assert bad.status_code == 400 and list(bad.json()) == ["embedding_model"]
    assert selectors.settings_get().embedding_model == "minilm"

    good = api.patch(
        "/api/recommender/settings", {"embedding_model": "multilingual"}, format="json"
    )
    assert good.status_code == 200 and good.json()["embedding_model"] == "multilingual"
    assert api.get("/api/recommender/settings").json()["embedding_model"] == "multilingual"


def test_the_manage_page_sets_the_model(
    catalog: dict[str, Any],
    multilingual: MultilingualStandIn,
    client: Any,
    merchandiser: Any,
    django_capture_on_commit_callbacks,
) -> None:
    client.force_login(merchandiser)
    page = client.get("/shop/manage/").content.decode()
    assert '<option value="minilm" selected>' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/shop/manage/",
            {
                "action": "settings",
                "category_cap": "0",
                "diversity": "0.2",
                "half_life": "3",
                "embedding_model": "multilingual",
            },
        )

    assert response.status_code == 302
    assert RecommenderSettings.objects.get(pk=1).embedding_model == "multilingual"
    assert _ids("multilingual") == {item.pk for item in catalog.values()}


@pytest.mark.slow
def test_an_english_item_finds_its_chinese_twin_with_the_real_multilingual_model(
    django_capture_on_commit_callbacks,
) -> None:
    from apps.mlops import vectors

    # The real Universal Sentence Encoder (the conftest replaces MiniLM only).
    assert vectors.model_embedder_get.__module__ == "apps.mlops.vectors"
    rows = [
        (
            "EN-TENT",
            "Ridge solo ultralight tent",
            "Outdoor",
            "A freestanding one-person tent that pitches in minutes, with a silicone-coated "
            "nylon rain fly; the whole pack weighs under a kilogram, made for long hikes.",
        ),
        (
            "ZH-TENT",
            "山脊单人轻量帐篷",
            "Outdoor",
            "自立式单人帐篷，几分钟即可搭好。双层防雨设计，外帐采用涂硅尼龙，整包重量不到一公斤，"
            "适合长距离徒步。",
        ),
        ("ZH-MUG", "搪瓷杯", "Kitchen", "结实的搪瓷杯，适合露营时煮咖啡，轻便耐摔。"),
        ("ZH-NOVEL", "灯塔推理小说", "Books", "一位侦探在海边灯塔里追查一桩多年前的失踪案。"),
        ("EN-KNIFE", "Chef's knife", "Kitchen", "A forged steel blade for slicing vegetables."),
        ("EN-LAMP", "Camp lantern", "Outdoor", "Lights up your campsite after dark."),
    ]
    items = {
        sku: ItemFactory(sku=sku, title=t, category=c, description=d, price=Decimal(20))
        for sku, t, c, d in rows
    }
    with django_capture_on_commit_callbacks(execute=True):
        services.settings_update(values={"embedding_model": "multilingual"})

    similar = selectors.recommendations_get(
        shopper=services.Shopper(visitor_id="reader"),
        context=f"item:{items['EN-TENT'].pk}",
        strategy="text",
        only_context=True,
        n=3,
    )
    reverse = selectors.recommendations_get(
        shopper=services.Shopper(visitor_id="reader"),
        context=f"item:{items['ZH-TENT'].pk}",
        strategy="text",
        only_context=True,
        n=3,
    )

    assert services.catalog_index("multilingual").current().dim == 512
    assert similar.items[0].sku == "ZH-TENT"
    assert reverse.items[0].sku == "EN-TENT"

"""The real MiniLM embedder and the real MovieLens-100k data (slow)."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from apps.recommender import selectors, services
from tests.conftest import SHARED_DATASETS
from tests.recommender.factories import ItemFactory

from .helpers import record


@pytest.mark.slow
@pytest.mark.django_db
def test_real_embeddings_bring_a_new_item_to_a_shopper_by_meaning(embedder, monkeypatch):
    monkeypatch.setattr("apps.mlops.vectors.texts_embed", lambda texts: embedder.embed(list(texts)))
    rows = [
        ("K1", "Chef's knife", "Kitchen", "A forged steel blade for slicing vegetables."),
        ("K2", "Cast iron skillet", "Kitchen", "Sears steak and bakes cornbread."),
        ("O1", "Backpacking tent", "Outdoor", "A two-person shelter for camping trips."),
        ("O2", "Down sleeping bag", "Outdoor", "Keeps you warm on cold nights under the stars."),
        ("B1", "Mystery novel", "Books", "A detective story set in a lighthouse."),
    ]
    items = [ItemFactory(sku=s, title=t, category=c, description=d) for s, t, c, d in rows]
    services.items_embed(item_ids=[i.pk for i in items])
    shopper = services.Shopper(visitor_id="camper")
    record(shopper, "view", items[2], 1)
    record(shopper, "view", items[3], 2)
    # No shared words with the tent or the bag: only the meaning connects them.
    lantern = ItemFactory(
        sku="O3",
        title="Camp lantern",
        category="Outdoor",
        description="Lights up your campsite after dark.",
        price=Decimal(25),
        stock=5,
    )
    services.items_embed(item_ids=[lantern.pk])

    result = selectors.recommendations_get(shopper=shopper, n=2)

    assert result.items[0].id == lantern.pk
    assert result.items[0].source == "text"


@pytest.mark.slow
@pytest.mark.django_db
def test_movielens_100k_random_split_beats_most_popular(embedder, monkeypatch):
    folder = SHARED_DATASETS / "movielens-100k"
    if not folder.is_dir():
        pytest.skip(f"MovieLens-100k not present at {folder} (shared datasets are optional)")
    monkeypatch.setattr("apps.mlops.vectors.texts_embed", lambda texts: embedder.embed(list(texts)))
    out = StringIO()

    call_command(
        "recommender_evaluate", "--movielens", str(folder), "--split", "random", stdout=out
    )

    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["ours"]["ndcg@10"] > 1.5 * summary["most_popular"]["ndcg@10"]
    assert summary["ours"]["coverage"] > summary["most_popular"]["coverage"]

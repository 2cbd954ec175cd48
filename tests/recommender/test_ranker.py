"""The trained recommender model: training, the promotion gate, serving the production version."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.recommender.models import Event
from apps.recommender.training import last_touch_order, training_sequences

from .factories import EventFactory, ItemFactory


@pytest.mark.django_db
def test_the_ranker_trains_is_promoted_and_a_worse_version_is_refused(
    django_capture_on_commit_callbacks,
):
    from apps.mlops.kinds import TrainingContext, kind_get
    from apps.mlops.models import ModelVersion
    from apps.mlops.services import model_version_promote, model_version_register
    from apps.recommender import selectors, services
    from apps.recommender.demo import demo_load
    from apps.recommender.models import Item
    from apps.recommender.training import ranker_train

    with django_capture_on_commit_callbacks(execute=True):
        demo_load(log=lambda _m: None, train=True)

    first = ModelVersion.objects.get(name="recommender-ranker", version=1)
    assert kind_get("recommender-ranker").main_metric == "ndcg@10"
    assert first.is_production
    assert {"ndcg@10", "hr@10", "recall@10", "coverage"} <= set(first.metrics)
    assert first.metrics["ndcg@10"] > first.metrics["most_popular_ndcg@10"]

    import tempfile
    from pathlib import Path

    outcome = ranker_train(
        TrainingContext(run_id=None, params={}, workdir=Path(tempfile.mkdtemp()))
    )
    from mlcore.recommend import RECENCY_GRID, RecommenderModel

    # The history's recency weighting is chosen on validation and kept with the version.
    assert outcome.metrics["recency"] in RECENCY_GRID
    assert RecommenderModel.load(outcome.artifact_dir).recency == outcome.metrics["recency"]
    outcome.metrics["ndcg@10"] = first.metrics["ndcg@10"] - 0.05  # a regression
    with django_capture_on_commit_callbacks(execute=True):
        worse = model_version_register(name="recommender-ranker", outcome=outcome)
        result = model_version_promote(name="recommender-ranker", version=worse.version)

    assert not result.promoted
    assert ModelVersion.objects.get(name="recommender-ranker", is_production=True).version == 1
    # The production model now serves "bought together" to a shopper with a tent in the cart.
    tent = services.Shopper(visitor_id="demo-shopper-0001")
    cart_item = Item.objects.get(sku="TH-0000")
    recs = selectors.recommendations_get(shopper=tent, context="cart", cart=[cart_item.pk], n=5)
    assert recs.model_version == 1
    assert any(r.source == "collaborative" for r in recs.items)


def test_held_out_items_are_the_last_distinct_ones_a_shopper_touched() -> None:
    # Item 7 was viewed first and bought last: it is the newest touch, not the oldest.
    seq = [(t, item_id, "view", 1.0) for t, item_id in enumerate([7, 3, 9, 3, 7])]

    assert last_touch_order(seq) == [9, 3, 7]
    assert last_touch_order([]) == []


@pytest.mark.django_db
def test_events_of_deleted_accounts_without_a_visitor_id_join_no_shoppers_history() -> None:
    tent, stove, lamp = ItemFactory(), ItemFactory(), ItemFactory()
    users = get_user_model()
    first, second = users.objects.create(username="first"), users.objects.create(username="second")
    imported = {"kind": Event.Kind.PURCHASE, "source": Event.Source.IMPORT}
    EventFactory(item=tent, user=first, **imported)
    EventFactory(item=stove, user=second, **imported)
    EventFactory(item=lamp, user=second, visitor_id="cookie-2")
    EventFactory(item=lamp, visitor_id="cookie-3")

    first.delete()
    second.delete()  # their events stay, for trending, with no account (on_delete SET_NULL)

    sequences = training_sequences({})
    # Two strangers' purchases would have been one pseudo-shopper's, "bought together".
    assert sorted(sequences) == ["vcookie-2", "vcookie-3"]
    assert [item for _, item, _, _ in sequences["vcookie-2"]] == [lamp.pk]

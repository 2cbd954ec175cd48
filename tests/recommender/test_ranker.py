"""The algorithms and the trained model: EASE, the ranker, training, the promotion gate."""

from __future__ import annotations

import numpy as np
import pytest

from apps.recommender.engine import collab_fit, ranker_fit


def test_ease_scores_items_bought_together_above_others():
    # Users 0-19 buy items 0-2 together, users 20-39 buy items 3-5 together.
    matrix = np.zeros((40, 6), dtype=np.float32)
    matrix[:20, :3] = 1
    matrix[20:, 3:] = 1
    model = collab_fit(matrix, list(range(100, 106)), l2=5.0)

    scores = model.scores({100: 1.0})

    assert scores[1] > scores[3] and scores[2] > scores[5]


def test_the_listwise_ranker_learns_which_feature_predicts_the_next_item():
    rng = np.random.default_rng(0)
    feats = rng.random((600, 6))
    groups = np.repeat(np.arange(60), 10)
    labels = np.zeros(600)
    for g in range(60):  # in each list, the item with the highest text feature is the one
        rows = np.arange(g * 10, g * 10 + 10)
        labels[rows[np.argmax(feats[rows, 2])]] = 1

    ranker = ranker_fit(feats, labels, groups)

    assert np.argmax(ranker.weights[1:]) == 2
    scores = ranker.score(feats)
    hits = sum(
        labels[np.arange(g * 10, g * 10 + 10)][np.argmax(scores[g * 10 : g * 10 + 10])]
        for g in range(60)
    )
    assert hits >= 55


@pytest.mark.django_db
def test_the_ranker_trains_is_promoted_and_a_worse_version_is_refused(
    django_capture_on_commit_callbacks,
):
    from apps.mlops.kinds import TrainingContext, kind_get
    from apps.mlops.models import ModelVersion
    from apps.mlops.services import model_version_promote, model_version_register
    from apps.recommender import selectors, services
    from apps.recommender.demo import demo_load
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
    outcome.metrics["ndcg@10"] = first.metrics["ndcg@10"] - 0.05  # a regression
    with django_capture_on_commit_callbacks(execute=True):
        worse = model_version_register(name="recommender-ranker", outcome=outcome)
        result = model_version_promote(name="recommender-ranker", version=worse.version)

    assert not result.promoted
    assert ModelVersion.objects.get(name="recommender-ranker", is_production=True).version == 1
    # The production model now serves "bought together" to a shopper with a tent in the cart.
    tent = services.Shopper(visitor_id="demo-shopper-0001")
    cart_item = selectors.Item.objects.get(sku="TH-0000")
    recs = selectors.recommendations_get(shopper=tent, context="cart", cart=[cart_item.pk], n=5)
    assert recs.model_version == 1
    assert any(r.source == "collaborative" for r in recs.items)

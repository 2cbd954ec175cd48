"""Recency-weighted histories: the last items a shopper touched weigh more (`aggregate`),
with the half-life a model version keeps in its meta."""

from __future__ import annotations

import numpy as np

from mlcore.recommend import (
    Catalog,
    HistoryEntry,
    Ranker,
    RecommenderModel,
    aggregate,
    collab_fit,
    recommend,
)


def _history(*item_ids: int) -> list[HistoryEntry]:
    """Newest first, as the selectors and the evaluation build it."""
    return [HistoryEntry(i, 1.0, "view") for i in item_ids]


def test_without_recency_every_item_weighs_the_same():
    weights = aggregate(_history(1, 2, 3, 4))

    assert weights == {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}


def test_recent_items_weigh_more_halving_every_half_life_of_distinct_items():
    history = _history(*range(1, 12))  # item 1 newest, item 11 ten distinct items older

    weights = aggregate(history, recency=10.0)

    assert weights[1] == 1.0
    assert np.isclose(weights[11], 0.5)
    assert all(weights[i] > weights[i + 1] for i in range(1, 11))


def test_repeated_touches_of_one_item_do_not_push_older_items_further_back():
    history = [
        HistoryEntry(7, 1.0, "view"),
        HistoryEntry(7, 2.0, "add_to_cart"),
        HistoryEntry(8, 1.0, "view"),
    ]

    weights = aggregate(history, recency=1.0)

    assert weights[7] == 3.0  # both touches at position 0
    assert weights[8] == 0.5  # one distinct item newer, not two events


def _two_taste_model(recency: float) -> tuple[Catalog, RecommenderModel]:
    # Shoppers 0-19 watch items 0-2 together, shoppers 20-39 items 3-5 together.
    ids = np.arange(100, 106)
    matrix = np.zeros((40, 6), dtype=np.float32)
    matrix[:20, :3] = 1
    matrix[20:, 3:] = 1
    model = RecommenderModel(
        collab=collab_fit(matrix, ids.tolist(), l2=5.0),
        ranker=Ranker.collaborative_only(),
        meta={"recency": recency},
    )
    n = len(ids)
    catalog = Catalog(
        ids=ids,
        vectors=np.eye(n, dtype=np.float32),
        titles=[str(i) for i in ids],
        category=np.array([""] * n),
        price=np.zeros(n),
        age_days=np.full(n, 365.0),
        available=np.ones(n, dtype=bool),
        boost=np.zeros(n),
        popularity=np.zeros(n),
    )
    return catalog, model


def test_a_model_with_recency_recommends_from_the_latest_taste_first():
    # Newest first: one item of the second taste, then two older ones of the first; without
    # recency the first taste has more items in the history and wins.
    history = _history(103, 100, 101)
    recent_catalog, recent_model = _two_taste_model(recency=1.0)
    flat_catalog, flat_model = _two_taste_model(recency=0.0)

    recent = recommend(catalog=recent_catalog, model=recent_model, history=history, n=2)
    flat = recommend(catalog=flat_catalog, model=flat_model, history=history, n=2)

    assert recent_model.recency == 1.0 and flat_model.recency == 0.0
    assert recent[0].item_id in (104, 105)  # goes with 103, the item touched last
    assert flat[0].item_id == 102  # goes with 100 and 101, two items against one


def test_the_recency_half_life_survives_save_and_load(tmp_path):
    _, model = _two_taste_model(recency=10.0)

    model.save(tmp_path / "model")

    assert RecommenderModel.load(tmp_path / "model").recency == 10.0

"""The listwise ranker."""

from __future__ import annotations

import numpy as np

from mlcore.recommend import ranker_fit


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

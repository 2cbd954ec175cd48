"""EASE, the collaborative item-to-item model."""

from __future__ import annotations

import numpy as np

from mlcore.recommend import collab_fit


def test_ease_scores_items_bought_together_above_others():
    # Users 0-19 buy items 0-2 together, users 20-39 buy items 3-5 together.
    matrix = np.zeros((40, 6), dtype=np.float32)
    matrix[:20, :3] = 1
    matrix[20:, 3:] = 1
    model = collab_fit(matrix, list(range(100, 106)), l2=5.0)

    scores = model.scores({100: 1.0})

    assert scores[1] > scores[3] and scores[2] > scores[5]

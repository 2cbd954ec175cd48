"""SASRec candidate (bench/recommender_sequential.py): causal, and never recommends seen items."""

from __future__ import annotations

import numpy as np
import torch

from bench.recommender_sequential import SASRec, recommend_all, train_batches


def test_a_position_never_sees_the_items_after_it():
    torch.manual_seed(0)
    model = SASRec(n_items=20, hidden=16, maxlen=6).eval()
    a = torch.tensor([[0, 3, 4, 5, 6, 7]])
    b = torch.tensor([[0, 3, 4, 9, 10, 11]])
    with torch.no_grad():
        ha, hb = model(a), model(b)
    assert torch.allclose(ha[0, :3], hb[0, :3], atol=1e-6)
    assert not torch.allclose(ha[0, 3], hb[0, 3], atol=1e-6)


def test_negatives_are_never_the_users_items_and_targets_are_the_next_item():
    seqs = {1: [1, 2, 3, 4], 2: [5, 6]}
    x, pos, neg = train_batches(seqs, n_items=8, maxlen=5, rng=np.random.default_rng(0))
    assert x[0].tolist() == [0, 0, 1, 2, 3]
    assert pos[0].tolist() == [0, 0, 2, 3, 4]
    assert all(n not in seqs[1] for n in neg[0] if n)
    assert (neg > 0).sum() == (pos > 0).sum()


def test_recommendations_leave_out_the_training_items():
    torch.manual_seed(0)
    model = SASRec(n_items=12, hidden=8, maxlen=5)
    item_ids = list(range(100, 112))
    seqs = {7: [1, 2, 3, 4, 5, 6, 7, 8]}
    recs = recommend_all(model, seqs, [7], item_ids, maxlen=5, k=4)
    assert sorted(recs[7]) == [108, 109, 110, 111]

"""SASRec (Kang & McAuley 2018) on MovieLens-100k's temporal split, as a candidate for issue 22.

    python -m bench recommender_sequential [--epochs 20,40,80] [--hidden 64] [--maxlen 200]

The split, the validation split carved from train and the metric are the product's
(`apps.recommender.movielens.split`, `mlcore.metrics.ranking_metrics`), so the numbers sit beside
`recommender_evaluate --split temporal`: full ranking over every item, the shopper's training
items excluded, NDCG@10 over the held-out latest 25% of each user's rows. The epoch budget is
chosen on validation (checkpoints of one run), then the model is retrained on all of train.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mlcore.metrics import ranking_metrics

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "datasets" / "movielens-100k"


class SASRec(nn.Module):
    """Item + position embeddings, causal self-attention blocks (pre-LayerNorm, as the paper's
    code), scores are dot products with the shared item embeddings. Index 0 is padding."""

    def __init__(
        self, n_items: int, hidden: int, maxlen: int, blocks: int = 2, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.positions = nn.Embedding(maxlen, hidden)
        self.drop = nn.Dropout(dropout)
        self.attn_norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(blocks)])
        self.attns = nn.ModuleList(
            [
                nn.MultiheadAttention(hidden, 1, dropout=dropout, batch_first=True)
                for _ in range(blocks)
            ]
        )
        self.ffn_norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(blocks)])
        self.ffns = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Linear(hidden, hidden),
                    nn.ReLU(),
                    nn.Dropout(dropout),
                    nn.Linear(hidden, hidden),
                    nn.Dropout(dropout),
                )
                for _ in range(blocks)
            ]
        )
        self.last_norm = nn.LayerNorm(hidden)
        self.hidden = hidden
        for name, param in self.named_parameters():
            if param.dim() > 1 and "norm" not in name:
                nn.init.xavier_normal_(param)  # as the paper's code; N(0, 1) logits explode

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        """(batch, maxlen) item indices, left-padded -> (batch, maxlen, hidden)."""
        length = seqs.shape[1]
        x = self.items(seqs) * self.hidden**0.5
        x = x + self.positions(torch.arange(length, device=seqs.device))[None]
        x = self.drop(x)
        keep = (seqs > 0).unsqueeze(-1).float()
        x = x * keep
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
        for norm, attn, ffn_norm, ffn in zip(
            self.attn_norms, self.attns, self.ffn_norms, self.ffns, strict=True
        ):
            q = norm(x)
            out, _ = attn(q, x, x, attn_mask=causal, need_weights=False)
            x = q + out
            x = ffn_norm(x)
            x = x + ffn(x)
            x = x * keep
        final: torch.Tensor = self.last_norm(x)
        return final


def sequences_of(rows: Sequence[Any], index: dict[int, int]) -> dict[int, list[int]]:
    """Each user's items in time order (ties by item id, as the split orders them)."""
    by_user: dict[int, list[Any]] = {}
    for row in rows:
        by_user.setdefault(row.user, []).append(row)
    return {
        u: [index[r.item] for r in sorted(rs, key=lambda r: (r.ts, r.item))]
        for u, rs in by_user.items()
    }


def _left_pad(items: Sequence[int], maxlen: int) -> list[int]:
    items = list(items)[-maxlen:]
    return [0] * (maxlen - len(items)) + items


def train_batches(
    seqs: dict[int, list[int]], n_items: int, maxlen: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, next-item positives and one sampled negative per position (not in the user's
    training items), for every user with at least two items."""
    inputs, pos, neg = [], [], []
    for items in seqs.values():
        if len(items) < 2:
            continue
        seen = set(items)
        x = _left_pad(items[:-1], maxlen)
        y = _left_pad(items[1:], maxlen)
        n = [0] * maxlen
        for j, target in enumerate(y):
            if target:
                while (cand := int(rng.integers(1, n_items + 1))) in seen:
                    pass
                n[j] = cand
        inputs.append(x)
        pos.append(y)
        neg.append(n)
    return np.asarray(inputs), np.asarray(pos), np.asarray(neg)


def epoch_run(
    model: SASRec,
    optim: torch.optim.Optimizer,
    seqs: dict[int, list[int]],
    n_items: int,
    maxlen: int,
    rng: np.random.Generator,
    batch: int = 128,
) -> float:
    model.train()
    inputs, pos, neg = train_batches(seqs, n_items, maxlen, rng)
    order = rng.permutation(len(inputs))
    bce = nn.BCEWithLogitsLoss()
    total = 0.0
    for start in range(0, len(order), batch):
        pick = order[start : start + batch]
        x, p, n = (torch.from_numpy(a[pick]) for a in (inputs, pos, neg))
        h = model(x)
        pos_logit = (h * model.items(p)).sum(-1)
        neg_logit = (h * model.items(n)).sum(-1)
        mask = p > 0
        loss = bce(pos_logit[mask], torch.ones_like(pos_logit[mask])) + bce(
            neg_logit[mask], torch.zeros_like(neg_logit[mask])
        )
        optim.zero_grad()
        loss.backward()
        optim.step()
        total += float(loss.detach()) * len(pick)
    return total / max(len(order), 1)


@torch.no_grad()
def recommend_all(
    model: SASRec,
    seqs: dict[int, list[int]],
    users: Sequence[int],
    item_ids: Sequence[int],
    maxlen: int,
    k: int = 10,
) -> dict[int, list[int]]:
    """Top-k over every item from the last position, the user's training items excluded."""
    model.eval()
    out: dict[int, list[int]] = {}
    catalog = model.items.weight[1:]
    for start in range(0, len(users), 256):
        chunk = list(users[start : start + 256])
        x = torch.tensor([_left_pad(seqs.get(u, []), maxlen) for u in chunk])
        scores = model(x)[:, -1] @ catalog.T
        for row, user in enumerate(chunk):
            seen = [i - 1 for i in seqs.get(user, [])]
            scores[row, seen] = -torch.inf
        top = torch.topk(scores, k, dim=1).indices.numpy()
        for row, user in enumerate(chunk):
            out[user] = [int(item_ids[j]) for j in top[row]]
    return out


def fit_and_score(
    train: Sequence[Any],
    held_out: Sequence[Any],
    item_ids: Sequence[int],
    *,
    epochs: Sequence[int],
    hidden: int,
    maxlen: int,
    seed: int,
    k: int = 10,
    log: Any = print,
) -> dict[int, dict[str, float]]:
    """Train once for max(epochs); NDCG@k etc. on `held_out` after each epoch count listed."""
    # setup: the product's relevance sets; the apps import needs django.setup() first
    from apps.recommender.movielens import relevant_of

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    index = {item: j + 1 for j, item in enumerate(item_ids)}
    seqs = sequences_of(train, index)
    relevant = relevant_of(held_out)
    users = sorted(relevant)
    model = SASRec(len(item_ids), hidden, maxlen)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    scores: dict[int, dict[str, float]] = {}
    for epoch in range(1, max(epochs) + 1):
        loss = epoch_run(model, optim, seqs, len(item_ids), maxlen, rng)
        if epoch in epochs:
            recs = recommend_all(model, seqs, users, item_ids, maxlen, k)
            scores[epoch] = ranking_metrics(recs, relevant, k=k, n_items=len(item_ids))
            log(f"  epoch {epoch}: loss {loss:.4f}, ndcg@{k} {scores[epoch][f'ndcg@{k}']:.4f}")
    return scores


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench recommender_sequential")
    parser.add_argument("--epochs", default="10,20,30,40,50", help="checkpoints, comma-separated")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--maxlen", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv or [])
    if not args.dataset.is_dir():
        return {
            "title": "Recommender: SASRec on the temporal split (issue 22)",
            "results": {"skipped": f"MovieLens-100k not found at {args.dataset}"},
        }
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # setup: the apps can be imported only after django.setup()
    import django

    django.setup()
    # setup: the product's split and loader, importable only after django.setup()
    from apps.recommender.movielens import dataset_load, split

    torch.set_num_threads(args.threads)
    epochs = sorted(int(e) for e in args.epochs.split(","))
    started = time.monotonic()
    rows, texts = dataset_load(args.dataset)
    train, test = split(rows, "temporal", seed=args.seed)
    fit_part, val_part = split(train, "temporal", seed=args.seed + 1)
    item_ids = sorted({r.item for r in rows} | set(texts))
    print(f"validation: fit {len(fit_part)}, held out {len(val_part)}")
    val = fit_and_score(
        fit_part,
        val_part,
        item_ids,
        epochs=epochs,
        hidden=args.hidden,
        maxlen=args.maxlen,
        seed=args.seed,
    )
    best = max(epochs, key=lambda e: val[e]["ndcg@10"])
    val_seconds = time.monotonic() - started
    print(f"test: train {len(train)}, held out {len(test)}, {best} epochs (best on validation)")
    test_scores = fit_and_score(
        train, test, item_ids, epochs=[best], hidden=args.hidden, maxlen=args.maxlen, seed=args.seed
    )[best]
    results = {
        "split": "temporal",
        "hidden": args.hidden,
        "maxlen": args.maxlen,
        "blocks": 2,
        "torch_threads": args.threads,
        "validation_ndcg@10": {e: round(val[e]["ndcg@10"], 4) for e in epochs},
        "epochs_chosen": best,
        "test": {m: round(v, 4) for m, v in test_scores.items()},
        "validation_seconds": round(val_seconds, 1),
        "load_average": os.getloadavg(),
    }
    return {
        "title": "Recommender: SASRec on the temporal split (issue 22)",
        "results": results,
        "notes": (
            "SASRec, 2 blocks, 1 head, dropout 0.2, BCE with one sampled negative per position, "
            "Adam 1e-3, batch 128; product split and metric (training items excluded, full "
            "ranking). Epochs chosen on the validation split carved from train."
        ),
    }

"""The recommender's algorithms in plain numpy: no Django, so the evaluation command, the
benchmark and the web process all run exactly the same code.

Pipeline: candidates (collaborative EASE neighbours, text similarity to the user's profile
embedding, trending) -> features -> a logistic-regression ranker trained on logged behaviour ->
business rules (availability, exclusions, boosts, diversity) -> reasons.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = ("collab", "collab_rank", "text", "popularity", "recency", "price_fit")
STRATEGIES = ("ranker", "collaborative", "text", "popular")
VERBS = {
    "view": "viewed",
    "click": "viewed",
    "add_to_cart": "added",
    "purchase": "bought",
    "rating": "rated",
    "share": "shared",
    "context": "are looking at",
    "cart": "have in your cart",
}


# -- collaborative model ---------------------------------------------------------------------------
@dataclass
class CollabModel:
    """Item-to-item weights: EASE (closed form) for catalogs that fit, top-k co-occurrence above.

    Stored either dense (n x n) or as the top `keep` neighbours of every item.
    """

    item_ids: np.ndarray
    dense: np.ndarray | None = None
    nbr_idx: np.ndarray | None = None
    nbr_val: np.ndarray | None = None
    row: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row = {int(i): n for n, i in enumerate(self.item_ids.tolist())}

    @classmethod
    def empty(cls) -> CollabModel:
        return cls(item_ids=np.zeros(0, dtype=np.int64), dense=np.zeros((0, 0), np.float32))

    def __len__(self) -> int:
        return len(self.item_ids)

    def scores(self, history: dict[int, float]) -> np.ndarray:
        """Scores of every item in `item_ids` for a weighted history {item_id: weight}."""
        rows = [(self.row[i], w) for i, w in history.items() if i in self.row]
        out = np.zeros(len(self.item_ids), dtype=np.float32)
        if not rows:
            return out
        idx = np.array([r for r, _ in rows])
        weights = np.array([w for _, w in rows], dtype=np.float32)
        if self.dense is not None:
            dense_scores: np.ndarray = weights @ self.dense[idx]
            return dense_scores
        assert self.nbr_idx is not None and self.nbr_val is not None
        np.add.at(out, self.nbr_idx[idx].ravel(), (self.nbr_val[idx] * weights[:, None]).ravel())
        return out

    def pair(self, source: int, target: int) -> float:
        a, b = self.row.get(source), self.row.get(target)
        if a is None or b is None:
            return 0.0
        if self.dense is not None:
            return float(self.dense[a, b])
        assert self.nbr_idx is not None and self.nbr_val is not None
        hit = np.nonzero(self.nbr_idx[a] == b)[0]
        return float(self.nbr_val[a, hit[0]]) if len(hit) else 0.0

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"item_ids": self.item_ids}
        if self.dense is not None:
            arrays["dense"] = self.dense
        else:
            assert self.nbr_idx is not None and self.nbr_val is not None
            arrays["nbr_idx"], arrays["nbr_val"] = self.nbr_idx, self.nbr_val
        np.savez(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> CollabModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                item_ids=data["item_ids"].astype(np.int64),
                dense=data.get("dense", None),
                nbr_idx=data.get("nbr_idx", None),
                nbr_val=data.get("nbr_val", None),
            )


def interaction_matrix(
    rows: Iterable[tuple[Any, int, float]], item_ids: Sequence[int]
) -> tuple[np.ndarray, list[Any]]:
    """A dense user x item matrix from (user, item, weight) triples (weights summed, capped at 1
    per item after scaling so one shopper's repeated views do not dominate)."""
    col = {int(i): n for n, i in enumerate(item_ids)}
    users: dict[Any, int] = {}
    triples = []
    for user, item, weight in rows:
        if int(item) in col:
            triples.append((users.setdefault(user, len(users)), col[int(item)], weight))
    matrix = np.zeros((len(users), len(item_ids)), dtype=np.float32)
    for u, i, w in triples:
        matrix[u, i] += w
    np.minimum(matrix, 1.0, out=matrix)
    return matrix, list(users)


def ease_fit(matrix: np.ndarray, l2: float = 500.0) -> np.ndarray:
    """EASE (Steck 2019): B = I - P / diag(P) with P = (X'X + l2 I)^-1, zero diagonal."""
    x = matrix.astype(np.float64)
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += l2
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32)


def collab_fit(
    matrix: np.ndarray,
    item_ids: Sequence[int],
    *,
    l2: float = 500.0,
    keep: int = 100,
    dense_max: int = 4000,
) -> CollabModel:
    """EASE when the catalog is small enough for its n x n inverse, cosine co-occurrence above;
    rows are pruned to the `keep` strongest neighbours unless the whole matrix is kept."""
    ids = np.asarray(item_ids, dtype=np.int64)
    n = len(ids)
    if n == 0:
        return CollabModel.empty()
    if n <= dense_max:
        weights = ease_fit(matrix, l2)
    else:
        counts = np.sqrt(np.maximum((matrix > 0).sum(axis=0), 1)).astype(np.float32)
        weights = (matrix.T @ matrix) / counts[:, None] / counts[None, :]
        np.fill_diagonal(weights, 0.0)
    if keep >= n:
        return CollabModel(item_ids=ids, dense=weights)
    idx = np.argpartition(-weights, keep, axis=1)[:, :keep]
    vals = np.take_along_axis(weights, idx, axis=1)
    return CollabModel(item_ids=ids, nbr_idx=idx.astype(np.int32), nbr_val=vals.astype(np.float32))


# -- ranker ----------------------------------------------------------------------------------------
@dataclass
class Ranker:
    """Logistic regression over FEATURES, standardised; `weights[0]` is the intercept."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def default(cls) -> Ranker:
        # Before any model is trained: mostly collaborative, then text, then popularity.
        return cls(
            mean=np.zeros(len(FEATURES)),
            std=np.ones(len(FEATURES)),
            weights=np.array([0.0, 3.0, 1.0, 2.0, 1.0, 0.3, 0.3]),
        )

    @classmethod
    def collaborative_only(cls) -> Ranker:
        """Orders by the collaborative score alone; the fallback when a learned ranker loses."""
        weights = np.zeros(len(FEATURES) + 1)
        weights[1] = 1.0
        return cls(
            mean=np.zeros(len(FEATURES)),
            std=np.ones(len(FEATURES)),
            weights=weights,
            params={"selected": "collaborative_only"},
        )

    def score(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.std
        return np.asarray(self.weights[0] + z @ self.weights[1:], dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "weights": self.weights.tolist(),
            "params": self.params,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ranker:
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"ranker trained on features {data['features']}, expected {FEATURES}")
        return cls(
            mean=np.array(data["mean"]),
            std=np.array(data["std"]),
            weights=np.array(data["weights"]),
            params=data.get("params", {}),
        )


def ranker_fit(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    l2: float = 1.0,
    iters: int = 30,
) -> Ranker:
    """Fit the ranker by Newton's method (a handful of features: exact and fast).

    With `groups` (one id per row, rows of a group contiguous) it is listwise: a softmax over
    each user's candidates, so it learns to order one user's candidates rather than to
    separate users who click a lot from those who do not. Without, plain logistic regression.
    """
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std[std < 1e-4] = 1.0  # constant features (e.g. every item equally old) stay inert
    z = np.hstack([np.ones((len(features), 1)), (features - mean) / std])
    y = labels.astype(np.float64)
    w = np.zeros(z.shape[1])
    reg = np.eye(z.shape[1]) * l2
    reg[0, 0] = 0.0
    if groups is not None:
        starts = np.r_[0, np.nonzero(np.diff(groups))[0] + 1]
        sizes = np.diff(np.r_[starts, len(groups)])
        n_pos = np.add.reduceat(y, starts)
        reg[0, 0] = 1.0  # the intercept does not change an order; keep it at zero
    for _ in range(iters):
        s = z @ w
        if groups is None:
            p = 1.0 / (1.0 + np.exp(-np.clip(s, -30, 30)))
            grad = z.T @ (p - y) + reg @ w
            hess = (z * (p * (1 - p))[:, None]).T @ z
        else:
            s = s - np.repeat(np.maximum.reduceat(s, starts), sizes)
            e = np.exp(s)
            p = e / np.repeat(np.add.reduceat(e, starts), sizes)
            mu = np.add.reduceat(z * p[:, None], starts)
            weight = p * np.repeat(n_pos, sizes)
            grad = (np.repeat(n_pos, sizes) * p - y) @ z + reg @ w
            hess = (z * weight[:, None]).T @ z - (mu * n_pos[:, None]).T @ mu
        step = np.linalg.solve(hess + reg + np.eye(len(w)) * 1e-6, grad)
        step = np.clip(step, -2.0, 2.0)  # damped Newton: no wild first steps
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return Ranker(mean=mean, std=std, weights=w)


# -- the model a version holds --------------------------------------------------------------------
@dataclass
class RecommenderModel:
    """What a "recommender-ranker" version holds: the collaborative weights and the ranker."""

    collab: CollabModel
    ranker: Ranker
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.collab.save(folder / "collab.npz")
        (folder / "ranker.json").write_text(
            json.dumps({**self.ranker.to_json(), "meta": self.meta}, indent=2)
        )

    @classmethod
    def load(cls, folder: Path) -> RecommenderModel:
        data = json.loads((Path(folder) / "ranker.json").read_text())
        return cls(
            collab=CollabModel.load(Path(folder) / "collab.npz"),
            ranker=Ranker.from_json(data),
            meta=data.get("meta", {}),
        )


# -- catalog snapshot ------------------------------------------------------------------------------
@dataclass
class Catalog:
    """The sellable state the ranker needs, aligned arrays over every active item."""

    ids: np.ndarray
    vectors: np.ndarray
    titles: list[str]
    category: np.ndarray
    price: np.ndarray
    age_days: np.ndarray
    available: np.ndarray
    boost: np.ndarray
    popularity: np.ndarray
    row: dict[int, int] = field(default_factory=dict)
    trending_order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.row = {int(i): n for n, i in enumerate(self.ids.tolist())}
        order = np.argsort(-self.popularity, kind="stable")
        self.trending_order = order[self.available[order]]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class HistoryEntry:
    item_id: int
    weight: float
    kind: str


@dataclass(frozen=True)
class Recommendation:
    item_id: int
    score: float
    reason: str
    source: str


@dataclass(frozen=True)
class Rules:
    exclude: frozenset[int] = frozenset()
    diversity: float = 0.0  # 0 = pure relevance; 0.3 trades some relevance for variety (MMR)
    category_cap: int = 0  # 0 = no cap
    strategy: str = "ranker"
    rebuy: frozenset[int] = frozenset()  # history items that may be shown again (consumables)


def aggregate(history: Sequence[HistoryEntry]) -> dict[int, float]:
    out: dict[int, float] = {}
    for entry in history:
        out[entry.item_id] = out.get(entry.item_id, 0.0) + entry.weight
    return out


def profile_vector(catalog: Catalog, weights: dict[int, float]) -> np.ndarray | None:
    """The user's interests: the weighted mean of the vectors of items in their history."""
    rows = [(catalog.row[i], w) for i, w in weights.items() if i in catalog.row and w > 0]
    if not rows:
        return None
    vec = np.asarray([w for _, w in rows], dtype=np.float32) @ catalog.vectors[[r for r, _ in rows]]
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else None


def candidate_features(
    catalog: Catalog,
    model: RecommenderModel,
    weights: dict[int, float],
    profile: np.ndarray | None,
    candidates: np.ndarray,
    collab_scores: np.ndarray | None,
) -> np.ndarray:
    """The (len(candidates), len(FEATURES)) feature matrix; `candidates` are catalog rows."""
    out = np.zeros((len(candidates), len(FEATURES)), dtype=np.float64)
    if len(candidates) == 0:
        return out
    if collab_scores is not None and len(model.collab):
        positions = np.array(
            [model.collab.row.get(int(catalog.ids[r]), -1) for r in candidates], dtype=np.int64
        )
        known = positions >= 0
        values = np.zeros(len(candidates))
        values[known] = collab_scores[positions[known]]
        out[:, 0] = values
        ranks = np.empty(len(values))
        ranks[np.argsort(-values, kind="stable")] = np.arange(len(values))
        out[:, 1] = np.where(values > 0, 1.0 / np.log2(ranks + 2), 0.0)
    if profile is not None:
        out[:, 2] = catalog.vectors[candidates] @ profile
    top_pop = float(catalog.popularity.max()) if len(catalog) else 0.0
    if top_pop > 0:
        out[:, 3] = np.log1p(catalog.popularity[candidates]) / math.log1p(top_pop)
    out[:, 4] = np.exp(-catalog.age_days[candidates] / 30.0)
    rows = [catalog.row[i] for i in weights if i in catalog.row]
    if rows:
        mean_price = float(np.mean(catalog.price[rows]))
        out[:, 5] = -np.abs(np.log((catalog.price[candidates] + 1) / (mean_price + 1)))
    return out


def candidates_generate(
    catalog: Catalog,
    model: RecommenderModel,
    weights: dict[int, float],
    profile: np.ndarray | None,
    text_hits: Sequence[int],
    per_source: int,
    rules: Rules,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Catalog rows of candidates from every source, and the collaborative scores if any."""
    blocked = (set(weights) - set(rules.rebuy)) | set(rules.exclude)
    found: list[int] = []
    collab_scores = None
    if weights and len(model.collab):
        collab_scores = model.collab.scores(weights)
        take = min(per_source + len(blocked), len(collab_scores))
        top: np.ndarray | list[int] = (
            np.argpartition(-collab_scores, take - 1)[:take] if take else []
        )
        found.extend(int(model.collab.item_ids[i]) for i in top if collab_scores[i] > 0)
    found.extend(text_hits)
    trending = catalog.ids[catalog.trending_order[: per_source + len(blocked)]]
    found.extend(trending.tolist())
    rows = []
    seen: set[int] = set()
    for item_id in found:
        if item_id in seen or item_id in blocked:
            continue
        seen.add(item_id)
        row = catalog.row.get(item_id)
        if row is not None and catalog.available[row]:
            rows.append(row)
    return np.array(rows, dtype=np.int64), collab_scores


def recommend(
    *,
    catalog: Catalog,
    model: RecommenderModel,
    history: Sequence[HistoryEntry],
    n: int = 10,
    rules: Rules = Rules(),
    text_search: Any = None,
    per_source: int = 100,
) -> list[Recommendation]:
    """Top-n recommendations for one history (most recent first; a context item comes first).

    `text_search(vector, k) -> list[int]` finds items near the profile (the FAISS index);
    without it the catalog vectors are searched directly.
    """
    weights = aggregate(history)
    profile = profile_vector(catalog, weights)
    text_hits: list[int] = []
    if profile is not None and rules.strategy in ("ranker", "text"):
        k = per_source + len(weights)
        if text_search is not None:
            text_hits = list(text_search(profile, k))
        else:
            sims = catalog.vectors @ profile
            text_hits = catalog.ids[np.argsort(-sims)[:k]].tolist()
    rows, collab_scores = candidates_generate(
        catalog, model, weights, profile, text_hits, per_source, rules
    )
    if len(rows) == 0:
        return []
    feats = candidate_features(catalog, model, weights, profile, rows, collab_scores)
    if rules.strategy == "collaborative":
        scores = feats[:, 0] * 10 + feats[:, 3] * 0.01
    elif rules.strategy == "text":
        scores = feats[:, 2] * 10 + feats[:, 3] * 0.01
    elif rules.strategy == "popular":
        scores = feats[:, 3]
    else:
        scores = model.ranker.score(feats)
    scores = scores + catalog.boost[rows]
    chosen = _select(catalog, rows, scores, n, rules)
    return [
        Recommendation(
            item_id=int(catalog.ids[rows[j]]),
            score=float(scores[j]),
            **_reason(catalog, model, history, rows[j], feats[j], rules.strategy),
        )
        for j in chosen
    ]


def _select(
    catalog: Catalog, rows: np.ndarray, scores: np.ndarray, n: int, rules: Rules
) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    if rules.diversity <= 0 and rules.category_cap <= 0:
        top_n: list[int] = order[:n].tolist()
        return top_n
    # MMR over the best few candidates: relevance minus similarity to what is already chosen.
    pool = order[: max(n * 5, 50)].tolist()
    spread = float(scores[pool].max() - scores[pool].min()) or 1.0
    relevance = (scores - scores[pool].min()) / spread
    vectors = catalog.vectors[rows]
    chosen: list[int] = []
    per_category: dict[str, int] = {}
    max_sim = np.zeros(len(rows))
    while pool and len(chosen) < n:
        best, best_value = None, -math.inf
        for j in pool:
            cat = str(catalog.category[rows[j]])
            if rules.category_cap and per_category.get(cat, 0) >= rules.category_cap:
                continue
            value = (1 - rules.diversity) * relevance[j] - rules.diversity * max_sim[j]
            if value > best_value:
                best, best_value = j, value
        if best is None:
            break
        chosen.append(best)
        pool.remove(best)
        cat = str(catalog.category[rows[best]])
        per_category[cat] = per_category.get(cat, 0) + 1
        max_sim = np.maximum(max_sim, vectors @ vectors[best])
    return chosen


def _reason(
    catalog: Catalog,
    model: RecommenderModel,
    history: Sequence[HistoryEntry],
    row: int,
    feats: np.ndarray,
    strategy: str,
) -> dict[str, str]:
    item_id = int(catalog.ids[row])
    known = [h for h in history[:20] if h.item_id in catalog.row]
    if strategy == "popular" or not known:
        if catalog.age_days[row] < 14 and catalog.popularity[row] <= 0:
            return {"reason": "New arrival", "source": "new"}
        return {"reason": "Trending now", "source": "trending"}
    if feats[0] >= 0.25 and strategy != "text":
        anchor = max(known, key=lambda h: model.collab.pair(h.item_id, item_id) * (h.weight or 1))
        title = catalog.titles[catalog.row[anchor.item_id]]
        if anchor.kind in ("purchase", "add_to_cart", "cart"):
            return {"reason": f"Often bought with {title}", "source": "collaborative"}
        return {"reason": f"Shoppers who viewed {title} also liked this", "source": "collaborative"}
    if feats[2] > 0.3:
        vec = catalog.vectors[row]
        anchor = max(known, key=lambda h: float(catalog.vectors[catalog.row[h.item_id]] @ vec))
        title = catalog.titles[catalog.row[anchor.item_id]]
        verb = VERBS.get(anchor.kind, "viewed")
        if anchor.kind == "context":
            return {"reason": f"Similar to {title}", "source": "text"}
        if anchor.kind in ("cart", "add_to_cart"):
            return {"reason": f"Goes with {title} in your cart", "source": "text"}
        return {"reason": f"Because you {verb} {title}", "source": "text"}
    if catalog.age_days[row] < 14:
        return {"reason": "New arrival", "source": "new"}
    return {"reason": "Trending now", "source": "trending"}


# -- training and evaluation ----------------------------------------------------------------------
def training_samples(
    catalog: Catalog,
    model: RecommenderModel,
    histories: dict[Any, list[HistoryEntry]],
    targets: dict[Any, set[int]],
    *,
    negatives: int = 1000,
    per_source: int = 50,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, groups) for the ranker: each user's next items among their candidates
    are the positives, a sample of the other candidates the negatives."""
    rng = np.random.default_rng(seed)
    feats, labels, groups = [], [], []
    for number, (user, target) in enumerate(targets.items()):
        history = histories.get(user, [])
        weights = aggregate(history)
        profile = profile_vector(catalog, weights)
        text_hits: list[int] = []
        if profile is not None:
            sims = catalog.vectors @ profile
            text_hits = catalog.ids[np.argsort(-sims)[: per_source + len(weights)]].tolist()
        rows, collab_scores = candidates_generate(
            catalog, model, weights, profile, text_hits, per_source, Rules()
        )
        if len(rows) == 0:
            continue
        f = candidate_features(catalog, model, weights, profile, rows, collab_scores)
        is_pos = np.array([int(catalog.ids[r]) in target for r in rows])
        if not is_pos.any():
            continue
        neg = np.nonzero(~is_pos)[0]
        if len(neg) > negatives:
            neg = rng.choice(neg, negatives, replace=False)
        pick = np.concatenate([np.nonzero(is_pos)[0], neg])
        feats.append(f[pick])
        labels.append(is_pos[pick].astype(np.float64))
        groups.append(np.full(len(pick), number))
    if not feats:
        return np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.vstack(feats), np.concatenate(labels), np.concatenate(groups)


def evaluate(
    catalog: Catalog,
    model: RecommenderModel,
    histories: dict[Any, list[HistoryEntry]],
    relevant: dict[Any, set[int]],
    *,
    k: int = 10,
    strategy: str = "ranker",
) -> tuple[dict[str, float], dict[Any, list[int]]]:
    """Ranking metrics of the pipeline on held-out items (seen items excluded)."""
    from mlcore.metrics import ranking_metrics

    recommended: dict[Any, list[int]] = {}
    for user, rel in relevant.items():
        if not rel:
            continue
        recs = recommend(
            catalog=catalog,
            model=model,
            history=histories.get(user, []),
            n=k,
            rules=Rules(strategy=strategy),
        )
        recommended[user] = [r.item_id for r in recs]
    return ranking_metrics(recommended, relevant, k=k, n_items=len(catalog)), recommended

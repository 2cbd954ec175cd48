"""The learned ranker: a (listwise) logistic regression over a handful of candidate features."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

FEATURES = ("collab", "collab_rank", "text", "popularity", "recency", "price_fit")


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

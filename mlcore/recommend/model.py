"""The model a "recommender-ranker" version holds, and its files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ease import CollabModel
from .ranking import Ranker


@dataclass
class RecommenderModel:
    """What a "recommender-ranker" version holds: the collaborative weights and the ranker."""

    collab: CollabModel
    ranker: Ranker
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def recency(self) -> float:
        """The history's recency half-life in distinct items (`aggregate`); 0 = off. Chosen on
        validation when the version is trained and kept in its meta."""
        return float(self.meta.get("recency", 0.0) or 0.0)

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

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hit:
    """One search result: the caller's id and a similarity score (higher is closer)."""

    id: int
    score: float


@dataclass(frozen=True)
class Prediction:
    """A classifier's answer for one text: the top label and the probability of every label."""

    label: str
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return self.scores.get(self.label, 0.0)

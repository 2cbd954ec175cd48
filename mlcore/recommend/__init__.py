"""The recommender's algorithms in plain numpy: no Django, so the evaluation command, the
benchmark and the web process all run exactly the same code.

Modules import one way: ease, ranking -> model -> pipeline -> evaluation.
"""

from .ease import CollabModel, collab_fit, ease_fit, interaction_matrix
from .evaluation import evaluate, training_samples
from .model import RecommenderModel
from .pipeline import (
    RECENCY_GRID,
    STRATEGIES,
    Catalog,
    HistoryEntry,
    Recommendation,
    Rules,
    aggregate,
    candidate_features,
    candidates_generate,
    profile_vector,
    recommend,
)
from .ranking import FEATURES, Ranker, ranker_fit

__all__ = [
    "FEATURES",
    "RECENCY_GRID",
    "STRATEGIES",
    "Catalog",
    "CollabModel",
    "HistoryEntry",
    "Ranker",
    "Recommendation",
    "RecommenderModel",
    "Rules",
    "aggregate",
    "candidate_features",
    "candidates_generate",
    "collab_fit",
    "ease_fit",
    "evaluate",
    "interaction_matrix",
    "profile_vector",
    "ranker_fit",
    "recommend",
    "training_samples",
]

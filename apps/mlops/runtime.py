"""What mlops offers its sibling apps: their one way in, besides `services` and `selectors`.

The support, sentiment and recommender apps register their model kinds here, load and time
the serving models, embed texts and keep named vector indices. They import nothing else of
mlops (`lint-imports` holds them to it), so mlops may rearrange its insides freely.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import vectors
from .adaptation import AdaptedBase as AdaptedBase
from .adaptation import adapted_base_kinds as adapted_base_kinds
from .adaptation import fine_tune_score as fine_tune_score
from .adapted_bases import adapted_base_name as adapted_base_name
from .adapted_bases import adapted_base_path as adapted_base_path
from .adapted_bases import adapted_base_version as adapted_base_version
from .adapted_bases import adapted_base_version_path as adapted_base_version_path
from .adapted_bases import production_params as production_params
from .batching import rows_batched as rows_batched
from .corpora import corpus_choices as corpus_choices
from .corpora import corpus_paths as corpus_paths
from .kinds import MAX_STEPS_SPEC, ModelKind, ParamSpec, TrainingContext, TrainOutcome
from .kinds import kind_get as kind_get
from .kinds import kind_register as kind_register
from .monitoring import inference_timer as inference_timer
from .params import ParamsInvalid as ParamsInvalid
from .params import params_validate as params_validate
from .vectors import NamedIndex
from .waiting import ModelsBusy as ModelsBusy
from .waiting import model_request_admit as model_request_admit

__all__ = [
    "EMBEDDING_DIMS",
    "EMBEDDING_MODELS",
    "EMBEDDING_MODEL_CHOICES",
    "MAX_STEPS_SPEC",
    "AdaptedBase",
    "ModelKind",
    "ModelsBusy",
    "NamedIndex",
    "ParamSpec",
    "ParamsInvalid",
    "TrainOutcome",
    "TrainingContext",
    "adapted_base_kinds",
    "adapted_base_name",
    "adapted_base_path",
    "adapted_base_version",
    "adapted_base_version_path",
    "corpus_choices",
    "corpus_paths",
    "fine_tune_score",
    "folder_texts_embed",
    "index_name",
    "inference_timer",
    "kind_get",
    "kind_register",
    "model_request_admit",
    "named_index",
    "params_validate",
    "production_params",
    "rows_batched",
    "texts_embed",
]


EMBEDDING_MODELS = {
    "minilm": "MiniLM (English)",
    "multilingual": "Universal Sentence Encoder multilingual (Chinese, mixed, cross-lingual)",
}
EMBEDDING_DIMS = {"minilm": 384, "multilingual": 512}
# The choices of the apps' embedding_model fields: one list, so the API schema has one enum.
EMBEDDING_MODEL_CHOICES = [
    ("minilm", "MiniLM (English)"),
    ("multilingual", "Multilingual (USE v3)"),
]


def texts_embed(texts: Sequence[str], model: str = "minilm") -> np.ndarray:
    """Unit float32 vectors of `texts` from the production embedder (one per text), or from the
    named embedding model (EMBEDDING_MODELS): vectors of different models never share an index."""
    # Looked up at call time, so a test (or a serving switch) that replaces the embedding
    # function in `vectors` reaches every caller.
    if model == "minilm":
        return vectors.texts_embed(texts)
    if model not in EMBEDDING_MODELS:
        raise ValueError(f"unknown embedding model {model!r}: one of {', '.join(EMBEDDING_MODELS)}")
    return vectors.model_texts_embed(texts, model)


def folder_texts_embed(texts: Sequence[str], folder: Path) -> np.ndarray:
    """Unit float32 vectors of `texts` from the encoder in `folder` (e.g. an adapted base's)."""
    return vectors.folder_texts_embed(texts, folder)  # looked up at call time, as above


def index_name(name: str, model: str = "minilm") -> str:
    """The index of `name` for vectors of `model` (MiniLM keeps the plain name)."""
    return name if model == "minilm" else f"{name}--{model}"


def named_index(name: str, dim: int = 384) -> NamedIndex:
    """The process's vector index called `name` (loaded from ML_INDEX_DIR, created if new)."""
    return vectors.named_index(name, dim)
